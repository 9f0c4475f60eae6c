"""The transfer suggestion job: short warehouses get stock from warehouses with surplus."""

from decimal import Decimal

import pytest

from inventory import services, tasks
from inventory.models import Reservation, TransferOrder, TransferStatus
from orders import services as order_services
from orders.canonical import CanonicalLine
from tests import factories
from tests.factories import canonical

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant):
    hz = factories.WarehouseFactory(tenant=tenant, name="杭州仓", code="HZ", priority=1, regions=["浙江省", "上海市"])
    gz = factories.WarehouseFactory(tenant=tenant, name="广州仓", code="GZ", priority=2, regions=["广东省"])
    sku = factories.SkuFactory(tenant=tenant, code="SKU-A")
    return hz, gz, sku


def ship_from(tenant, wh, sku, qty, order_id):
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=qty)
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=order_id, warehouse_id=wh.pk,
                                 lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": qty}])
    services.stock_consume_order(tenant_id=tenant.pk, order_id=order_id)


def test_a_short_warehouse_gets_a_suggestion_from_the_one_with_surplus(tenant, world):
    hz, gz, sku = world
    ship_from(tenant, hz, sku, 14, order_id=900001)  # HZ sold 14 in 7 days: 2 a day, 7 days' cover = 14
    shop = factories.ShopFactory(tenant=tenant)
    order_services.order_ingest(tenant=tenant, shop=shop, canonical=canonical(
        "ZJ-1", lines=[CanonicalLine("1", 3, Decimal("9.9"), outer_sku_id="SKU-A")]))  # 浙江省, nothing in stock
    assert Reservation.objects.get(status="short").quantity == 3
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=gz.pk, sku_id=sku.pk, quantity=50)

    [t] = services.transfer_suggest(tenant_id=tenant.pk)
    assert (t.source_id, t.destination_id, t.suggested, t.status) == (gz.pk, hz.pk, True, TransferStatus.DRAFT)
    assert dict(t.lines.values_list("sku_id", "quantity")) == {sku.pk: 17}  # 3 short + 14 cover - 0 available
    assert "杭州仓 缺 SKU-A 17 件" in t.reason and "广州仓 富余 50 件" in t.reason

    # running again changes nothing: the same one suggestion
    [again] = services.transfer_suggest(tenant_id=tenant.pk)
    assert again.pk == t.pk and TransferOrder.objects.count() == 1
    assert dict(again.lines.values_list("sku_id", "quantity")) == {sku.pk: 17}

    # accepted: it counts as incoming, so nothing more is suggested and it stays
    services.transfer_accept(tenant_id=tenant.pk, transfer_id=t.pk)
    assert services.transfer_suggest(tenant_id=tenant.pk) == []
    assert TransferOrder.objects.count() == 1


def test_surplus_is_limited_to_what_the_source_does_not_need_itself(tenant, world):
    hz, gz, sku = world
    ship_from(tenant, hz, sku, 7, order_id=900001)  # HZ wants 7
    ship_from(tenant, gz, sku, 7, order_id=900002)  # GZ wants 7 itself
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=gz.pk, sku_id=sku.pk, quantity=10)  # 3 spare
    [t] = services.transfer_suggest(tenant_id=tenant.pk, velocity_days=7, cover_days=7)
    assert dict(t.lines.values_list("sku_id", "quantity")) == {sku.pk: 3}


def test_nothing_to_suggest_when_no_warehouse_is_short_or_none_has_surplus(tenant, world):
    hz, gz, sku = world
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=gz.pk, sku_id=sku.pk, quantity=50)
    assert services.transfer_suggest(tenant_id=tenant.pk) == []  # no demand anywhere
    ship_from(tenant, hz, sku, 14, order_id=900001)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=hz.pk, sku_id=sku.pk, quantity=20)
    assert services.transfer_suggest(tenant_id=tenant.pk) == []  # HZ covers its own 14
    assert not TransferOrder.objects.exists()


def test_short_without_surplus_suggests_nothing(tenant, world):
    hz, gz, sku = world
    ship_from(tenant, hz, sku, 14, order_id=900001)
    assert services.transfer_suggest(tenant_id=tenant.pk) == []


