"""Low-stock alerts: one per threshold crossing, cleared when stock is back above the point."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory import selectors, services
from inventory.models import LowStockAlert, StockMovement
from oms import signals
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def raised():
    sent = []

    def rec(sender, **kw):
        sent.append(kw)

    signals.low_stock_alert_raised.connect(rec, dispatch_uid="test.low_stock")
    yield sent
    signals.low_stock_alert_raised.disconnect(dispatch_uid="test.low_stock")


@pytest.fixture
def setup(tenant, django_capture_on_commit_callbacks):
    """(In these tests every stock change runs its on-commit callbacks, as a real commit would.)"""
    wh = factories.WarehouseFactory(tenant=tenant, name="杭州仓")
    sku = factories.SkuFactory(tenant=tenant, code="MUG")
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=10)
    return wh, sku


def reserve(tenant, sku, order_id, qty=1):
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=order_id,
                                 lines=[{"line_id": order_id, "sku_id": sku.pk, "quantity": qty}])


def test_many_orders_crossing_the_point_raise_one_alert_then_restock_clears_it_and_a_new_fall_raises_again(
        tenant, setup, raised, django_capture_on_commit_callbacks):
    wh, sku = setup
    services.reorder_point_set(tenant_id=tenant.pk, sku_id=sku.pk, warehouse_id=wh.pk, reorder_point=5)
    assert not LowStockAlert.objects.exists()  # 10 > 5

    for order_id in range(1, 9):  # available 9, 8, ... 2: crosses 5 at the fifth order
        with django_capture_on_commit_callbacks(execute=True):
            reserve(tenant, sku, order_id)
    alert = LowStockAlert.objects.get()
    assert (alert.available, alert.reorder_point, alert.warehouse_id, alert.cleared_at) == (5, 5, wh.pk, None)
    assert raised == [{"signal": signals.low_stock_alert_raised, "tenant_id": tenant.pk, "alert_id": alert.pk,
                       "sku_id": sku.pk, "warehouse_id": wh.pk, "available": 5, "reorder_point": 5}]

    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=2)  # 4: still low
    assert LowStockAlert.objects.filter(cleared_at=None).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=20)  # 24
    alert.refresh_from_db()
    assert alert.cleared_at is not None and alert.available_at_clear == 24
    assert len(raised) == 1

    with django_capture_on_commit_callbacks(execute=True):
        reserve(tenant, sku, 100, qty=20)  # 4 again
    assert LowStockAlert.objects.count() == 2
    new = LowStockAlert.objects.get(cleared_at=None)
    assert new.available == 4
    assert [r["alert_id"] for r in raised] == [alert.pk, new.pk]


def test_the_overall_point_counts_every_warehouse(tenant, setup, raised, django_capture_on_commit_callbacks):
    wh, sku = setup
    wh2 = factories.WarehouseFactory(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh2.pk, sku_id=sku.pk, quantity=3)
    services.reorder_point_set(tenant_id=tenant.pk, sku_id=sku.pk, warehouse_id=None, reorder_point=12)
    assert not LowStockAlert.objects.exists()  # 13 > 12
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_write_off(tenant_id=tenant.pk, warehouse_id=wh2.pk, sku_id=sku.pk, quantity=1, reason="破损")
    alert = LowStockAlert.objects.get()
    assert (alert.warehouse_id, alert.available) == (None, 12)
    assert raised[0]["warehouse_id"] is None


def test_setting_a_point_above_stock_raises_and_removing_it_clears(tenant, setup, raised,
                                                                    django_capture_on_commit_callbacks):
    wh, sku = setup
    with django_capture_on_commit_callbacks(execute=True):
        rp = services.reorder_point_set(tenant_id=tenant.pk, sku_id=sku.pk, warehouse_id=wh.pk, reorder_point=10)
    assert LowStockAlert.objects.filter(cleared_at=None).count() == 1
    assert len(raised) == 1
    # the same value again: nothing happens
    with django_capture_on_commit_callbacks(execute=True):
        services.reorder_point_set(tenant_id=tenant.pk, sku_id=sku.pk, warehouse_id=wh.pk, reorder_point=10)
    assert LowStockAlert.objects.count() == 1 and len(raised) == 1
    services.reorder_point_delete(tenant_id=tenant.pk, reorder_point_id=rp.pk)
    assert not LowStockAlert.objects.filter(cleared_at=None).exists()


def test_the_database_allows_one_open_alert_per_sku_and_warehouse(tenant, setup):
    wh, sku = setup
    LowStockAlert.objects.create(tenant=tenant, sku=sku, warehouse=wh, reorder_point=5, available=1)
    LowStockAlert.objects.create(tenant=tenant, sku=sku, warehouse=None, reorder_point=5, available=1)
    for warehouse in (wh, None):
        with pytest.raises(IntegrityError), transaction.atomic():
            LowStockAlert.objects.create(tenant=tenant, sku=sku, warehouse=warehouse, reorder_point=5, available=1)
    LowStockAlert.objects.update(cleared_at=timezone.now())
    LowStockAlert.objects.create(tenant=tenant, sku=sku, warehouse=wh, reorder_point=5, available=1)


def test_days_of_cover_come_from_the_last_30_days_of_shipments(tenant, setup):
    wh, sku = setup
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=50)  # 60
    reserve(tenant, sku, 1, qty=30)
    services.stock_consume_order(tenant_id=tenant.pk, order_id=1)  # 30 shipped -> 1 a day
    reserve(tenant, sku, 2, qty=10)
    services.stock_consume_order(tenant_id=tenant.pk, order_id=2)
    old = StockMovement.objects.filter(kind="ship", reference="order:2")
    old.update(created_at=timezone.now() - timedelta(days=40))  # outside the window
    services.reorder_point_set(tenant_id=tenant.pk, sku_id=sku.pk, warehouse_id=wh.pk, reorder_point=25)
    [row] = selectors.low_stock_rows(tenant_id=tenant.pk)
    assert row.available == 20
    assert row.shipped_30d == 30
    assert str(row.days_of_cover) == "20.0"
