"""Merge detection, merge / unmerge and split keep reservations exact (levels AND ledger)."""

from decimal import Decimal

import pytest

from orders import selectors, services
from orders.models import Order, OrderSource
from tests.orders.conftest import reserved_for, stock_is

pytestmark = pytest.mark.django_db

SAME = {"buyer_nick": "tb_buyer", "receiver_name": "李四", "receiver_phone": "13912345678"}


@pytest.fixture
def stocked(env):
    env.receive(env.hz, env.a, 10)
    env.receive(env.hz, env.b, 10)
    return env


def test_mergeable_orders_are_detected_and_others_are_not(stocked):
    env = stocked
    a = env.ingest("M1", **SAME)
    b = env.ingest("M2", lines=[("SKU-B", 2, "20.00")], **SAME)
    env.ingest("M3", receiver_address="别的地址 9 号", **SAME)  # another address
    env.ingest("M4", **{**SAME, "buyer_nick": "tb_other"})  # another buyer
    held = env.ingest("M5", lines=[("SKU-B", 1, "20.00")], **{**SAME, "receiver_phone": "13912345678"})
    services.order_hold(order=held, detail="客户要求暂缓")  # a blocking hold
    groups = selectors.merge_groups(tenant_id=env.tenant.pk)
    assert [[o.platform_order_id for o in g] for g in groups] == [["M1", "M2"]]
    assert {a.pk, b.pk} == {o.pk for o in groups[0]}


def test_merge_keeps_every_platform_id_and_reserves_the_sum_once_and_unmerge_restores(stocked, owner):
    env = stocked
    a = env.ingest("M1", lines=[("SKU-A", 2, "10.00")], **SAME)
    b = env.ingest("M2", lines=[("SKU-A", 1, "10.00"), ("SKU-B", 3, "20.00")], **SAME)
    stock_is(env.hz, env.a, 10, 3)
    merged = services.order_merge(orders=[a, b], actor=owner)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status, merged.status, merged.kind) == ("merged", "merged", "approved", "merged")
    assert sorted(OrderSource.objects.filter(order=merged).values_list("platform_order_id", flat=True)) == ["M1", "M2"]
    assert sorted(pid for _shop, pid in selectors.order_platform_refs(order=merged)) == ["M1", "M2"]
    assert merged.paid_amount == Decimal("90.00")
    assert sum(ln.quantity for ln in merged.lines.all()) == 6
    assert reserved_for(a) == {} and reserved_for(b) == {}
    assert reserved_for(merged) == {(env.hz.pk, env.a.pk): 3, (env.hz.pk, env.b.pk): 3}
    stock_is(env.hz, env.a, 10, 3)
    stock_is(env.hz, env.b, 10, 3)

    services.order_unmerge(order=merged, actor=owner)
    merged.refresh_from_db()
    a.refresh_from_db()
    b.refresh_from_db()
    assert (merged.status, a.status, b.status) == ("cancelled", "approved", "approved")
    assert reserved_for(merged) == {}
    assert reserved_for(a) == {(env.hz.pk, env.a.pk): 2}
    stock_is(env.hz, env.a, 10, 3)
    stock_is(env.hz, env.b, 10, 3)


def test_merge_is_refused_for_different_receivers_and_unmerge_after_picking(stocked):
    env = stocked
    a = env.ingest("M1", **SAME)
    c = env.ingest("M3", receiver_address="别的地址 9 号", **SAME)
    with pytest.raises(services.OrderActionError, match="收件信息不一致"):
        services.order_merge(orders=[a, c])
    b = env.ingest("M2", lines=[("SKU-B", 1, "20.00")], **SAME)  # the same lines would be a suspected duplicate
    merged = services.order_merge(orders=[a, b])
    services.order_allocate(order=merged)
    Order.objects.filter(pk=merged.pk).update(status="picking")
    with pytest.raises(services.OrderActionError, match="无法撤销合并"):
        services.order_unmerge(order=merged)
    stock_is(env.hz, env.a, 10, 2)  # M1 (merged) and M3
    stock_is(env.hz, env.b, 10, 1)


def test_auto_merge_runs_in_the_allocation_queue_when_enabled(stocked):
    from orders import rules

    env = stocked
    env.ingest("M1", **SAME)
    env.ingest("M2", lines=[("SKU-B", 1, "20.00")], **SAME)
    assert services.orders_allocate_queue(tenant_id=env.tenant.pk)["merged"] == 0
    assert Order.objects.filter(status="allocated").count() == 2
    s = rules.order_settings(tenant_id=env.tenant.pk)
    s.auto_merge = True
    s.save()
    env.ingest("M5", lines=[("SKU-A", 2, "10.00")], **SAME)
    env.ingest("M6", lines=[("SKU-B", 2, "20.00")], **SAME)
    counts = services.orders_allocate_queue(tenant_id=env.tenant.pk)
    # allocated orders can still be merged (not picked yet): all four become one parcel
    assert counts["merged"] == 1
    merged = Order.objects.get(kind="merged")
    assert merged.status == "allocated"
    assert sorted(merged.sources.values_list("platform_order_id", flat=True)) == ["M1", "M2", "M5", "M6"]
    stock_is(env.hz, env.a, 10, 3)
    stock_is(env.hz, env.b, 10, 3)


def test_platform_cancel_of_a_source_undoes_the_merge_first(stocked):
    from datetime import timedelta

    from django.utils import timezone

    env = stocked
    a = env.ingest("M1", **SAME)
    b = env.ingest("M2", lines=[("SKU-B", 1, "20.00")], **SAME)
    merged = services.order_merge(orders=[a, b])
    env.ingest("M1", state="cancelled", modified=timezone.now() + timedelta(minutes=5), **SAME)
    merged.refresh_from_db()
    a.refresh_from_db()
    b.refresh_from_db()
    assert (merged.status, a.status, b.status) == ("cancelled", "cancelled", "approved")
    stock_is(env.hz, env.a, 10, 0)
    stock_is(env.hz, env.b, 10, 1)


def test_manual_split_by_lines_and_quantities(stocked, owner):
    env = stocked
    order = env.ingest("S1", lines=[("SKU-A", 3, "10.00"), ("SKU-B", 1, "20.00")])
    la, lb = order.lines.order_by("id")
    with pytest.raises(services.OrderActionError, match="拆分数量必须等于订单数量"):
        services.order_split(order=order, parts=[{la.pk: 1}, {la.pk: 1, lb.pk: 1}])
    c1, c2 = services.order_split(order=order, parts=[{la.pk: 1}, {la.pk: 2, lb.pk: 1}], actor=owner)
    order.refresh_from_db()
    assert order.status == "split"
    assert (c1.status, c2.status) == ("approved", "approved")
    assert [(ln.sku_id, ln.quantity) for ln in c2.lines.order_by("id")] == [(env.a.pk, 2), (env.b.pk, 1)]
    assert reserved_for(order) == {}
    assert reserved_for(c1) == {(env.hz.pk, env.a.pk): 1}
    stock_is(env.hz, env.a, 10, 3)
    stock_is(env.hz, env.b, 10, 1)
    services.order_unsplit(order=c2, actor=owner)
    order.refresh_from_db()
    assert order.status == "approved"
    assert reserved_for(order) == {(env.hz.pk, env.a.pk): 3, (env.hz.pk, env.b.pk): 1}
    stock_is(env.hz, env.a, 10, 3)
    stock_is(env.hz, env.b, 10, 1)
    shipped = env.ingest("S2", state="shipped")
    with pytest.raises(services.OrderActionError, match="不能拆单"):
        services.order_split(order=shipped, parts=[{}, {}])
