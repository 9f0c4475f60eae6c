"""Platform state vs local decisions, through the real pull from the sandbox marketplace and the
customer-service action on the order page: a platform update changes only what the platform
changed; a local change stands; both sides changed -> 地址冲突 with both versions."""

from __future__ import annotations

import pytest

from orders import services
from orders.models import Hold, HoldReason, Order, OrderEvent
from tests import factories

NEW_PLACE = {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "town": "", "address": "中山北路 30 号 2 幢 301 室"}


def _cs_change(client, order, **fields):
    data = {"action": "receiver", **{f"receiver_{k}": v for k, v in fields.items()}}
    response = client.post(f"/orders/{order.pk}/", data)
    assert response.status_code == 302
    order.refresh_from_db()
    return order


@pytest.fixture
def cs_client(client, tenant):
    client.force_login(factories.member(tenant, "cs"))
    return client


@pytest.mark.django_db
def test_a_cs_address_change_survives_platform_updates_that_changed_something_else(world, cs_client):
    pid = world.new_order()
    world.pull()
    order = world.order(pid)
    platform_address = order.receiver_address
    _cs_change(cs_client, order, address="客服改的地址 9 号 1 单元 101 室")

    world.modify(pid, seller_note="已电话确认")  # the seller memo changed on the platform
    world.pull()
    world.modify(pid, status="paid")  # nothing but a newer modified time
    world.pull()

    order = world.order(pid)
    assert order.receiver_address == "客服改的地址 9 号 1 单元 101 室"
    assert order.seller_note == "已电话确认"  # what the platform did change is taken
    assert order.platform_values["receiver_address"] == platform_address  # the platform's own, kept apart
    messages = list(OrderEvent.objects.filter(order=order, type="address_changed").values_list("message", flat=True))
    assert messages == ["客服修改了收件信息"]  # never "平台修改了收件信息": the platform changed nothing there
    assert not Hold.objects.filter(order=order, reason=HoldReason.CONFLICT).exists()


@pytest.mark.django_db
def test_a_platform_address_change_is_taken_when_nobody_changed_it_here(world):
    pid = world.new_order()
    world.pull()
    world.modify(pid, receiver=NEW_PLACE)
    world.pull()
    order = world.order(pid)
    assert (order.receiver_province, order.receiver_city, order.receiver_address) == (
        "江苏省", "南京市", "中山北路 30 号 2 幢 301 室")
    ev = OrderEvent.objects.get(order=order, type="address_changed")
    assert ev.message == "平台修改了收件信息" and ev.after["receiver_city"] == "南京市"
    assert order.status == "approved"


@pytest.mark.django_db
def test_both_sides_changed_the_address_keeps_the_local_one_and_opens_a_conflict_showing_both(world, cs_client):
    pid = world.new_order()
    world.pull()
    order = world.order(pid)
    services.order_allocate(order=order)
    _cs_change(cs_client, world.order(pid), address="客服改的地址 9 号")
    world.modify(pid, receiver=NEW_PLACE)
    world.pull()

    order = world.order(pid)
    assert order.receiver_address == "客服改的地址 9 号" and order.receiver_city != "南京市"
    assert order.status == "on_hold"  # out of 待发货 until someone decides
    hold = Hold.objects.get(order=order, reason=HoldReason.CONFLICT, resolved_at=None)
    assert "客服改的地址 9 号" in hold.detail and "中山北路 30 号" in hold.detail
    assert hold.data["local"]["receiver_address"] == "客服改的地址 9 号"
    assert hold.data["platform"]["receiver_city"] == "南京市"
    conflict = OrderEvent.objects.get(order=order, type="conflict")
    assert conflict.before["receiver_address"] == "客服改的地址 9 号"
    assert conflict.after["receiver_address"] == "中山北路 30 号 2 幢 301 室"

    page = cs_client.get(f"/orders/{order.pk}/").content.decode()
    assert "本系统（当前）" in page and "平台（最新）" in page and "中山北路 30 号 2 幢 301 室" in page
    assert cs_client.post(f"/orders/{order.pk}/", {"action": "conflict", "keep": "platform"}).status_code == 302

    order.refresh_from_db()
    assert (order.receiver_city, order.receiver_address) == ("南京市", "中山北路 30 号 2 幢 301 室")
    hold.refresh_from_db()
    assert hold.resolved_at is not None and "采用平台版本" in hold.resolution_note
    assert order.status == "approved"  # reviewed again, back in the queue
    # the same platform version again changes nothing and opens nothing
    world.modify(pid, seller_note="")
    world.pull()
    assert not Hold.objects.filter(order=order, reason=HoldReason.CONFLICT, resolved_at=None).exists()


