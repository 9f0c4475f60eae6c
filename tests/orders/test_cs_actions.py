"""Customer-service actions: allowed before shipping, refused with a clear message after."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import services
from orders.models import Hold, Order, OrderEvent
from tests.orders.conftest import stock_is

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(env):
    env.receive(env.hz, env.a, 10)
    return env.ingest("CS1")


def set_status(order, status):
    Order.objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()
    return order


@pytest.mark.parametrize("status", ["pending_review", "on_hold", "approved", "allocated"])
def test_change_receiver_before_picking_keeps_the_old_value_in_the_timeline(order, owner, status):
    set_status(order, status)
    services.order_change_receiver(order=order, actor=owner, receiver_name="王五", receiver_address="天目山路 8 号")
    order.refresh_from_db()
    assert (order.receiver_name, order.receiver_address) == ("王五", "天目山路 8 号")
    ev = OrderEvent.objects.get(order=order, type="address_changed")
    assert ev.before == {"receiver_name": "李四", "receiver_address": "文三路 100 号"}
    assert ev.actor == owner


def test_change_receiver_while_picking_holds_for_the_warehouse(order, owner):
    set_status(order, "picking")
    services.order_change_receiver(order=order, actor=owner, receiver_phone="13700000000")
    order.refresh_from_db()
    assert order.status == "on_hold"
    assert Hold.objects.get(order=order, resolved_at=None).reason == "address_changed"


@pytest.mark.parametrize("status,message", [("shipped", "已发货，无法修改地址"), ("delivered", "已发货，无法修改地址"),
                                            ("cancelled", "订单已取消，无法修改地址"),
                                            ("merged", "订单已合并到合并单")])
def test_change_receiver_is_refused_when_too_late(order, owner, status, message):
    set_status(order, status)
    with pytest.raises(services.OrderActionError, match=message):
        services.order_change_receiver(order=order, actor=owner, receiver_name="王五")
    order.refresh_from_db()
    assert order.receiver_name == "李四"
    assert not OrderEvent.objects.filter(order=order, type="address_changed").exists()


def test_an_invalid_new_phone_puts_the_order_on_hold(order, owner):
    services.order_change_receiver(order=order, actor=owner, receiver_phone="12345")
    order.refresh_from_db()
    assert order.status == "on_hold"
    assert "手机号 12345 不是有效号码" in Hold.objects.get(order=order, reason="phone").detail


def test_notes_are_added_in_any_state(order, owner):
    set_status(order, "shipped")
    services.order_add_note(order=order, text="买家来电催件", actor=owner)
    assert OrderEvent.objects.get(order=order, type="note").message == "买家来电催件"
    assert services.order_add_note(order=order, text="  ", actor=owner) is None


def test_cancel_releases_stock_and_is_refused_after_shipping(env, order, owner):
    stock_is(env.hz, env.a, 10, 1)
    services.order_cancel(order=order, actor=owner, reason="买家不要了")
    order.refresh_from_db()
    assert order.status == "cancelled"
    stock_is(env.hz, env.a, 10, 0)
    services.order_cancel(order=order, actor=owner)  # harmless again
    assert OrderEvent.objects.filter(order=order, type="status", after={"status": "cancelled"}).count() == 1
    shipped = set_status(env.ingest("CS2"), "shipped")
    with pytest.raises(services.OrderActionError, match="订单已发货，无法取消"):
        services.order_cancel(order=shipped, actor=owner)


def test_mark_urgent_before_shipping_only(order, owner):
    services.order_set_urgent(order=order, urgent=True, actor=owner)
    order.refresh_from_db()
    assert order.urgent
    assert OrderEvent.objects.get(order=order, type="urgent").after == {"urgent": True}
    set_status(order, "shipped")
    with pytest.raises(services.OrderActionError, match="无法修改加急"):
        services.order_set_urgent(order=order, urgent=False, actor=owner)


def test_hold_and_release_and_hold_refused_after_shipping(order, owner):
    hold = services.order_hold(order=order, detail="等买家确认颜色", actor=owner)
    order.refresh_from_db()
    assert order.status == "on_hold"
    with pytest.raises(services.OrderActionError, match="未解除的挂起"):
        services.order_approve(order=order, actor=owner)
    assert services.hold_resolve(hold=hold, actor=owner, note="买家确认白色") is True
    assert services.hold_resolve(hold=hold, actor=owner, note="again") is False
    order.refresh_from_db()
    hold.refresh_from_db()
    assert order.status == "approved"
    assert (hold.resolution_note, hold.resolved_by, hold.auto_released) == ("买家确认白色", owner, False)
    set_status(order, "shipped")
    with pytest.raises(services.OrderActionError, match="不能挂起"):
        services.order_hold(order=order, detail="x", actor=owner, until=timezone.now() + timedelta(hours=1))
