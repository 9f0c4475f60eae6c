"""Scheduling and pushing through a REAL Celery worker (Redis broker, PostgreSQL test DB)."""

import time
from datetime import timedelta

import pytest

from channels import services, tasks
from channels.models import Listing, PullRun, Shop
from inventory import services as stock
from orders.models import Order
from tests import factories
from tests.channels.conftest import ACCOUNT_KEYS, CREDENTIALS
from tests.channels.test_pipeline import make_shop
from tests.helpers import clear_cache

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def wait_for(predicate, timeout=60.0, interval=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def test_beat_dispatch_pulls_due_shops_in_the_worker(celery_worker_process, tenant, sandbox):
    now = sandbox.state.now()
    shop = make_shop(tenant, sandbox, "taobao")
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 25, seed=21, status="paid",
                                        start=now - timedelta(minutes=50), end=now - timedelta(minutes=10))
    assert tasks.dispatch_due_pulls.delay().get(timeout=60) == 1
    assert wait_for(lambda: PullRun.objects.filter(shop=shop, finished_at__isnull=False).exists())
    run = PullRun.objects.get(shop=shop)
    assert (run.status, run.created) == ("ok", 25), run.error
    assert set(Order.objects.values_list("platform_order_id", flat=True)) == set(ids)
    # the reservations changed stock: the worker pushed availability back to the platform
    assert wait_for(lambda: len(sandbox.state.pushes) >= 1)


def test_a_burst_of_1000_changes_on_one_sku_gives_a_handful_of_pushes_ending_with_the_final_value(
        celery_worker_process, tenant, sandbox):
    clear_cache()
    wh = factories.WarehouseFactory(tenant=tenant)
    sku = factories.SkuFactory(tenant=tenant, code="TS-001-RED-M")
    shop = factories.ShopFactory(tenant=tenant, platform="taobao", credentials=dict(CREDENTIALS["taobao"]),
                                 api_base_url=f"{sandbox.url}/taobao")
    Listing.objects.create(tenant=tenant, shop=shop, sku=sku, platform_item_id="600123450001",
                           platform_sku_id="4800123450011")
    started = time.monotonic()
    for _ in range(1000):  # each its own transaction: stock_changed fires 1,000 times
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=1)
    burst_seconds = time.monotonic() - started
    assert wait_for(lambda: sandbox.state.pushes and sandbox.state.pushes[-1]["quantity"] == 1000, timeout=60)
    time.sleep(2)  # nothing else arrives afterwards
    quantities = [p["quantity"] for p in sandbox.state.pushes]
    assert quantities[-1] == 1000
    # coalesced: at most one push per debounce interval (1 s) while the burst lasts, plus the tail,
    # however slow this machine made the burst -- never one push per change
    assert len(quantities) <= burst_seconds / services.PUSH_DEBOUNCE_SECONDS + 3, (burst_seconds, quantities)
    assert len(quantities) < 100
    assert quantities == sorted(quantities)  # absolute values, converging
