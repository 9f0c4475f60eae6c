"""Combo SKUs reserve their components; gift rules add zero-price gift lines, once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import StockMovement
from orders.models import OrderLine
from tests import factories
from tests.factories_orders import GiftRuleFactory
from tests.orders.conftest import stock_is

pytestmark = pytest.mark.django_db


def test_a_combo_line_reserves_and_on_cancel_releases_its_components(env):
    from orders import services

    box = factories.SkuFactory(tenant=env.tenant, code="BOX", is_combo=True, reference_price=Decimal("30"))
    factories.SkuComponentFactory(tenant=env.tenant, combo=box, component=env.a, quantity=2)
    factories.SkuComponentFactory(tenant=env.tenant, combo=box, component=env.b, quantity=1)
    env.receive(env.hz, env.a, 10)
    env.receive(env.hz, env.b, 10)
    order = env.ingest("C1", lines=[("BOX", 3, "30.00")])
    assert order.status == "approved"
    assert order.lines.get().sku_id == box.pk  # sold as one line
    stock_is(env.hz, env.a, 10, 6)
    stock_is(env.hz, env.b, 10, 3)
    [done] = services.order_allocate(order=order)
    assert done.warehouse_id == env.hz.pk
    services.order_cancel(order=order)
    stock_is(env.hz, env.a, 10, 0)
    stock_is(env.hz, env.b, 10, 0)


def test_a_combo_short_of_one_component_is_held_naming_it(env):
    box = factories.SkuFactory(tenant=env.tenant, code="BOX", is_combo=True)
    factories.SkuComponentFactory(tenant=env.tenant, combo=box, component=env.a, quantity=2)
    env.receive(env.hz, env.a, 3)
    order = env.ingest("C2", lines=[("BOX", 2, "30.00")])
    assert order.status == "on_hold"
    assert "SKU-A 缺 1 件" in order.holds.get(reason="out_of_stock").detail


@pytest.fixture
def gift(env):
    g = factories.SkuFactory(tenant=env.tenant, code="GIFT-CUP", name="马克杯")
    env.receive(env.hz, env.a, 50)
    env.receive(env.hz, g, 20)
    return g


def gift_lines(order):
    return [(ln.sku.code, ln.quantity, ln.unit_price, ln.is_gift) for ln in order.lines.filter(is_gift=True)]


def test_gift_for_a_sku_is_added_once_reserved_and_idempotent_on_re_ingest(env, gift):
    GiftRuleFactory(tenant=env.tenant, trigger_sku=env.a, trigger_quantity=2, gift_sku=gift, gift_quantity=1)
    order = env.ingest("G1", lines=[("SKU-A", 2, "10.00")])
    assert gift_lines(order) == [("GIFT-CUP", 1, Decimal("0.00"), True)]
    assert order.status == "approved"  # a zero-price gift line is not an amount anomaly
    stock_is(env.hz, gift, 20, 1)
    env.ingest("G1", lines=[("SKU-A", 2, "10.00")], buyer_nick="x", modified=timezone.now() + timedelta(minutes=1))
    env.ingest("G1", lines=[("SKU-A", 2, "10.00")], buyer_nick="y", modified=timezone.now() + timedelta(minutes=2))
    assert OrderLine.objects.filter(order=order, is_gift=True).count() == 1
    stock_is(env.hz, gift, 20, 1)
    assert StockMovement.objects.filter(sku=gift, kind="reserve").count() == 1
    # not enough of the trigger SKU: no gift
    assert gift_lines(env.ingest("G2", lines=[("SKU-A", 1, "10.00")])) == []


def test_gift_per_qualifying_quantity_and_it_follows_quantity_changes(env, gift):
    GiftRuleFactory(tenant=env.tenant, trigger_sku=env.a, trigger_quantity=2, gift_sku=gift, gift_quantity=1,
                    per_quantity=True)
    order = env.ingest("G3", lines=[("SKU-A", 5, "10.00")])
    assert gift_lines(order) == [("GIFT-CUP", 2, Decimal("0.00"), True)]
    stock_is(env.hz, gift, 20, 2)
    env.ingest("G3", lines=[("SKU-A", 7, "10.00")], modified=timezone.now() + timedelta(minutes=1))
    assert gift_lines(order) == [("GIFT-CUP", 3, Decimal("0.00"), True)]
    stock_is(env.hz, gift, 20, 3)


def test_gift_by_paid_total_shop_and_date_range(env, gift):
    other_shop = factories.ShopFactory(tenant=env.tenant)
    GiftRuleFactory(tenant=env.tenant, trigger_sku=None, min_paid_amount=Decimal("100"), gift_sku=gift,
                    gift_quantity=2, shop=env.shop)
    GiftRuleFactory(tenant=env.tenant, trigger_sku=env.a, gift_sku=gift, gift_quantity=5,
                    starts_at=timezone.now() - timedelta(days=10), ends_at=timezone.now() - timedelta(days=5))
    assert gift_lines(env.ingest("G4", lines=[("SKU-A", 10, "10.00")])) == [("GIFT-CUP", 2, Decimal("0.00"), True)]
    assert gift_lines(env.ingest("G5", lines=[("SKU-A", 9, "10.00")])) == []
    env.shop = other_shop
    assert gift_lines(env.ingest("G6", lines=[("SKU-A", 10, "10.00")])) == []
