"""order_ingest: idempotent upsert, forward-only, reservation through the signals."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from inventory import services as stock
from inventory.models import Reservation, StockLevel, StockMovement
from oms import signals
from orders import services
from orders.canonical import CanonicalLine, PlatformState
from orders.models import Hold, Order, OrderEvent
from tests import factories
from tests.factories import canonical
from tests.factories_orders import priced

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tenant):
    wh = factories.WarehouseFactory(tenant=tenant, code="HZ")
    sku = factories.SkuFactory(tenant=tenant, code="SKU-A")
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=5)
    shop = factories.ShopFactory(tenant=tenant)
    return tenant, shop, wh, sku


def level(wh, sku):
    return StockLevel.objects.get(warehouse=wh, sku=sku)


def ledger(wh, sku):
    agg = StockMovement.objects.filter(warehouse=wh, sku=sku).aggregate(oh=Sum("on_hand_delta"), rs=Sum("reserved_delta"))
    return agg["oh"] or 0, agg["rs"] or 0


def test_the_same_order_ten_times_is_one_order_one_reservation_and_one_ledger_entry(setup):
    tenant, shop, wh, sku = setup
    c = priced(canonical("T100", lines=[CanonicalLine("1", 2, Decimal("10"), outer_sku_id="SKU-A")]))
    outcomes = [services.order_ingest(tenant=tenant, shop=shop, canonical=c).outcome for _ in range(10)]
    assert outcomes == ["created"] + ["unchanged"] * 9
    assert Order.objects.count() == 1
    order = Order.objects.get()
    assert order.status == "approved"  # tenant auto-approves clean orders
    assert Reservation.objects.filter(order_id=order.pk, status="active").aggregate(q=Sum("quantity"))["q"] == 2
    assert StockMovement.objects.filter(kind="reserve").count() == 1
    assert (level(wh, sku).on_hand, level(wh, sku).reserved) == (5, 2)
    assert ledger(wh, sku) == (5, 2)


def test_only_newer_platform_versions_apply(setup):
    tenant, shop, wh, sku = setup
    t0 = timezone.now()
    services.order_ingest(tenant=tenant, shop=shop, canonical=canonical("T1", modified=t0))
    older = canonical("T1", modified=t0 - timedelta(minutes=5), receiver_address="旧地址 1 号")
    assert services.order_ingest(tenant=tenant, shop=shop, canonical=older).outcome == "unchanged"
    newer = canonical("T1", modified=t0 + timedelta(minutes=5), receiver_address="新地址 8 号")
    assert services.order_ingest(tenant=tenant, shop=shop, canonical=newer).outcome == "updated"
    order = Order.objects.get()
    assert order.receiver_address == "新地址 8 号"
    ev = OrderEvent.objects.get(order=order, type="address_changed")
    assert ev.before == {"receiver_address": "文三路 100 号"} and ev.after == {"receiver_address": "新地址 8 号"}


def test_short_reservation_holds_the_order_out_of_stock(setup):
    tenant, shop, wh, sku = setup
    c = priced(canonical("T2", lines=[CanonicalLine("1", 7, Decimal("10"), outer_sku_id="SKU-A")]))
    services.order_ingest(tenant=tenant, shop=shop, canonical=c)
    order = Order.objects.get()
    assert order.status == "on_hold"
    hold = Hold.objects.get(order=order)
    assert hold.reason == "out_of_stock" and "SKU-A 缺 2 件" in hold.detail
    # partial stock is held for it, and the shortfall recorded
    assert level(wh, sku).reserved == 5
    assert Reservation.objects.get(order_id=order.pk, status="short").quantity == 2


def test_stock_arrival_and_reprocess_auto_release_the_hold(setup):
    tenant, shop, wh, sku = setup
    services.order_ingest(tenant=tenant, shop=shop,
                          canonical=priced(canonical("T3", lines=[CanonicalLine("1", 7, Decimal("10"),
                                                                                outer_sku_id="SKU-A")])))
    order = Order.objects.get()
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=10)
    services.order_reprocess(tenant_id=tenant.pk, order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "approved"
    assert Hold.objects.get(order=order).resolved_at is not None
    assert (level(wh, sku).on_hand, level(wh, sku).reserved) == (15, 7)
    assert ledger(wh, sku) == (15, 7)


def test_unmapped_line_holds_with_the_platform_ids(setup):
    tenant, shop, wh, sku = setup
    c = canonical("T4", lines=[CanonicalLine("1", 1, Decimal("10"), platform_item_id="555", platform_sku_id="777",
                                             outer_sku_id="NOPE")])
    services.order_ingest(tenant=tenant, shop=shop, canonical=c)
    hold = Hold.objects.get()
    assert hold.reason == "unmapped_sku"
    assert "555" in hold.detail and "777" in hold.detail and "NOPE" in hold.detail


def test_platform_cancel_before_shipping_releases_stock(setup):
    tenant, shop, wh, sku = setup
    t0 = timezone.now()
    services.order_ingest(tenant=tenant, shop=shop, canonical=canonical("T5", modified=t0))
    assert level(wh, sku).reserved == 1
    services.order_ingest(tenant=tenant, shop=shop, canonical=canonical(
        "T5", modified=t0 + timedelta(minutes=1), state=PlatformState.CANCELLED))
    order = Order.objects.get()
    assert order.status == "cancelled"
    assert level(wh, sku).reserved == 0
    assert ledger(wh, sku) == (5, 0)


def test_unpaid_order_reserves_nothing_until_paid(setup):
    tenant, shop, wh, sku = setup
    t0 = timezone.now()
    services.order_ingest(tenant=tenant, shop=shop, canonical=canonical("T6", modified=t0, state=PlatformState.UNPAID))
    assert Order.objects.get().status == "pending_payment"
    assert level(wh, sku).reserved == 0
    services.order_ingest(tenant=tenant, shop=shop, canonical=canonical("T6", modified=t0 + timedelta(seconds=1)))
    assert Order.objects.get().status == "approved"
    assert level(wh, sku).reserved == 1


def test_manual_review_when_auto_approve_is_off(setup):
    tenant, shop, wh, sku = setup
    tenant.auto_approve = False
    tenant.save()
    services.order_ingest(tenant=tenant, shop=shop, canonical=canonical("T7"))
    order = Order.objects.get()
    assert order.status == "pending_review"
    services.order_approve(order=order)
    order.refresh_from_db()
    assert order.status == "approved"


def test_cancel_releases_and_a_shipped_order_cannot_be_cancelled(setup):
    tenant, shop, wh, sku = setup
    services.order_ingest(tenant=tenant, shop=shop, canonical=canonical("T8"))
    order = Order.objects.get()
    services.order_cancel(order=order)
    assert level(wh, sku).reserved == 0
    shipped = factories.OrderFactory(tenant=tenant, shop=shop, status="shipped")
    with pytest.raises(services.OrderActionError, match="已发货"):
        services.order_cancel(order=shipped)


def test_combo_line_reserves_its_components(tenant):
    wh = factories.WarehouseFactory(tenant=tenant)
    comp = factories.SkuComponentFactory(tenant=tenant, quantity=2, combo__code="GIFTBOX")
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=comp.component_id, quantity=10)
    shop = factories.ShopFactory(tenant=tenant)
    services.order_ingest(tenant=tenant, shop=shop,
                          canonical=canonical("C1", lines=[CanonicalLine("1", 3, Decimal("50"), outer_sku_id="GIFTBOX")]))
    assert StockLevel.objects.get(sku_id=comp.component_id).reserved == 6


def test_stock_changed_is_sent_once_on_commit_with_every_sku(tenant, django_capture_on_commit_callbacks):
    wh = factories.WarehouseFactory(tenant=tenant)
    sku, sku2 = factories.SkuFactory(tenant=tenant, code="SKU-A"), factories.SkuFactory(tenant=tenant, code="SKU-B")
    shop = factories.ShopFactory(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):  # "commits" the initial stock
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=5)
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku2.pk, quantity=5)
    received = []

    def listener(sender, **kw):
        received.append(kw)

    signals.stock_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.order_ingest(tenant=tenant, shop=shop, canonical=canonical("T9", lines=[
                CanonicalLine("1", 1, Decimal("10"), outer_sku_id="SKU-A"),
                CanonicalLine("2", 1, Decimal("10"), outer_sku_id="SKU-B")]))
            assert received == []  # nothing before commit
    finally:
        signals.stock_changed.disconnect(listener)
    assert received == [{"signal": signals.stock_changed, "tenant_id": tenant.pk, "sku_ids": sorted([sku.pk, sku2.pk])}]


def test_orders_of_two_tenants_with_the_same_platform_id_stay_apart(setup, other_tenant):
    tenant, shop, wh, sku = setup
    other_shop = factories.ShopFactory(tenant=other_tenant)
    services.order_ingest(tenant=tenant, shop=shop, canonical=canonical("SAME"))
    services.order_ingest(tenant=other_tenant, shop=other_shop, canonical=canonical("SAME"))
    assert Order.objects.filter(platform_order_id="SAME").count() == 2
    # SKU-A does not exist for the other tenant: its order is unmapped, it never takes tenant A's stock
    assert Order.objects.get(tenant=other_tenant).status == "on_hold"
    assert level(wh, sku).reserved == 1
