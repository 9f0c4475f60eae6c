"""A real Celery worker SIGKILLed mid-pull (no shutdown, no acknowledgement): nothing lost or
doubled, the stuck run detected by the reaper, and the next pull through a fresh worker
catches up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels import services as channel_services
from channels.models import PullRun, Shop
from orders.models import Order
from tests.channels.conftest import ACCOUNT_KEYS
from tests.channels.test_pipeline import make_shop
from tests.faults.conftest import assert_books_balance

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_a_worker_killed_mid_pull_leaves_a_run_the_reaper_fails_and_the_next_pull_catches_up(workers, tenant,
                                                                                               sandbox):
    now = sandbox.state.now()
    shop = make_shop(tenant, sandbox, "taobao")
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=2))
    # spread over the 30-minute slices Taobao allows: the first two slices' calls are answered,
    # the third is held while the worker is killed
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 60, seed=31, status="paid",
                                        start=now - timedelta(minutes=115), end=now - timedelta(minutes=10))
    gate = sandbox.state.hold_list_call("taobao", after=2)
    worker = workers()
    worker.send("channels.tasks.pull_shop", tenant.pk, shop.pk)
    try:
        assert gate.wait_reached(60), f"the pull never made its third order-list call; worker log:\n{worker.tail()}"
        worker.kill()
    finally:
        gate.release()

    # what a dead worker leaves: a run saying "running", the shop still locked
    run = PullRun.objects.get(shop=shop)
    assert run.status == PullRun.Status.RUNNING
    shop.refresh_from_db()
    assert shop.pull_lock_until and shop.pull_lock_until > timezone.now()
    landed = Order.objects.filter(shop=shop).count()
    assert 0 < landed < len(ids)
    assert_books_balance(tenant.pk)
    # detected: not while the lock is alive, and as soon as it has expired
    assert channel_services.pull_runs_reap() == []
    assert channel_services.pull_runs_reap(now=shop.pull_lock_until + timedelta(seconds=1)) == [run.pk]
    run.refresh_from_db()
    assert run.status == PullRun.Status.FAILED and "拉单中断" in run.error
    shop.refresh_from_db()
    assert shop.last_pull_error == run.error and shop.pull_lock_until is None

    # the next pull, in a fresh worker, catches up from the high-water mark
    result = workers().send("channels.tasks.pull_shop", tenant.pk, shop.pk).get(timeout=60)
    assert result["status"] == "ok" and result["created"] == len(ids) - landed, result
    assert sorted(Order.objects.filter(shop=shop).values_list("platform_order_id", flat=True)) == sorted(ids)
    shop.refresh_from_db()
    assert shop.last_pull_error == ""
    assert_books_balance(tenant.pk)
