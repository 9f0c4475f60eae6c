"""Redis restarted under a working system: a PRIVATE redis-server (never the machine's) is the
worker's broker, result store and cache; it is SIGKILLed while a pull is between two pages and
started again on the same port and data folder (append-only file, as production should run it)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channels.models import PullRun, Shop
from orders.models import Order
from tests.channels.conftest import ACCOUNT_KEYS
from tests.channels.test_pipeline import make_shop
from tests.faults.conftest import RedisServer, assert_books_balance, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_killed_mid_pull_loses_no_order_and_work_resumes_after_the_restart(workers, private_redis,
                                                                                         tenant, sandbox):
    now = sandbox.state.now()
    shop = make_shop(tenant, sandbox, "taobao")
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=2))
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 60, seed=41, status="paid",
                                        start=now - timedelta(minutes=115), end=now - timedelta(minutes=10))
    gate = sandbox.state.hold_list_call("taobao", after=2)
    worker = workers(redis_url=private_redis.url)
    worker.send("channels.tasks.pull_shop", tenant.pk, shop.pk)
    try:
        assert gate.wait_reached(60), f"the pull never made its third order-list call; log:\n{worker.tail()}"
        private_redis.kill()  # broker, results and cache gone at once
    finally:
        gate.release()

    # the pull itself needs only the platform and PostgreSQL: it finishes and is recorded
    wait_for(lambda: PullRun.objects.filter(shop=shop, finished_at__isnull=False).exists(), timeout=60,
             what=f"the pull to finish while Redis is down; worker log:\n{worker.tail()}")
    run = PullRun.objects.get(shop=shop)
    assert run.status == PullRun.Status.OK, run.error
    assert sorted(Order.objects.filter(shop=shop).values_list("platform_order_id", flat=True)) == sorted(ids)
    assert_books_balance(tenant.pk)

    private_redis.start()  # same port, same data folder
    # kombu's Redis transport does not always survive losing the broker while it holds
    # unacknowledged messages ("Unrecoverable error" while restoring them, the consumer stops):
    # workers run under a supervisor that restarts them (docs/faults.md). Do what it does.
    worker.stop()
    worker = workers(redis_url=private_redis.url)
    # the next pull (with new orders) runs through the restarted worker
    later = sandbox.state.now()
    newer = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 5, seed=42, status="paid",
                                          start=later - timedelta(minutes=2), end=later - timedelta(minutes=1))
    result = worker.send("channels.tasks.pull_shop", tenant.pk, shop.pk).get(timeout=60)
    assert result["status"] == "ok" and result["created"] == len(newer), result
    assert Order.objects.filter(shop=shop).count() == len(ids) + len(newer)
    assert_books_balance(tenant.pk)
