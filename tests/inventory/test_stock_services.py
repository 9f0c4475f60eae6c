"""Receive, count (盘点), adjust and write off (报损): every change has its ledger row."""

import pytest

from inventory import services
from inventory.models import MovementKind, StockMovement, StockWriteOff
from tests import factories
from tests.inventory.helpers import assert_levels_equal_ledger, level

pytestmark = pytest.mark.django_db


@pytest.fixture
def wh(tenant):
    return factories.WarehouseFactory(tenant=tenant, code="HZ", name="杭州仓")


@pytest.fixture
def sku(tenant):
    return factories.SkuFactory(tenant=tenant, code="TEE-M")


def test_receive_raises_on_hand_and_writes_a_receive_row(tenant, wh, sku):
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=40, reference="PO-1")
    assert level(wh, sku).on_hand == 40
    row = StockMovement.objects.get()
    assert (row.kind, row.on_hand_delta, row.reference) == (MovementKind.RECEIVE, 40, "PO-1")


def test_count_sets_the_counted_quantity_through_one_adjust_row(tenant, wh, sku):
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=40)
    lv = services.stock_count(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, counted=37, reference="盘点-1")
    assert lv.on_hand == 37
    adj = StockMovement.objects.get(kind=MovementKind.ADJUST)
    assert adj.on_hand_delta == -3
    # counting the same figure again changes nothing and writes nothing
    services.stock_count(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, counted=37)
    assert StockMovement.objects.filter(kind=MovementKind.ADJUST).count() == 1
    # counting up works too, and creates the level when missing
    wh2 = factories.WarehouseFactory(tenant=tenant)
    services.stock_count(tenant_id=tenant.pk, warehouse_id=wh2.pk, sku_id=sku.pk, counted=5)
    assert level(wh2, sku).on_hand == 5
    assert_levels_equal_ledger()


def test_count_below_reserved_is_refused_and_writes_nothing(tenant, wh, sku):
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=10)
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=1, lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 6}])
    with pytest.raises(services.StockError):
        services.stock_count(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, counted=5)
    with pytest.raises(services.StockError):
        services.stock_count(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, counted=-1)
    assert (level(wh, sku).on_hand, level(wh, sku).reserved) == (10, 6)
    assert not StockMovement.objects.filter(kind=MovementKind.ADJUST).exists()
    services.stock_count(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, counted=6)
    assert level(wh, sku).available == 0
    assert_levels_equal_ledger()


def test_another_tenants_warehouse_or_sku_is_refused(tenant, other_tenant, wh, sku):
    theirs = factories.WarehouseFactory(tenant=other_tenant)
    their_sku = factories.SkuFactory(tenant=other_tenant)
    with pytest.raises(services.StockError):
        services.stock_count(tenant_id=tenant.pk, warehouse_id=theirs.pk, sku_id=sku.pk, counted=3)
    with pytest.raises(services.StockError):
        services.stock_write_off(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=their_sku.pk, quantity=1,
                                 reason="x")
    assert not StockMovement.objects.exists()


def test_write_off_records_the_loss_and_the_ledger_row(tenant, owner, wh, sku):
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=10)
    record = services.stock_write_off(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=2,
                                      reason="外箱破损", actor=owner)
    assert level(wh, sku).on_hand == 8
    assert (record.quantity, record.reason, record.in_transit, record.created_by) == (2, "外箱破损", False, owner)
    row = StockMovement.objects.get(kind=MovementKind.WRITE_OFF)
    assert row.on_hand_delta == -2 and row.reference == f"writeoff:{record.pk}"
    assert_levels_equal_ledger()


def test_write_off_never_takes_reserved_stock(tenant, wh, sku):
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=5)
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=1, lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 4}])
    with pytest.raises(services.StockError):
        services.stock_write_off(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=2, reason="丢失")
    with pytest.raises(services.StockError):
        services.stock_write_off(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=1, reason=" ")
    assert level(wh, sku).on_hand == 5
    assert not StockWriteOff.objects.exists()
    assert_levels_equal_ledger()


def test_adjust_refuses_to_go_below_reserved(tenant, wh, sku):
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=5)
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=1, lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 3}])
    with pytest.raises(services.StockError):
        services.stock_adjust(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, delta=-3)
    services.stock_adjust(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, delta=-2, note="盘亏")
    assert (level(wh, sku).on_hand, level(wh, sku).reserved) == (3, 3)
    assert_levels_equal_ledger()


def test_combo_skus_hold_no_stock_of_their_own(tenant, wh):
    comp = factories.SkuComponentFactory(tenant=tenant)
    with pytest.raises(services.StockError):
        services.stock_count(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=comp.combo_id, counted=3)
    with pytest.raises(services.StockError):
        services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=comp.combo_id, quantity=3)
