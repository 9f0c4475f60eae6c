"""Races for the last units on real PostgreSQL: threads with their own connections."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F, Sum

from inventory import services as stock
from inventory.models import StockLevel, StockMovement
from orders import services
from orders.canonical import CanonicalLine
from orders.models import Hold, Order
from tests import factories
from tests.factories import canonical

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_threads(n, target, items):
    errors = []
    chunks = [items[i::n] for i in range(n)]
    barrier = threading.Barrier(n)

    def work(chunk):
        try:
            barrier.wait()
            for item in chunk:
                target(item)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def assert_levels_equal_ledger():
    for lv in StockLevel.objects.all():
        agg = StockMovement.objects.filter(warehouse=lv.warehouse, sku=lv.sku).aggregate(
            oh=Sum("on_hand_delta"), rs=Sum("reserved_delta"))
        assert (lv.on_hand, lv.reserved) == (agg["oh"] or 0, agg["rs"] or 0)
    assert not StockLevel.objects.filter(on_hand__lt=F("reserved")).exists()
    assert stock.stock_reconcile() == []


def test_eight_threads_200_orders_50_in_stock(tenant):
    wh1 = factories.WarehouseFactory(tenant=tenant, priority=1)
    wh2 = factories.WarehouseFactory(tenant=tenant, priority=2)
    sku = factories.SkuFactory(tenant=tenant, code="HOT")
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh1.pk, sku_id=sku.pk, quantity=30)
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh2.pk, sku_id=sku.pk, quantity=20)
    shop = factories.ShopFactory(tenant=tenant)
    orders = [canonical(f"HOT-{i}", lines=[CanonicalLine("1", 1, Decimal("9.9"), outer_sku_id="HOT")])
              for i in range(200)]

    run_threads(8, lambda c: services.order_ingest(tenant=tenant, shop=shop, canonical=c), orders)

    assert Order.objects.count() == 200
    assert StockLevel.objects.aggregate(r=Sum("reserved"))["r"] == 50
    assert Order.objects.filter(status="approved").count() == 50
    assert Order.objects.filter(status="on_hold").count() == 150
    assert Hold.objects.filter(reason="out_of_stock", resolved_at=None).count() == 150
    assert_levels_equal_ledger()


def test_the_same_order_ingested_by_racing_workers_is_created_once(tenant):
    wh = factories.WarehouseFactory(tenant=tenant)
    sku = factories.SkuFactory(tenant=tenant, code="SKU-A")
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=10)
    shop = factories.ShopFactory(tenant=tenant)
    c = canonical("DUP-1", lines=[CanonicalLine("1", 3, Decimal("1"), outer_sku_id="SKU-A")])
    run_threads(8, lambda c: services.order_ingest(tenant=tenant, shop=shop, canonical=c), [c] * 8)
    assert Order.objects.count() == 1
    assert StockLevel.objects.get().reserved == 3
    assert_levels_equal_ledger()


def test_opposite_sku_orders_do_not_deadlock(tenant):
    wh = factories.WarehouseFactory(tenant=tenant)
    a = factories.SkuFactory(tenant=tenant, code="A")
    b = factories.SkuFactory(tenant=tenant, code="B")
    for sku in (a, b):
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=1000)
    shop = factories.ShopFactory(tenant=tenant)
    orders = []
    for i in range(120):
        first, second = ("A", "B") if i % 2 else ("B", "A")
        orders.append(canonical(f"X-{i}", lines=[CanonicalLine("1", 1, Decimal("1"), outer_sku_id=first),
                                                 CanonicalLine("2", 1, Decimal("1"), outer_sku_id=second)]))
    run_threads(8, lambda c: services.order_ingest(tenant=tenant, shop=shop, canonical=c), orders)
    assert StockLevel.objects.get(sku=a).reserved == 120
    assert StockLevel.objects.get(sku=b).reserved == 120
    assert_levels_equal_ledger()
