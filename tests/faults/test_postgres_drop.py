"""PostgreSQL connection dropped mid-pull: another connection terminates the pulling
connection's backend (pg_terminate_backend) while the pull waits for its next page."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from channels import services
from channels.models import PullRun, Shop
from orders.models import Order
from tests.channels.conftest import ACCOUNT_KEYS
from tests.channels.test_pipeline import make_shop, pull
from tests.faults.conftest import assert_books_balance

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_pull_whose_database_connection_is_dropped_between_pages_fails_visibly_and_the_next_catches_up(
        tenant, sandbox):
    now = sandbox.state.now()
    shop = make_shop(tenant, sandbox, "taobao")
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 50, seed=23, status="paid",
                                        start=now - timedelta(minutes=50), end=now - timedelta(minutes=10))
    gate = sandbox.state.hold_list_call("taobao", after=2)
    out: dict = {}

    def pulling():
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                out["pid"] = cur.fetchone()[0]
            out["run"] = pull(shop, sandbox, now)
        except Exception as exc:  # noqa: BLE001  (asserted below)
            out["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=pulling)
    thread.start()
    try:
        assert gate.wait_reached(60), "the pull never asked for its third page"
        with connection.cursor() as cur:  # from another connection, as a DBA or a failover would
            cur.execute("SELECT pg_terminate_backend(%s, 10000)", [out["pid"]])
            assert cur.fetchone()[0], "the pulling connection was not terminated"
    finally:
        gate.release()
        thread.join(60)
    assert not thread.is_alive(), "the pull did not return after losing its connection"
    assert "error" not in out, f"the pull raised instead of recording the failure: {out.get('error')!r}"

    # visible to ops: the run (read back from the database) failed with the reason
    run = PullRun.objects.get(pk=out["run"].pk)
    assert run.status == PullRun.Status.FAILED and run.finished_at
    assert "数据库连接中断" in run.error
    shop.refresh_from_db()
    assert shop.last_pull_error == run.error
    assert not shop.pull_lock_token and shop.pull_lock_until is None  # released: the next pull may start
    assert shop.high_water_mark < run.window_end
    landed = Order.objects.filter(shop=shop).count()
    assert 0 < landed < len(ids)
    assert services.pull_runs_reap() == []  # nothing left "running"
    assert_books_balance(tenant.pk)

    run = pull(shop, sandbox, now + timedelta(minutes=1))
    assert run.status == PullRun.Status.OK, run.error
    assert run.created == len(ids) - landed
    assert sorted(Order.objects.filter(shop=shop).values_list("platform_order_id", flat=True)) == sorted(ids)
    assert_books_balance(tenant.pk)


def test_a_run_left_running_when_the_database_stayed_away_is_marked_failed_once_its_lock_expires(tenant, sandbox):
    """When even recording the failure is impossible (the database stays away until the worker
    gives up), the run says "running" and the lock is still taken: the reaper marks the run
    failed after the lock's expiry and frees the shop for the next pull."""
    shop = make_shop(tenant, sandbox, "taobao")
    token = services.shop_lock_acquire(shop_id=shop.pk)
    run = PullRun.objects.create(tenant=tenant, shop=shop)  # what a pull leaves behind when it cannot record
    assert services.pull_runs_reap() == []  # the lock is alive: the pull may still be working
    later = timezone.now() + services.LOCK_TTL + timedelta(seconds=1)
    assert services.pull_runs_reap(now=later) == [run.pk]
    run.refresh_from_db()
    assert run.status == PullRun.Status.FAILED and "拉单中断" in run.error
    shop.refresh_from_db()
    assert shop.last_pull_error == run.error and shop.pull_lock_token != token and shop.pull_lock_until is None
    assert services.pull_runs_reap(now=later) == []
