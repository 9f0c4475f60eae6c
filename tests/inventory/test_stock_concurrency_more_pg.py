"""Receive / count / adjust / write-off / reserve / transfer racing on real PostgreSQL, each
thread with its own connection. At the end: levels == ledger sums, nothing negative, one alert."""

import random
import threading

import pytest
from django.db.models import Sum

from inventory import services
from inventory.models import LowStockAlert, StockLevel, TransferOrder
from oms import signals
from tests import factories
from tests.inventory.helpers import assert_levels_equal_ledger
from tests.inventory.test_concurrency_pg import run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_interleaved_receive_count_adjust_write_off_and_reserve(tenant):
    wh1 = factories.WarehouseFactory(tenant=tenant, priority=1)
    wh2 = factories.WarehouseFactory(tenant=tenant, priority=2)
    a = factories.SkuFactory(tenant=tenant, code="A")
    b = factories.SkuFactory(tenant=tenant, code="B")
    for wh in (wh1, wh2):
        for sku in (a, b):
            services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=20)
    rnd = random.Random(7)
    ops = []
    for i in range(400):
        wh, sku = rnd.choice([wh1, wh2]), rnd.choice([a, b])
        ops.append((rnd.choice(["receive", "count", "adjust", "write_off", "reserve", "reserve", "release"]),
                    wh.pk, sku.pk, rnd.randint(1, 6), i))
    refused = []
    lock = threading.Lock()

    def op(item):
        kind, wid, sid, qty, i = item
        try:
            if kind == "receive":
                services.stock_receive(tenant_id=tenant.pk, warehouse_id=wid, sku_id=sid, quantity=qty)
            elif kind == "count":
                services.stock_count(tenant_id=tenant.pk, warehouse_id=wid, sku_id=sid, counted=qty * 3)
            elif kind == "adjust":
                services.stock_adjust(tenant_id=tenant.pk, warehouse_id=wid, sku_id=sid, delta=-qty)
            elif kind == "write_off":
                services.stock_write_off(tenant_id=tenant.pk, warehouse_id=wid, sku_id=sid, quantity=qty, reason="破损")
            elif kind == "reserve":
                services.stock_reserve_order(tenant_id=tenant.pk, order_id=i,
                                             lines=[{"line_id": 1, "sku_id": sid, "quantity": qty}])
            else:
                services.stock_release_order(tenant_id=tenant.pk, order_id=i - 1)
        except services.StockError:
            with lock:
                refused.append(kind)  # e.g. a count below reserved: refused, nothing written

    run_threads(8, op, ops)
    assert set(refused) <= {"count", "adjust", "write_off"}
    assert_levels_equal_ledger()
    assert StockLevel.objects.aggregate(s=Sum("reserved"))["s"] > 0


def test_racing_orders_across_a_reorder_point_raise_exactly_one_alert(tenant):
    wh = factories.WarehouseFactory(tenant=tenant)
    sku = factories.SkuFactory(tenant=tenant, code="HOT")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=60)
    services.reorder_point_set(tenant_id=tenant.pk, sku_id=sku.pk, warehouse_id=wh.pk, reorder_point=20)
    sent = []
    signals.low_stock_alert_raised.connect(lambda sender, **kw: sent.append(kw["alert_id"]), weak=False,
                                           dispatch_uid="test.pg.alert")
    try:
        run_threads(8, lambda i: services.stock_reserve_order(
            tenant_id=tenant.pk, order_id=i, lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 1}]), list(range(50)))
    finally:
        signals.low_stock_alert_raised.disconnect(dispatch_uid="test.pg.alert")
    assert StockLevel.objects.get().available == 10
    alert = LowStockAlert.objects.get()
    assert alert.cleared_at is None
    assert sent == [alert.pk]
    assert_levels_equal_ledger()


def test_a_transfer_and_orders_racing_for_the_last_units_never_oversell(tenant):
    src = factories.WarehouseFactory(tenant=tenant, priority=1)
    dst = factories.WarehouseFactory(tenant=tenant, priority=2, active=False)  # orders cannot take from dst
    sku = factories.SkuFactory(tenant=tenant, code="LAST")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=src.pk, sku_id=sku.pk, quantity=30)
    transfers = [services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=dst.pk,
                                          lines={sku.pk: 10}) for _ in range(3)]
    items = [("ship", t.pk) for t in transfers] + [("order", i) for i in range(20)]
    random.Random(3).shuffle(items)

    def op(item):
        kind, ident = item
        if kind == "ship":
            try:
                services.transfer_ship(tenant_id=tenant.pk, transfer_id=ident)
            except services.TransferError:
                pass
        else:
            services.stock_reserve_order(tenant_id=tenant.pk, order_id=ident,
                                         lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 1}])

    run_threads(8, op, items)
    level = StockLevel.objects.get(warehouse=src)
    shipped = TransferOrder.objects.filter(status="shipped").count()
    assert level.on_hand == 30 - 10 * shipped
    assert level.reserved <= level.on_hand
    assert_levels_equal_ledger()


def test_two_suggestion_runs_at_once_make_one_suggestion(tenant):
    hz = factories.WarehouseFactory(tenant=tenant, priority=1, regions=["浙江省"])
    gz = factories.WarehouseFactory(tenant=tenant, priority=2)
    sku = factories.SkuFactory(tenant=tenant)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=hz.pk, sku_id=sku.pk, quantity=7)
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=1, lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 7}])
    services.stock_consume_order(tenant_id=tenant.pk, order_id=1)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=gz.pk, sku_id=sku.pk, quantity=40)
    run_threads(4, lambda _i: services.transfer_suggest(tenant_id=tenant.pk), list(range(8)))
    t = TransferOrder.objects.get()
    assert dict(t.lines.values_list("sku_id", "quantity")) == {sku.pk: 7}
