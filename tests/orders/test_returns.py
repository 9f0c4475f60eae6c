"""After-sales: a return restocks exactly once; exchanges create a reserved replacement order;
platform refunds after shipping open the return request."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import StockMovement
from orders import services
from orders.canonical import CanonicalLine
from orders.models import Order, ReturnRequest
from tests.factories import canonical
from tests.factories_orders import priced
from tests.orders.conftest import reserved_for, stock_is

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipped(env):
    """An order whose two units left the warehouse (consumed the way logistics does it)."""
    from inventory import services as stock

    env.receive(env.hz, env.a, 10)
    env.receive(env.hz, env.b, 10)
    order = env.ingest("RT1", lines=[("SKU-A", 2, "10.00"), ("SKU-B", 1, "20.00")])
    services.order_allocate(order=order)
    stock.stock_consume_order(tenant_id=env.tenant.pk, order_id=order.pk, reference="test-ship")
    Order.objects.filter(pk=order.pk).update(status="shipped")
    order.refresh_from_db()
    stock_is(env.hz, env.a, 8, 0)
    return order


def test_a_return_restocks_exactly_once_even_if_submitted_twice(env, shipped, owner):
    la = shipped.lines.get(sku=env.a)
    rr = services.return_request_create(order=shipped, lines={la.pk: 2}, reason="尺码不合适", actor=owner)
    assert rr.refund_amount == Decimal("20.00")
    with pytest.raises(services.OrderActionError, match="可退数量为 0"):
        services.return_request_create(order=shipped, lines={la.pk: 1}, reason="重复提交", actor=owner)
    services.return_receive(return_request=rr, actor=owner)
    services.return_inspect(return_request=rr, note="完好", actor=owner)
    services.return_restock(return_request=rr, warehouse_id=env.hz.pk, actor=owner)
    services.return_restock(return_request=rr, warehouse_id=env.hz.pk, actor=owner)  # double click
    rr.refresh_from_db()
    assert rr.status == "restocked"
    stock_is(env.hz, env.a, 10, 0)
    assert StockMovement.objects.filter(kind="return", sku=env.a).count() == 1
    shipped.refresh_from_db()
    assert shipped.status == "shipped"  # SKU-B was not returned
    with pytest.raises(services.OrderActionError, match="不能变为"):
        services.return_write_off(return_request=rr, actor=owner)


def test_returning_every_line_marks_the_order_returned_and_write_off_restocks_nothing(env, shipped, owner):
    la, lb = shipped.lines.get(sku=env.a), shipped.lines.get(sku=env.b)
    r1 = services.return_request_create(order=shipped, lines={la.pk: 2}, actor=owner)
    r2 = services.return_request_create(order=shipped, lines={lb.pk: 1}, reason="破损", actor=owner)
    for rr in (r1, r2):
        services.return_receive(return_request=rr, actor=owner)
    services.return_restock(return_request=r1, warehouse_id=env.gz.pk, actor=owner)
    services.return_write_off(return_request=r2, note="外包装破损", actor=owner)
    shipped.refresh_from_db()
    assert shipped.status == "returned"
    stock_is(env.gz, env.a, 2, 0)  # restocked where the user chose
    stock_is(env.hz, env.b, 9, 0)  # written off: nothing back
    services.return_set_refund(return_request=r2, amount=Decimal("15.00"), actor=owner)
    r2.refresh_from_db()
    assert r2.refund_amount == Decimal("15.00")


def test_returns_need_a_shipped_order(env, owner):
    env.receive(env.hz, env.a, 1)
    order = env.ingest("RT2")
    with pytest.raises(services.OrderActionError, match="尚未发货"):
        services.return_request_create(order=order, lines={order.lines.get().pk: 1}, actor=owner)


def test_an_exchange_creates_a_replacement_order_reviewed_and_reserved(env, shipped, owner):
    la = shipped.lines.get(sku=env.a)
    size_l = env.b  # exchange SKU-A for SKU-B
    rr = services.return_request_create(order=shipped, lines={la.pk: 1}, kind="exchange", reason="换大一码",
                                        exchange_skus={la.pk: size_l.pk}, actor=owner)
    new = services.return_create_exchange(return_request=rr, actor=owner)
    assert services.return_create_exchange(return_request=rr, actor=owner).pk == new.pk  # once
    assert (new.platform_order_id, new.kind, new.shop_id, new.status) == ("RT1-EX1", "exchange", shipped.shop_id,
                                                                          "approved")
    assert [(ln.sku_id, ln.quantity, ln.unit_price) for ln in new.lines.all()] == [(size_l.pk, 1, Decimal("0.00"))]
    assert reserved_for(new) == {(env.hz.pk, size_l.pk): 1}
    stock_is(env.hz, env.b, 9, 1)
    [allocated] = services.order_allocate(order=new)
    assert allocated.status == "allocated"


def test_platform_refund_after_shipping_opens_and_updates_the_return_request(env, shipped):
    base = dict(lines=[CanonicalLine("1", 2, Decimal("10.00"), outer_sku_id="SKU-A"),
                       CanonicalLine("2", 1, Decimal("20.00"), outer_sku_id="SKU-B")])
    t = timezone.now()
    c = priced(canonical("RT1", modified=t + timedelta(minutes=1), state="shipped", **base))
    c.lines[0].refund_status = "requested"
    services.order_ingest(tenant=env.tenant, shop=env.shop, canonical=c)
    rr = ReturnRequest.objects.get(order=shipped)
    assert (rr.source, rr.status, rr.refund_amount) == ("platform", "requested", Decimal("0"))
    assert [(rl.order_line.platform_line_id, rl.quantity) for rl in rr.lines.all()] == [("1", 2)]
    c = priced(canonical("RT1", modified=t + timedelta(minutes=2), state="shipped", **base))
    c.lines[0].refund_status = "refunded"
    c.lines[1].refund_status = "refunded"
    services.order_ingest(tenant=env.tenant, shop=env.shop, canonical=c)
    rr = ReturnRequest.objects.get(order=shipped)  # still one request
    assert rr.refund_amount == Decimal("40.00")
    assert sorted((rl.order_line.platform_line_id, rl.quantity) for rl in rr.lines.all()) == [("1", 2), ("2", 1)]
