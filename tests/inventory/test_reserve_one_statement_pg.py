"""The one-statement reservation (PostgreSQL, called outside a transaction): what it writes, and
every shape it must hand over to the general path (short stock, existing reservations, several
rows, combos), with the ledger equal to the levels afterwards."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services
from inventory.models import Reservation, ReservationStatus, SkuComponent, StockMovement
from oms import signals
from tests import factories
from tests.inventory.helpers import assert_levels_equal_ledger, level

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stocked(tenant):
    wh = factories.WarehouseFactory(tenant=tenant)
    sku = factories.SkuFactory(tenant=tenant, code="HOT")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=5)
    return tenant, wh, sku


def _line(sku, qty, line_id=1):
    return [{"line_id": line_id, "sku_id": sku.pk, "quantity": qty}]


def test_one_sku_one_row_is_two_round_trips_and_writes_reservation_ledger_and_signal(stocked):
    tenant, wh, sku = stocked
    seen = []

    def listener(sender, tenant_id, sku_ids, **kw):
        seen.append((tenant_id, list(sku_ids)))

    signals.stock_changed.connect(listener)
    try:
        assert not connection.in_atomic_block
        with CaptureQueriesContext(connection) as cq:
            assert services.stock_reserve_order(tenant_id=tenant.pk, order_id=7, lines=_line(sku, 2)) is True
    finally:
        signals.stock_changed.disconnect(listener)
    ours = [q["sql"] for q in cq.captured_queries]
    assert "inventory_skucomponent" in ours[0] and "inventory_stocklevel" in ours[1]  # plan, then the take
    assert seen == [(tenant.pk, [sku.pk])]
    r = Reservation.objects.get(order_id=7)
    assert (r.quantity, r.status, r.warehouse_id, r.line_id) == (2, ReservationStatus.ACTIVE, wh.pk, 1)
    mv = StockMovement.objects.get(kind="reserve")
    assert (mv.reserved_delta, mv.reference) == (2, "order:7")
    assert level(wh, sku).reserved == 2
    # idempotent: the same order again takes nothing more
    assert services.stock_reserve_order(tenant_id=tenant.pk, order_id=7, lines=_line(sku, 2)) is True
    assert level(wh, sku).reserved == 2 and Reservation.objects.filter(order_id=7).count() == 1
    assert_levels_equal_ledger()


def test_not_enough_falls_back_to_partial_fill_with_a_short_row(stocked):
    tenant, wh, sku = stocked
    assert services.stock_reserve_order(tenant_id=tenant.pk, order_id=8, lines=_line(sku, 7)) is False
    rows = {r.status: r.quantity for r in Reservation.objects.filter(order_id=8)}
    assert rows == {ReservationStatus.ACTIVE: 5, ReservationStatus.SHORT: 2}
    assert level(wh, sku).reserved == 5
    assert_levels_equal_ledger()


def test_existing_short_reservation_is_retried_by_the_general_path(stocked):
    tenant, wh, sku = stocked
    assert services.stock_reserve_order(tenant_id=tenant.pk, order_id=9, lines=_line(sku, 8)) is False
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=10)
    assert services.stock_reserve_order(tenant_id=tenant.pk, order_id=9, lines=_line(sku, 8)) is True
    assert list(Reservation.objects.filter(order_id=9, status=ReservationStatus.ACTIVE)
                .values_list("quantity", flat=True)) == [8]
    assert not Reservation.objects.filter(order_id=9, status=ReservationStatus.SHORT).exists()
    assert level(wh, sku).reserved == 8
    assert_levels_equal_ledger()


def test_several_rows_or_a_combo_go_the_general_path_and_still_reserve_right(stocked):
    tenant, wh, sku = stocked
    wh2 = factories.WarehouseFactory(tenant=tenant, priority=500)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh2.pk, sku_id=sku.pk, quantity=5)
    assert services.stock_reserve_order(tenant_id=tenant.pk, order_id=10, lines=_line(sku, 7)) is True
    by_wh = dict(Reservation.objects.filter(order_id=10).values_list("warehouse_id", "quantity"))
    assert by_wh == {wh.pk: 5, wh2.pk: 2}  # priority order, split across the two rows

    combo = factories.SkuFactory(tenant=tenant, code="GIFTBOX")
    SkuComponent.objects.create(tenant=tenant, combo=combo, component=sku, quantity=3)
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=11, lines=_line(combo, 1))
    assert sum(Reservation.objects.filter(order_id=11).values_list("quantity", flat=True)) == 3
    assert set(Reservation.objects.filter(order_id=11).values_list("sku_id", flat=True)) == {sku.pk}
    assert_levels_equal_ledger()


def test_a_combo_of_one_part_in_one_row_takes_the_one_statement_path(stocked):
    tenant, wh, sku = stocked
    combo = factories.SkuFactory(tenant=tenant, code="PAIR")
    SkuComponent.objects.create(tenant=tenant, combo=combo, component=sku, quantity=2)
    with CaptureQueriesContext(connection) as cq:
        assert services.stock_reserve_order(tenant_id=tenant.pk, order_id=12, lines=_line(combo, 2)) is True
    assert not any(q["sql"] == "BEGIN" for q in cq.captured_queries[:2])
    r = Reservation.objects.get(order_id=12)
    assert (r.sku_id, r.quantity) == (sku.pk, 4)
    assert level(wh, sku).reserved == 4
    assert_levels_equal_ledger()


def test_another_tenants_stock_is_never_planned(stocked, other_tenant):
    tenant, wh, sku = stocked
    assert services.stock_reserve_order(tenant_id=other_tenant.pk, order_id=13, lines=_line(sku, 1)) is False
    assert level(wh, sku).reserved == 0
    assert Reservation.objects.get(order_id=13).status == ReservationStatus.SHORT