def test_an_untouched_suggestion_disappears_when_no_longer_needed_and_a_dismissed_one_is_not_repeated(
        tenant, world):
    hz, gz, sku = world
    ship_from(tenant, hz, sku, 14, order_id=900001)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=gz.pk, sku_id=sku.pk, quantity=50)
    [t] = services.transfer_suggest(tenant_id=tenant.pk)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=hz.pk, sku_id=sku.pk, quantity=30)  # HZ restocked
    assert services.transfer_suggest(tenant_id=tenant.pk) == []
    assert not TransferOrder.objects.filter(pk=t.pk).exists()

    services.stock_count(tenant_id=tenant.pk, warehouse_id=hz.pk, sku_id=sku.pk, counted=0)
    [t2] = services.transfer_suggest(tenant_id=tenant.pk)
    services.transfer_dismiss(tenant_id=tenant.pk, transfer_id=t2.pk)
    assert services.transfer_suggest(tenant_id=tenant.pk) == []
    assert TransferOrder.objects.get().status == TransferStatus.DISMISSED


def test_an_edited_suggestion_is_kept_and_counts_as_incoming(tenant, world):
    hz, gz, sku = world
    ship_from(tenant, hz, sku, 14, order_id=900001)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=gz.pk, sku_id=sku.pk, quantity=50)
    [t] = services.transfer_suggest(tenant_id=tenant.pk)
    services.transfer_update_lines(tenant_id=tenant.pk, transfer_id=t.pk, quantities={sku.pk: 10})
    [t2] = services.transfer_suggest(tenant_id=tenant.pk)  # 4 more wanted, in a new suggestion
    assert t2.pk != t.pk
    assert dict(t2.lines.values_list("sku_id", "quantity")) == {sku.pk: 4}
    assert dict(TransferOrder.objects.get(pk=t.pk).lines.values_list("sku_id", "quantity")) == {sku.pk: 10}


def test_the_periodic_task_runs_every_tenant(tenant, other_tenant, world):
    hz, gz, sku = world
    ship_from(tenant, hz, sku, 14, order_id=900001)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=gz.pk, sku_id=sku.pk, quantity=50)
    assert tasks.suggest_transfers() == 1
    assert TransferOrder.objects.get().tenant_id == tenant.pk


def test_region_orders_served_from_another_warehouse_make_their_warehouse_ask_for_stock(tenant, world):
    hz, gz, sku = world
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=hz.pk, sku_id=sku.pk, quantity=40)
    shop = factories.ShopFactory(tenant=tenant)
    order_services.order_ingest(tenant=tenant, shop=shop, canonical=canonical(
        "GD-1", lines=[CanonicalLine("1", 4, Decimal("2.50"), outer_sku_id="SKU-A")], receiver_province="广东省"))
    # before allocation a reservation's warehouse is provisional: nothing to suggest yet
    assert services.transfer_suggest(tenant_id=tenant.pk) == []
    # GZ has none, so allocation puts the Guangdong order in Hangzhou: it ships cross-region
    from orders.models import Order

    order_services.order_allocate(order=Order.objects.get(platform_order_id="GD-1"))
    assert Reservation.objects.get(status="active").warehouse_id == hz.pk
    assert Order.objects.get(platform_order_id="GD-1").status == "allocated"

    [t] = services.transfer_suggest(tenant_id=tenant.pk)
    assert (t.source_id, t.destination_id) == (hz.pk, gz.pk)
    assert dict(t.lines.values_list("sku_id", "quantity")) == {sku.pk: 4}
    assert "跨区占用 4 件" in t.reason


def test_no_cross_region_suggestion_when_the_region_warehouse_serves_its_orders(tenant, world):
    hz, gz, sku = world
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=gz.pk, sku_id=sku.pk, quantity=40)
    shop = factories.ShopFactory(tenant=tenant)
    order_services.order_ingest(tenant=tenant, shop=shop, canonical=canonical(
        "GD-2", lines=[CanonicalLine("1", 4, Decimal("2.50"), outer_sku_id="SKU-A")], receiver_province="广东省"))
    from orders.models import Order

    order_services.order_allocate(order=Order.objects.get(platform_order_id="GD-2"))
    assert Reservation.objects.get(status="active").warehouse_id == gz.pk
    assert services.transfer_suggest(tenant_id=tenant.pk) == []
