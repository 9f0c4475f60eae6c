"""Sandbox faults that outlast the adapter's retries in the middle of a pull. (Short bursts that
the retries absorb, malformed order payloads and expired credentials are covered where the
pipeline is: tests/channels/test_pipeline.py and test_adapters_sandbox.py; docs/faults.md
lists them all.) After each: the pages before the fault are kept, the run shows failed with
the platform's reason, the high-water mark did not move past what is missing, the next pull
catches up, and no order or reservation is doubled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channels import services
from channels.adapters.base import get_adapter
from channels.models import PullRun, Shop
from orders.models import Order
from tests.channels.conftest import ACCOUNT_KEYS, SleepRecorder
from tests.channels.test_pipeline import make_shop, pull
from tests.faults.conftest import assert_books_balance

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["http500", "http429", "throttle", "timeout", "malformed"])
def test_a_fault_burst_beyond_the_retries_mid_pull_fails_visibly_and_the_next_pull_catches_up(kind, tenant,
                                                                                                  sandbox):
    now = sandbox.state.now()
    shop = make_shop(tenant, sandbox, "taobao")
    mark = now - timedelta(hours=1)
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=mark)
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 50, seed=17, status="paid",
                                        start=now - timedelta(minutes=50), end=now - timedelta(minutes=10))
    sandbox.state.retry_after = 0
    sandbox.state.timeout_delay = 0.05
    max_attempts = get_adapter(shop).max_attempts
    # two order-list calls are served; then every attempt at the third one fails
    sandbox.state.hold_list_call("taobao", after=2, timeout=0,
                                 then=lambda: sandbox.state.inject("taobao", kind, count=max_attempts))
    adapter = get_adapter(Shop.objects.get(pk=shop.pk), sleep=SleepRecorder())
    adapter.page_size = 20
    run = services.shop_pull(tenant_id=tenant.pk, shop_id=shop.pk, now=now, adapter=adapter)

    assert sandbox.state.pending_faults("taobao") == []  # every injected failure was met
    assert run.status == PullRun.Status.FAILED and run.error, "the run must show failed with a reason"
    shop.refresh_from_db()
    assert shop.last_pull_error == run.error
    assert mark <= shop.high_water_mark < run.window_end  # not past the slice that did not finish
    assert not shop.pull_lock_token
    landed = Order.objects.filter(shop=shop).count()
    assert 0 < landed == run.created < len(ids)  # the pages before the burst are kept
    assert_books_balance(tenant.pk)

    sandbox.state.gates.clear()
    run = pull(shop, sandbox, now + timedelta(minutes=1))
    assert run.status == PullRun.Status.OK, run.error
    assert run.created == len(ids) - landed
    assert sorted(Order.objects.filter(shop=shop).values_list("platform_order_id", flat=True)) == sorted(ids)
    shop.refresh_from_db()
    assert shop.last_pull_error == ""
    assert_books_balance(tenant.pk)
