"""Allocation: stock first, then the warehouse covering the province, then priority; split by
warehouse when allowed, else hold; manual re-allocation; urgent / older orders first."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import StockMovement
from orders import rules, services
from orders.models import Hold, Order, OrderSource
from tests import factories
from tests.orders.conftest import reserved_for, stock_is

pytestmark = pytest.mark.django_db


def test_the_warehouse_covering_the_province_wins_over_priority(env):
    env.receive(env.hz, env.a, 5)
    env.receive(env.gz, env.a, 5)
    order = env.ingest("A1")  # 浙江省: 杭州仓 covers it, 广州仓 has the better priority
    assert reserved_for(order) == {(env.gz.pk, env.a.pk): 1}  # inventory reserved by priority first
    [done] = services.order_allocate(order=order)
    assert (done.status, done.warehouse_id) == ("allocated", env.hz.pk)
    assert reserved_for(order) == {(env.hz.pk, env.a.pk): 1}
    stock_is(env.hz, env.a, 5, 1)
    stock_is(env.gz, env.a, 5, 0)
    assert "覆盖浙江省" in done.events.get(type="allocated").message


def test_priority_decides_when_no_warehouse_covers_the_province(env):
    env.receive(env.hz, env.a, 5)
    env.receive(env.gz, env.a, 5)
    order = env.ingest("A2", receiver_province="四川省", receiver_city="成都市", receiver_district="武侯区")
    [done] = services.order_allocate(order=order)
    assert done.warehouse_id == env.gz.pk  # priority 1
    stock_is(env.gz, env.a, 5, 1)
    assert not StockMovement.objects.filter(kind="release").exists()  # already there: no churn


def test_stock_beats_region_only_a_warehouse_that_fills_every_line_is_chosen(env):
    env.receive(env.hz, env.a, 5)
    env.receive(env.gz, env.a, 5)
    env.receive(env.gz, env.b, 5)  # only 广州仓 has B
    order = env.ingest("A3", lines=[("SKU-A", 2, "10.00"), ("SKU-B", 1, "20.00")])
    [done] = services.order_allocate(order=order)
    assert done.warehouse_id == env.gz.pk
    stock_is(env.gz, env.a, 5, 2)
    stock_is(env.gz, env.b, 5, 1)
    stock_is(env.hz, env.a, 5, 0)


def test_no_single_warehouse_and_no_split_allowed_holds_with_the_reason(env):
    env.receive(env.hz, env.a, 5)
    env.receive(env.gz, env.b, 5)
    order = env.ingest("A4", lines=[("SKU-A", 1, "10.00"), ("SKU-B", 1, "20.00")])
    assert order.status == "approved"
    assert services.order_allocate(order=order) == []
    order.refresh_from_db()
    assert order.status == "on_hold"
    detail = Hold.objects.get(order=order, reason="allocation").detail
    assert "杭州仓 缺 SKU-B×1" in detail and "广州仓 缺 SKU-A×1" in detail
    # stock arrives in 杭州仓: the next allocation run releases the hold and allocates
    env.receive(env.hz, env.b, 3)
    counts = services.orders_allocate_queue(tenant_id=env.tenant.pk)
    order.refresh_from_db()
    assert (order.status, order.warehouse_id, counts["allocated"]) == ("allocated", env.hz.pk, 1)
    stock_is(env.hz, env.a, 5, 1)
    stock_is(env.hz, env.b, 3, 1)
    stock_is(env.gz, env.b, 5, 0)


def test_split_by_warehouse_when_allowed(env):
    s = rules.order_settings(tenant_id=env.tenant.pk)
    s.allow_split = True
    s.save()
    env.receive(env.hz, env.a, 5)
    env.receive(env.gz, env.b, 5)
    order = env.ingest("A5", lines=[("SKU-A", 2, "10.00"), ("SKU-B", 1, "20.00")])
    children = services.order_allocate(order=order)
    order.refresh_from_db()
    assert order.status == "split"
    assert reserved_for(order) == {}
    assert [(c.status, c.warehouse_id, c.kind) for c in children] == [("allocated", env.hz.pk, "split"),
                                                                      ("allocated", env.gz.pk, "split")]
    assert [(ln.sku_id, ln.quantity, ln.source_line.order_id) for c in children for ln in c.lines.all()] == [
        (env.a.pk, 2, order.pk), (env.b.pk, 1, order.pk)]
    assert reserved_for(children[0]) == {(env.hz.pk, env.a.pk): 2}
    assert reserved_for(children[1]) == {(env.gz.pk, env.b.pk): 1}
    stock_is(env.hz, env.a, 5, 2)
    stock_is(env.gz, env.b, 5, 1)
    assert {s.platform_order_id for s in OrderSource.objects.filter(order__in=children)} == {"A5"}
    from orders.selectors import order_platform_refs

    assert order_platform_refs(order=children[1]) == [(env.shop.pk, "A5")]


def test_split_by_quantity_when_no_warehouse_has_a_whole_line(env):
    s = rules.order_settings(tenant_id=env.tenant.pk)
    s.allow_split = True
    s.save()
    env.receive(env.hz, env.a, 3)
    env.receive(env.gz, env.a, 2)
    order = env.ingest("A6", lines=[("SKU-A", 5, "10.00")])
    children = services.order_allocate(order=order)
    assert sorted((c.warehouse_id, c.lines.get().quantity) for c in children) == sorted(
        [(env.hz.pk, 3), (env.gz.pk, 2)])
    stock_is(env.hz, env.a, 3, 3)
    stock_is(env.gz, env.a, 2, 2)


def test_manual_reallocation_moves_the_reservation_and_refuses_a_short_warehouse(env, owner):
    env.receive(env.hz, env.a, 5)
    env.receive(env.gz, env.a, 1)
    order = env.ingest("A7", lines=[("SKU-A", 2, "10.00")])
    [done] = services.order_allocate(order=order)
    assert done.warehouse_id == env.hz.pk
    with pytest.raises(services.OrderActionError, match="广州仓 库存不足：SKU-A 缺 1"):
        services.order_allocate(order=order, warehouse_id=env.gz.pk, actor=owner)
    env.receive(env.gz, env.a, 1)
    [moved] = services.order_allocate(order=order, warehouse_id=env.gz.pk, actor=owner)
    assert moved.warehouse_id == env.gz.pk
    stock_is(env.hz, env.a, 5, 0)
    stock_is(env.gz, env.a, 2, 2)
    order.status = "picking"
    Order.objects.filter(pk=order.pk).update(status="picking")
    with pytest.raises(services.OrderActionError, match="不能分仓"):
        services.order_allocate(order=order, warehouse_id=env.hz.pk)


def test_the_allocation_run_serves_urgent_then_older_orders_first(env):
    env.receive(env.hz, env.a, 2)
    t0 = timezone.now() - timedelta(hours=5)
    newer = env.ingest("Q1", paid_at=t0 + timedelta(hours=2))
    older = env.ingest("Q2", paid_at=t0)
    urgent = env.ingest("Q3", paid_at=t0 + timedelta(hours=3), urgent=True)
    # two units: the third order to arrive is held out of stock until more comes
    statuses = {o.platform_order_id: Order.objects.get(pk=o.pk).status for o in (newer, older, urgent)}
    assert statuses == {"Q1": "approved", "Q2": "approved", "Q3": "on_hold"}
    env.receive(env.gz, env.a, 5)
    services.order_reprocess(tenant_id=env.tenant.pk, order_id=urgent.pk)
    assert Order.objects.get(pk=urgent.pk).status == "approved"
    services.orders_allocate_queue(tenant_id=env.tenant.pk)
    # the run's order is visible in the order of the "allocated" events
    events = list(Order.objects.filter(pk__in=[newer.pk, older.pk, urgent.pk]).order_by("events__id")
                  .filter(events__type="allocated").values_list("platform_order_id", flat=True))
    assert events == ["Q3", "Q2", "Q1"]


def test_auto_allocate_switch_is_respected_by_the_dispatcher(env, other_tenant):
    from orders.models import OrderSettings
    from orders.tasks import dispatch_allocation

    OrderSettings.objects.create(tenant=other_tenant, auto_allocate=False)
    factories.TenantFactory(slug="third")
    # counts the tenants an allocation run is queued for (filesystem broker in tests)
    assert dispatch_allocation() == 2