@pytest.mark.django_db
def test_keeping_the_local_version_stands_through_later_pulls(world, cs_client):
    pid = world.new_order()
    world.pull()
    _cs_change(cs_client, world.order(pid), phone="13911112222")
    world.modify(pid, receiver={"phone": "13633334444"})
    world.pull()
    order = world.order(pid)
    assert order.receiver_phone == "13911112222"
    services.order_conflict_resolve(order=order, keep="local")
    world.modify(pid, buyer_note="")
    world.pull()
    order = world.order(pid)
    assert order.receiver_phone == "13911112222" and order.status == "approved"
    assert not Hold.objects.filter(order=order, resolved_at=None).exists()


@pytest.mark.django_db
def test_a_conflict_on_a_picked_parcel_asks_for_a_new_label_when_the_platform_address_is_taken(world):
    pid = world.new_order()
    world.pull()
    services.order_allocate(order=world.order(pid))
    services.order_transition(order=world.order(pid), to="picking")
    services.order_change_receiver(order=world.order(pid), receiver_address="客服改的地址 9 号")
    order = world.order(pid)
    services.hold_resolve(hold=Hold.objects.get(order=order, reason=HoldReason.ADDRESS_CHANGED), note="已重打面单")
    world.modify(pid, receiver=NEW_PLACE)
    world.pull()
    order = world.order(pid)
    assert order.status == "on_hold" and order.receiver_address == "客服改的地址 9 号"
    services.order_conflict_resolve(order=order, keep="platform")
    hold = Hold.objects.get(order=order, reason=HoldReason.ADDRESS_CHANGED, resolved_at=None)
    assert "重新打印面单" in hold.detail
    assert world.order(pid).status == "on_hold"


@pytest.mark.django_db
def test_a_hand_mapped_line_keeps_its_sku_through_repulls(world, cs_client):
    pid = world.new_order()
    world.pull()
    order = world.order(pid)
    line = order.lines.first()
    other = next(s for code, s in world.skus.items() if s.pk != line.sku_id)
    response = cs_client.post(f"/orders/{order.pk}/", {"action": "map_line", "line": line.pk, "sku": other.pk})
    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.sku_id, line.sku_by_hand) == (other.pk, True)
    world.modify(pid, seller_note="重新拉单")
    world.pull()
    line.refresh_from_db()
    assert line.sku_id == other.pk  # the listing maps it elsewhere; the person's choice stands
    assert OrderEvent.objects.filter(order=order, type="line_mapped").count() == 1


@pytest.mark.django_db
def test_a_manual_hold_is_not_undone_by_a_repull(world):
    pid = world.new_order()
    world.pull()
    services.order_hold(order=world.order(pid), detail="客户要求暂缓")
    world.modify(pid, seller_note="催发货")
    world.pull()
    order = world.order(pid)
    assert order.status == "on_hold"
    assert Hold.objects.filter(order=order, reason=HoldReason.MANUAL, resolved_at=None).exists()


@pytest.mark.django_db
def test_a_merged_order_dissolves_only_on_a_real_platform_change(world):
    first, second = world.new_order(seed=11), world.new_order(seed=12)
    with world.market.state.lock:  # one buyer, one address: a merge candidate
        a = world.market.state._get("taobao", first)
        b = world.market.state._get("taobao", second)
        b.buyer_nick, b.receiver, b.oaid = a.buyer_nick, dict(a.receiver), a.oaid
    world.pull()
    merged = services.order_merge(orders=[world.order(first), world.order(second)])
    world.modify(first, status="paid")  # a newer modified time, nothing else
    world.pull()
    assert world.order(first).status == "merged"
    assert Order.objects.get(pk=merged.pk).status != "cancelled"
    world.modify(first, receiver=NEW_PLACE)  # a real change: the merge is undone
    world.pull()
    assert world.order(first).status != "merged"


@pytest.mark.django_db
def test_an_order_ingested_before_platform_values_were_kept_merges_against_its_current_values(world, cs_client):
    pid = world.new_order()
    world.pull()
    Order.objects.filter(pk=world.order(pid).pk).update(platform_values=None)  # as after the upgrade
    _cs_change(cs_client, world.order(pid), name="王五")
    world.modify(pid, seller_note="x")
    world.pull()
    assert world.order(pid).receiver_name == "王五"
