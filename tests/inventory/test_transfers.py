"""Transfers (调拨): draft -> shipped -> partially received -> received / closed as lost."""

import pytest

from inventory import selectors, services
from inventory.models import MovementKind, StockMovement, StockWriteOff, TransferStatus
from tests import factories, factories_inventory
from tests.inventory.helpers import assert_levels_equal_ledger, level

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant):
    src = factories.WarehouseFactory(tenant=tenant, name="广州仓", code="GZ")
    dst = factories.WarehouseFactory(tenant=tenant, name="杭州仓", code="HZ")
    a = factories.SkuFactory(tenant=tenant, code="A")
    b = factories.SkuFactory(tenant=tenant, code="B")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=src.pk, sku_id=a.pk, quantity=30)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=src.pk, sku_id=b.pk, quantity=10)
    return src, dst, a, b


def test_life_cycle_with_partial_receipt_and_the_rest_closed_as_lost(tenant, owner, world):
    src, dst, a, b = world
    t = services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=dst.pk,
                                 lines={a.pk: 12, b.pk: 4}, actor=owner)
    assert t.status == TransferStatus.DRAFT
    assert level(src, a).on_hand == 30  # a draft moves nothing

    services.transfer_ship(tenant_id=tenant.pk, transfer_id=t.pk, actor=owner)
    t.refresh_from_db()
    assert t.status == TransferStatus.SHIPPED
    assert (level(src, a).on_hand, level(src, b).on_hand) == (18, 6)
    outs = StockMovement.objects.filter(kind=MovementKind.TRANSFER_OUT, reference=f"transfer:{t.pk}")
    assert sorted(outs.values_list("sku__code", "on_hand_delta")) == [("A", -12), ("B", -4)]
    # in transit: in neither warehouse's on_hand, so available nowhere
    assert selectors.available_by_level(tenant_id=tenant.pk, sku_ids=[a.pk]) == {(a.pk, src.pk): 18}
    assert selectors.in_transit(tenant_id=tenant.pk, sku_ids=[a.pk]) == {(a.pk, dst.pk): 12}
    services.transfer_ship(tenant_id=tenant.pk, transfer_id=t.pk)  # a retry changes nothing
    assert level(src, a).on_hand == 18

    line_a = t.lines.get(sku=a)
    line_b = t.lines.get(sku=b)
    services.transfer_receive(tenant_id=tenant.pk, transfer_id=t.pk, quantities={line_a.pk: 10, line_b.pk: 4})
    t.refresh_from_db()
    assert t.status == TransferStatus.PARTIALLY_RECEIVED
    assert (level(dst, a).on_hand, level(dst, b).on_hand) == (10, 4)
    assert selectors.in_transit(tenant_id=tenant.pk, sku_ids=[a.pk]) == {(a.pk, dst.pk): 2}
    with pytest.raises(services.TransferError):  # more than is still on the way
        services.transfer_receive(tenant_id=tenant.pk, transfer_id=t.pk, quantities={line_a.pk: 3})
    assert level(dst, a).on_hand == 10

    services.transfer_close(tenant_id=tenant.pk, transfer_id=t.pk, reason="快递丢件", actor=owner)
    t.refresh_from_db()
    line_a.refresh_from_db()
    assert t.status == TransferStatus.CLOSED
    assert (line_a.received_quantity, line_a.lost_quantity) == (10, 2)
    loss = StockWriteOff.objects.get()
    assert (loss.sku_id, loss.quantity, loss.in_transit, loss.warehouse_id, loss.reason) == (
        a.pk, 2, True, src.pk, "快递丢件")
    assert selectors.in_transit(tenant_id=tenant.pk, sku_ids=[a.pk]) == {}
    ins = StockMovement.objects.filter(kind=MovementKind.TRANSFER_IN, reference=f"transfer:{t.pk}")
    assert sorted(ins.values_list("sku__code", "on_hand_delta")) == [("A", 10), ("B", 4)]
    assert_levels_equal_ledger()


def test_receiving_everything_completes_the_transfer(tenant, world):
    src, dst, a, _b = world
    t = services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=dst.pk, lines={a.pk: 5})
    services.transfer_ship(tenant_id=tenant.pk, transfer_id=t.pk)
    line = t.lines.get()
    services.transfer_receive(tenant_id=tenant.pk, transfer_id=t.pk, quantities={line.pk: 2})
    services.transfer_receive(tenant_id=tenant.pk, transfer_id=t.pk, quantities={line.pk: 3})
    t.refresh_from_db()
    assert t.status == TransferStatus.RECEIVED and t.received_at is not None
    assert (level(src, a).on_hand, level(dst, a).on_hand) == (25, 5)
    with pytest.raises(services.TransferError):
        services.transfer_receive(tenant_id=tenant.pk, transfer_id=t.pk, quantities={line.pk: 1})
    assert_levels_equal_ledger()


def test_shipping_more_than_is_available_is_refused_and_nothing_moves(tenant, world):
    src, dst, a, b = world
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=7, lines=[{"line_id": 1, "sku_id": b.pk, "quantity": 8}])
    t = services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=dst.pk,
                                 lines={a.pk: 5, b.pk: 3})  # b: 10 on hand, 8 reserved -> 2 available
    with pytest.raises(services.TransferError, match="B"):
        services.transfer_ship(tenant_id=tenant.pk, transfer_id=t.pk)
    t.refresh_from_db()
    assert t.status == TransferStatus.DRAFT
    assert (level(src, a).on_hand, level(src, b).on_hand) == (30, 10)
    assert not StockMovement.objects.filter(kind=MovementKind.TRANSFER_OUT).exists()


def test_illegal_steps_are_refused(tenant, world):
    src, dst, a, _b = world
    t = services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=dst.pk, lines={a.pk: 5})
    with pytest.raises(services.TransferError):
        services.transfer_receive(tenant_id=tenant.pk, transfer_id=t.pk, quantities={t.lines.get().pk: 5})
    with pytest.raises(services.TransferError):
        services.transfer_close(tenant_id=tenant.pk, transfer_id=t.pk)
    with pytest.raises(services.TransferError):
        services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=src.pk, lines={a.pk: 1})
    services.transfer_ship(tenant_id=tenant.pk, transfer_id=t.pk)
    with pytest.raises(services.TransferError):
        services.transfer_dismiss(tenant_id=tenant.pk, transfer_id=t.pk)
    with pytest.raises(services.TransferError):
        services.transfer_update_lines(tenant_id=tenant.pk, transfer_id=t.pk, quantities={a.pk: 1})


def test_editing_a_draft_changes_adds_and_removes_lines(tenant, world):
    src, dst, a, b = world
    t = services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=dst.pk, lines={a.pk: 5},
                                 suggested=True)
    services.transfer_update_lines(tenant_id=tenant.pk, transfer_id=t.pk, quantities={a.pk: 0, b.pk: 2})
    t.refresh_from_db()
    assert dict(t.lines.values_list("sku__code", "quantity")) == {"B": 2}
    assert t.edited_at is not None


def test_another_tenants_transfer_is_not_found(tenant, other_tenant, world):
    theirs = factories_inventory.TransferOrderFactory(tenant=other_tenant)
    with pytest.raises(services.TransferError):
        services.transfer_ship(tenant_id=tenant.pk, transfer_id=theirs.pk)
    theirs.refresh_from_db()
    assert theirs.status == TransferStatus.DRAFT
