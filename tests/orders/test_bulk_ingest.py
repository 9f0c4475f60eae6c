"""The bulk page ingest writes exactly what the one-order path writes, order for order."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Sum

from channels import services as channel_services
from channels.adapters import get_adapter
from channels.models import Listing, RawOrder
from channels.sandbox import generator as gen
from channels.sandbox import taobao as fake_taobao
from inventory import services as stock
from inventory.models import Reservation, StockLevel, StockMovement
from orders.models import Blacklist, Hold, Order, OrderEvent
from tests import factories

pytestmark = pytest.mark.django_db

SKUS = [tuple(s) for s in gen.DEFAULT_SKUS]


def world(tenant):
    shop = factories.ShopFactory(tenant=tenant, platform="taobao", name="淘宝店")
    w1 = factories.WarehouseFactory(tenant=tenant, code="A", priority=1)
    w2 = factories.WarehouseFactory(tenant=tenant, code="B", priority=2)
    for n, (outer, item, sku_id, title, price) in enumerate(SKUS[:-1]):  # the last SKU stays unmapped
        sku = factories.SkuFactory(tenant=tenant, code=outer, name=title, reference_price=price)
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=w1.pk, sku_id=sku.pk, quantity=3 + n)
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=w2.pk, sku_id=sku.pk, quantity=2)
        Listing.objects.create(tenant=tenant, shop=shop, sku=sku, platform_item_id=item, platform_sku_id=sku_id)
    Blacklist.objects.create(tenant=tenant, kind="phone", value="13800000000")
    return shop


def payloads(n=80):
    import random

    rng = random.Random(5)
    end = gen.truncate(gen.datetime.now(gen.CN_TZ)) - timedelta(minutes=5)
    out = []
    for i in range(n):
        order = gen.make_order("taobao", "acc", str(5_000_000_000 + i * 10), rng, start=end - timedelta(hours=3),
                               end=end, skus=SKUS)
        if i % 7 == 0:  # a duplicate of the previous buyer's order, minutes later
            prev = out[-1][1] if out else None
            if prev is not None:
                order.buyer_nick = prev.buyer_nick
                order.lines = [gen.SandboxLine(**{**ln.__dict__, "line_id": str(int(order.order_id) + k + 1)})
                               for k, ln in enumerate(prev.lines)]
                order.created = prev.created + timedelta(minutes=3)
        if i % 11 == 0:
            order.receiver["phone"] = "13800000000"
        if i % 13 == 5 and order.status == gen.PAID:  # Taobao forbids shipping it for now
            order.platform_status = "PAID_FORBID_CONSIGN"
        if i % 17 == 3 and order.status == gen.PAID:  # the buyer asked for a refund of the first line
            order.lines[0].refund = "requested"
        out.append((fake_taobao.render(order), order))
    out.sort(key=lambda pair: (pair[1].paid_at or pair[1].created, pair[1].order_id))
    return [p for p, _o in out]


def snapshot(tenant):
    orders = {}
    for o in Order.objects.filter(tenant=tenant).prefetch_related("holds", "events", "lines"):
        res = Counter((r.sku.code, r.warehouse.code if r.warehouse else None, r.quantity, r.status)
                      for r in Reservation.objects.filter(tenant=tenant, order_id=o.pk).select_related("sku", "warehouse"))
        orders[o.platform_order_id] = {
            "status": o.status,
            "holds": sorted((h.reason, h.detail, str(h.data)) for h in o.holds.all()),
            "platform_values": o.platform_values,
            "events": sorted((e.type, e.message, str(e.before), str(e.after)) for e in o.events.all()),
            "lines": sorted((ln.platform_line_id, ln.sku.code if ln.sku else None, ln.quantity) for ln in o.lines.all()),
            "reservations": res,
        }
    levels = {(lv.warehouse.code, lv.sku.code): (lv.on_hand, lv.reserved)
              for lv in StockLevel.objects.filter(tenant=tenant).select_related("warehouse", "sku")}
    return orders, levels


def test_bulk_page_ingest_matches_the_one_by_one_path(tenant, other_tenant):
    data = payloads()
    shop_a, shop_b = world(tenant), world(other_tenant)
    adapter_a, adapter_b = get_adapter(shop_a), get_adapter(shop_b)
    counts_a = channel_services.Counts()
    for p in data:
        channel_services.raw_receive(shop=shop_a, payload=p, adapter=adapter_a, source="pull", counts=counts_a)
    counts_b = channel_services.Counts()
    for i in range(0, len(data), 25):
        channel_services.raw_receive_page(shop=shop_b, payloads=data[i:i + 25], adapter=adapter_b, source="pull",
                                          counts=counts_b)
    assert counts_a.summary() == counts_b.summary()
    orders_a, levels_a = snapshot(tenant)
    orders_b, levels_b = snapshot(other_tenant)
    assert set(orders_a) == set(orders_b)
    for pid in orders_a:
        assert orders_a[pid] == orders_b[pid], pid
    assert levels_a == levels_b
    # the mix really exercised every branch
    statuses = Counter(o["status"] for o in orders_b.values())
    reasons = Counter(r for o in orders_b.values() for r, _d, _data in o["holds"])
    assert statuses["approved"] and statuses["on_hold"] and statuses["cancelled"]
    assert {"out_of_stock", "unmapped_sku", "blacklist", "duplicate", "refund", "forbid_ship"} <= set(reasons)
    for t in (tenant, other_tenant):
        for lv in StockLevel.objects.filter(tenant=t):
            agg = StockMovement.objects.filter(warehouse=lv.warehouse, sku=lv.sku).aggregate(
                oh=Sum("on_hand_delta"), rs=Sum("reserved_delta"))
            assert (lv.on_hand, lv.reserved) == (agg["oh"], agg["rs"])


def test_a_repulled_page_is_unchanged_and_a_page_with_known_orders_updates_them(tenant):
    data = payloads(30)
    shop = world(tenant)
    adapter = get_adapter(shop)
    first = channel_services.raw_receive_page(shop=shop, payloads=data, adapter=adapter, source="pull")
    assert first.created == 30
    before = (Order.objects.count(), OrderEvent.objects.count(), StockMovement.objects.count(), Hold.objects.count())
    again = channel_services.raw_receive_page(shop=shop, payloads=data, adapter=adapter, source="pull")
    assert again.summary() == {"received": 30, "created": 0, "updated": 0, "unchanged": 30, "failed": 0}
    assert (Order.objects.count(), OrderEvent.objects.count(), StockMovement.objects.count(),
            Hold.objects.count()) == before


def test_a_bad_payload_in_a_page_is_archived_failed_and_the_rest_land(tenant):
    data = payloads(10)
    shop = world(tenant)
    broken = dict(data[3])
    broken["payment"] = "garbage"
    data[3] = broken
    counts = channel_services.raw_receive_page(shop=shop, payloads=data, adapter=get_adapter(shop), source="pull")
    assert (counts.created, counts.failed) == (9, 1)
    assert Order.objects.count() == 9


def _with(payload: dict, **changes) -> dict:
    return {**payload, **changes}


def _shift(stamp: str, minutes: int) -> str:
    from datetime import datetime

    return (datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S") + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")


def test_a_page_is_forward_only_on_the_platform_modified_time(tenant):
    data = [p for p in payloads(40) if p["status"] == "WAIT_SELLER_SEND_GOODS"][:6]
    shop = world(tenant)
    adapter = get_adapter(shop)
    assert channel_services.raw_receive_page(shop=shop, payloads=data, adapter=adapter, source="pull").created == 6
    before = {o.platform_order_id: (o.status, o.buyer_note, o.platform_modified_at)
              for o in Order.objects.filter(tenant=tenant)}
    events = OrderEvent.objects.count()
    # the same orders again: three with an older modified time (new payloads, so not caught by
    # the archive), three newer with a changed buyer note
    older = [_with(p, modified=_shift(p["modified"], -1), buyer_message="旧的留言") for p in data[:3]]
    newer = [_with(p, modified=_shift(p["modified"], 5), buyer_message="新的留言") for p in data[3:]]
    counts = channel_services.raw_receive_page(shop=shop, payloads=older + newer, adapter=adapter, source="pull")
    assert counts.summary() == {"received": 6, "created": 0, "updated": 3, "unchanged": 3, "failed": 0}
    after = {o.platform_order_id: o for o in Order.objects.filter(tenant=tenant)}
    for p in data[:3]:
        assert (after[p["tid_str"]].status, after[p["tid_str"]].buyer_note,
                after[p["tid_str"]].platform_modified_at) == before[p["tid_str"]]
    for p in data[3:]:
        assert after[p["tid_str"]].buyer_note == "新的留言"
    assert OrderEvent.objects.count() > events
    assert set(RawOrder.objects.filter(tenant=tenant).values_list("outcome", flat=True)) == {"created", "updated",
                                                                                            "unchanged"}


@pytest.mark.postgres  # SQLite does not enforce a decimal column's digits
def test_a_page_the_database_refuses_is_replayed_one_by_one_and_nothing_half_written_stays(tenant):
    """An amount too big for the column fails the bulk INSERT: the page is rolled back (no
    reservation, ledger row or event of it survives) and replayed order by order -- the bad
    order is archived failed with its error, the others land, stock agrees with the ledger."""
    data = [p for p in payloads(40) if p["status"] == "WAIT_SELLER_SEND_GOODS"][:8]
    data[2] = _with(data[2], payment="123456789012345.00")
    shop = world(tenant)
    counts = channel_services.raw_receive_page(shop=shop, payloads=data, adapter=get_adapter(shop), source="pull")
    assert (counts.created, counts.failed) == (7, 1)
    assert not Order.objects.filter(tenant=tenant, platform_order_id=data[2]["tid_str"]).exists()
    bad = RawOrder.objects.get(tenant=tenant, platform_order_id=data[2]["tid_str"])
    assert bad.outcome == "failed" and bad.error and bad.attempts == 1
    assert RawOrder.objects.filter(tenant=tenant, outcome="created").count() == 7
    orders = set(Order.objects.filter(tenant=tenant).values_list("pk", flat=True))
    assert set(Reservation.objects.filter(tenant=tenant).values_list("order_id", flat=True)) <= orders
    assert set(OrderEvent.objects.filter(tenant=tenant).values_list("order_id", flat=True)) == orders
    for lv in StockLevel.objects.filter(tenant=tenant):
        agg = StockMovement.objects.filter(warehouse=lv.warehouse, sku=lv.sku).aggregate(
            oh=Sum("on_hand_delta"), rs=Sum("reserved_delta"))
        assert (lv.on_hand, lv.reserved) == (agg["oh"], agg["rs"])
        held = Reservation.objects.filter(tenant=tenant, warehouse=lv.warehouse, sku=lv.sku,
                                          status="active").aggregate(q=Sum("quantity"))["q"] or 0
        assert lv.reserved == held
