"""The pull pipeline end to end against the sandbox marketplaces over real HTTP:
adapter -> raw archive -> normalise -> order_ingest -> reservation -> availability push."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from channels import services, tasks
from channels.adapters.base import get_adapter
from channels.models import ChannelCall, Listing, PullRun, RawOrder, Shop
from channels.sandbox.generator import DEFAULT_SKUS
from inventory import services as stock
from inventory.models import Sku, StockLevel, StockMovement
from orders.models import Order, OrderEvent
from tests import factories
from tests.channels.conftest import ACCOUNT_KEYS, CREDENTIALS, SleepRecorder
from tests.helpers import clear_cache

PLATFORMS = ["taobao", "jd", "pdd"]


def make_shop(tenant, sandbox, platform, *, stock_each=1000, name=None):
    shop = factories.ShopFactory(tenant=tenant, platform=platform, name=name or f"{platform}店",
                                 credentials=dict(CREDENTIALS[platform]), api_base_url=f"{sandbox.url}/{platform}")
    wh = factories.WarehouseFactory(tenant=tenant, code=f"WH-{platform}")
    for outer_id, item_id, sku_id, title, price in DEFAULT_SKUS:
        sku = Sku.objects.filter(tenant=tenant, code=outer_id).first() or factories.SkuFactory(
            tenant=tenant, code=outer_id, name=title, reference_price=price)
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=stock_each)
        Listing.objects.create(tenant=tenant, shop=shop, sku=sku, platform_item_id=item_id, platform_sku_id=sku_id,
                               outer_id=outer_id)
    return shop


def pull(shop, sandbox, now, **kw):
    adapter = get_adapter(Shop.objects.get(pk=shop.pk), sleep=SleepRecorder())
    adapter.page_size = kw.pop("page_size", 20)
    return services.shop_pull(tenant_id=shop.tenant_id, shop_id=shop.pk, now=now, adapter=adapter)


def ledger_matches_levels():
    for lv in StockLevel.objects.all():
        agg = StockMovement.objects.filter(warehouse=lv.warehouse, sku=lv.sku).aggregate(
            oh=Sum("on_hand_delta"), rs=Sum("reserved_delta"))
        assert (lv.on_hand, lv.reserved) == (agg["oh"], agg["rs"])


def advance(sandbox, *, minutes):
    """Move the sandbox platforms' clock forward (their 'now' checks follow it)."""
    import time

    sandbox.state.clock = lambda: time.time() + minutes * 60


@pytest.fixture
def now(sandbox):
    return sandbox.state.now()


@pytest.mark.django_db
@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_full_pull_lands_every_order_normalised_and_reserved(platform, tenant, sandbox, now):
    shop = make_shop(tenant, sandbox, platform)
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=2))
    ids = sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 45, seed=7, status="paid",
                                        start=now - timedelta(minutes=110), end=now - timedelta(minutes=10))
    run = pull(shop, sandbox, now)
    assert run.status == "ok", run.error
    assert (run.fetched, run.created, run.failed) == (45, 45, 0)
    assert set(Order.objects.filter(shop=shop).values_list("platform_order_id", flat=True)) == set(ids)
    assert RawOrder.objects.filter(shop=shop).count() == 45
    # every line mapped through the listings and reserved, unit for unit
    units = sum(ln.quantity for pid in ids for ln in sandbox.state.order(platform, pid).lines)
    assert StockLevel.objects.filter(tenant=tenant).aggregate(r=Sum("reserved"))["r"] == units
    assert not Order.objects.filter(shop=shop, lines__sku__isnull=True).exists()
    assert Order.objects.filter(shop=shop, status="approved").count() + Order.objects.filter(
        shop=shop, status="on_hold").count() == 45
    shop.refresh_from_db()
    assert shop.high_water_mark == run.window_end
    ledger_matches_levels()


@pytest.mark.django_db
@pytest.mark.parametrize("platform", PLATFORMS)
def test_repulling_the_same_window_ten_times_changes_nothing(platform, tenant, sandbox, now):
    shop = make_shop(tenant, sandbox, platform)
    start = now - timedelta(hours=1)
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=start)
    sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 25, seed=3, status="paid",
                                  start=start + timedelta(minutes=1), end=now - timedelta(minutes=10))
    pull(shop, sandbox, now)
    snapshot = (Order.objects.count(), StockMovement.objects.count(), OrderEvent.objects.count(),
                RawOrder.objects.count())
    for _ in range(10):
        Shop.objects.filter(pk=shop.pk).update(high_water_mark=start)
        run = pull(shop, sandbox, now)
        assert (run.created, run.updated, run.unchanged) == (0, 0, 25)
    assert (Order.objects.count(), StockMovement.objects.count(), OrderEvent.objects.count(),
            RawOrder.objects.count()) == snapshot


@pytest.mark.django_db
@pytest.mark.parametrize("platform", ["taobao", "pdd"])
def test_orders_modified_while_paging_are_not_missed(platform, tenant, sandbox, now):
    shop = make_shop(tenant, sandbox, platform)
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 60, seed=11, status="paid",
                                        start=now - timedelta(minutes=55), end=now - timedelta(minutes=10))
    sandbox.state.inject(platform, "modify_during_paging", count=2)
    run = pull(shop, sandbox, now, page_size=10)
    assert run.status == "ok", run.error
    landed = set(Order.objects.filter(shop=shop).values_list("platform_order_id", flat=True))
    # the pages shifted under the puller; only the orders bumped to "now" (outside this window)
    # may still be missing, and the next pull, starting at the mark minus the overlap, gets them
    assert len(set(ids) - landed) <= 2
    advance(sandbox, minutes=10)
    run = pull(shop, sandbox, now + timedelta(minutes=10), page_size=10)
    assert run.status == "ok", run.error
    assert set(Order.objects.filter(shop=shop).values_list("platform_order_id", flat=True)) == set(ids)


@pytest.mark.django_db
def test_late_updates_cancel_and_change_address(tenant, sandbox, now):
    platform = "taobao"
    shop = make_shop(tenant, sandbox, platform)
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 5, seed=5, status="paid",
                                        start=now - timedelta(minutes=50), end=now - timedelta(minutes=20))
    pull(shop, sandbox, now)
    reserved_before = StockLevel.objects.aggregate(r=Sum("reserved"))["r"]
    later = now + timedelta(minutes=20)
    advance(sandbox, minutes=20)
    sandbox.state.modify_order(platform, ids[0], status="cancelled", modified=later - timedelta(minutes=5))
    sandbox.state.modify_order(platform, ids[1], receiver={"address": "新地址路 88 号 3 幢 101 室"},
                               modified=later - timedelta(minutes=4))
    run = pull(shop, sandbox, later)
    assert run.updated == 2, run.error
    cancelled = Order.objects.get(platform_order_id=ids[0])
    assert cancelled.status == "cancelled"
    assert StockLevel.objects.aggregate(r=Sum("reserved"))["r"] == reserved_before - sum(
        cancelled.lines.values_list("quantity", flat=True))
    moved = Order.objects.get(platform_order_id=ids[1])
    assert "新地址路 88 号" in moved.receiver_address
    assert OrderEvent.objects.filter(order=moved, type="address_changed").exists()
    ledger_matches_levels()


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["http500", "throttle", "http429", "malformed"])
def test_transient_faults_are_retried_and_nothing_is_lost(fault, tenant, sandbox, now):
    shop = make_shop(tenant, sandbox, "taobao")
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 30, seed=2, status="paid",
                                        start=now - timedelta(minutes=50), end=now - timedelta(minutes=10))
    sandbox.state.retry_after = 0
    sandbox.state.inject("taobao", fault, count=2)
    run = pull(shop, sandbox, now)
    assert run.status == "ok", run.error
    assert Order.objects.filter(shop=shop).count() == len(ids)


@pytest.mark.django_db
def test_expired_session_fails_the_pull_visibly_and_the_next_pull_catches_up(tenant, sandbox, now):
    shop = make_shop(tenant, sandbox, "taobao")
    mark = now - timedelta(hours=1)
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=mark)
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 12, seed=9, status="paid",
                                        start=now - timedelta(minutes=50), end=now - timedelta(minutes=10))
    sandbox.state.inject("taobao", "session_expired", count=1)
    run = pull(shop, sandbox, now)
    assert run.status == "failed"
    assert run.error  # the platform's message, shown to ops
    shop.refresh_from_db()
    assert shop.last_pull_error == run.error
    assert shop.high_water_mark < now - timedelta(minutes=10)  # not advanced past what did not commit
    run = pull(shop, sandbox, now + timedelta(minutes=1))
    assert run.status == "ok"
    assert Order.objects.filter(shop=shop).count() == len(ids)
    shop.refresh_from_db()
    assert shop.last_pull_error == ""


@pytest.mark.django_db
def test_a_payload_that_fails_to_normalise_is_archived_and_ingests_after_replay(tenant, sandbox):
    shop = make_shop(tenant, sandbox, "taobao")
    adapter = get_adapter(shop)
    good = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 1, seed=1, status="paid",
                                         start=sandbox.state.now() - timedelta(minutes=30),
                                         end=sandbox.state.now() - timedelta(minutes=10))[0]
    from channels.sandbox import taobao as fake_taobao

    trade = fake_taobao.render(sandbox.state.order("taobao", good))
    broken = dict(trade)
    broken["payment"] = "not-a-number"
    counts = services.ingest_payload(shop=shop, payload=broken)
    assert counts.summary() == {"received": 1, "created": 0, "updated": 0, "unchanged": 0, "failed": 1}
    raw = RawOrder.objects.get(shop=shop)
    assert raw.outcome == "failed" and "payment" in raw.error
    assert not Order.objects.exists()
    # ops fix the payload (e.g. after an adapter fix) and replay it from the archive
    RawOrder.objects.filter(pk=raw.pk).update(payload=trade)
    assert services.raw_replay(tenant_id=tenant.pk, raw_id=raw.pk) == "created"
    assert Order.objects.get().platform_order_id == adapter.order_id(trade)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_pulls_of_one_shop_only_one_runs(tenant, sandbox, now):
    shop = make_shop(tenant, sandbox, "taobao")
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 40, seed=4, status="paid",
                                  start=now - timedelta(minutes=50), end=now - timedelta(minutes=10))
    results, barrier = [], threading.Barrier(4)

    def work():
        try:
            barrier.wait()
            results.append(pull(shop, sandbox, now).pk)
        except services.ShopBusy:
            results.append("busy")
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("busy") >= 1
    assert PullRun.objects.count() == len([r for r in results if r != "busy"])
    assert Order.objects.count() == 40


@pytest.mark.django_db
def test_the_lock_expires_when_a_worker_died(tenant):
    shop = factories.ShopFactory(tenant=tenant)
    assert services.shop_lock_acquire(shop_id=shop.pk) is not None
    assert services.shop_lock_acquire(shop_id=shop.pk) is None
    assert services.shop_lock_acquire(shop_id=shop.pk, ttl=timedelta(seconds=-1)) is None
    Shop.objects.filter(pk=shop.pk).update(pull_lock_until=Shop.objects.get(pk=shop.pk).pull_lock_until
                                           - timedelta(hours=1))
    assert services.shop_lock_acquire(shop_id=shop.pk) is not None


@pytest.mark.django_db
def test_dispatch_enqueues_only_due_enabled_shops(tenant, monkeypatch):
    from django.utils import timezone

    due = factories.ShopFactory(tenant=tenant, name="due")
    factories.ShopFactory(tenant=tenant, name="recent", last_pull_at=timezone.now() - timedelta(minutes=3))
    factories.ShopFactory(tenant=tenant, name="off", enabled=False)
    custom = factories.ShopFactory(tenant=tenant, name="five", pull_interval_minutes=5,
                                   last_pull_at=timezone.now() - timedelta(minutes=6))
    assert sorted(services.shops_due()) == sorted([(tenant.pk, due.pk), (tenant.pk, custom.pk)])
    assert services.shops_due() == []  # claimed: a second beat does not dispatch them again


@pytest.mark.django_db
def test_push_goes_to_every_shop_listing_the_sku_with_the_formula(tenant, sandbox):
    wh1 = factories.WarehouseFactory(tenant=tenant, code="A", name="仓A")
    wh2 = factories.WarehouseFactory(tenant=tenant, code="B", name="仓B")
    sku = factories.SkuFactory(tenant=tenant, code="TS-001-RED-M")
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh1.pk, sku_id=sku.pk, quantity=40)
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh2.pk, sku_id=sku.pk, quantity=7)
    listings = []
    for platform, ratio, safety in (("taobao", Decimal("1"), 10), ("jd", Decimal("0.5"), 0), ("pdd", Decimal("1"), 0)):
        shop = factories.ShopFactory(tenant=tenant, platform=platform, name=platform, safety_stock=safety,
                                     allocation_ratio=ratio, credentials=dict(CREDENTIALS[platform]),
                                     api_base_url=f"{sandbox.url}/{platform}")
        if platform == "pdd":
            shop.warehouses.set([wh2], through_defaults={"tenant_id": shop.tenant_id})  # only B serves this shop
        listings.append(Listing.objects.create(tenant=tenant, shop=shop, sku=sku, platform_item_id="600123450001",
                                               platform_sku_id="4800123450011", outer_id=sku.code))
    for listing in listings:
        services.listing_push(tenant_id=tenant.pk, listing_id=listing.pk)
    pushed = {p["platform"]: p["quantity"] for p in sandbox.state.pushes}
    assert pushed == {"taobao": 37, "jd": 23, "pdd": 7}
    explained = services.sku_channel_availability(shop=listings[0].shop, sku_id=sku.pk).explain()
    assert explained == "37：仓A 40 + 仓B 7 − 安全库存 10"
    assert ChannelCall.objects.filter(kind="push_stock", ok=True).count() == 3


@pytest.mark.django_db
def test_combo_availability_is_limited_by_its_scarcest_component(tenant):
    wh = factories.WarehouseFactory(tenant=tenant)
    combo = factories.SkuFactory(tenant=tenant, code="SET", is_combo=True)
    a, b = factories.SkuFactory(tenant=tenant, code="A"), factories.SkuFactory(tenant=tenant, code="B")
    factories.SkuComponentFactory(tenant=tenant, combo=combo, component=a, quantity=2)
    factories.SkuComponentFactory(tenant=tenant, combo=combo, component=b, quantity=1)
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=a.pk, quantity=9)
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=b.pk, quantity=100)
    shop = factories.ShopFactory(tenant=tenant, safety_stock=1)
    avail = services.sku_channel_availability(shop=shop, sku_id=combo.pk)
    assert avail.quantity == 3 and avail.limited_by == "A"


@pytest.mark.django_db
def test_a_burst_of_changes_coalesces_into_one_push_with_the_final_value(tenant, sandbox, monkeypatch):
    """Without a worker: 1,000 stock changes queue ONE push; when it runs it sends the final value."""
    sent = []
    monkeypatch.setattr(tasks.push_listing, "apply_async", lambda args, countdown: sent.append(args))
    clear_cache()
    wh = factories.WarehouseFactory(tenant=tenant)
    sku = factories.SkuFactory(tenant=tenant, code="TS-001-RED-M")
    shop = factories.ShopFactory(tenant=tenant, platform="taobao", credentials=dict(CREDENTIALS["taobao"]),
                                 api_base_url=f"{sandbox.url}/taobao")
    listing = Listing.objects.create(tenant=tenant, shop=shop, sku=sku, platform_item_id="600123450001",
                                     platform_sku_id="4800123450011")
    for _ in range(1000):
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=1)
        services.schedule_availability_push(tenant_id=tenant.pk, sku_ids=[sku.pk])
    assert len(sent) == 1
    tasks.push_listing.run(*sent[0])
    assert [p["quantity"] for p in sandbox.state.pushes] == [1000]
    # the next change after the push queues a new one
    services.schedule_availability_push(tenant_id=tenant.pk, sku_ids=[sku.pk])
    assert len(sent) == 2
    assert listing.pk == sent[1][1]


@pytest.mark.django_db
def test_ingest_payload_command_prints_a_summary(tenant, sandbox, tmp_path, capsys):
    import json

    from django.core.management import call_command

    shop = make_shop(tenant, sandbox, "taobao", name="淘宝店")
    now = sandbox.state.now()
    sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 3, seed=8, status="paid",
                                  start=now - timedelta(minutes=30), end=now - timedelta(minutes=10))
    adapter = get_adapter(shop, sleep=SleepRecorder())
    page = next(iter(adapter.fetch_orders(now - timedelta(minutes=31), now - timedelta(minutes=9))))
    payload = {"trades_sold_increment_get_response": {"total_results": len(page), "has_next": False,
                                                       "trades": {"trade": page}}}
    f = tmp_path / "page.json"
    f.write_text(json.dumps(payload, ensure_ascii=False))
    call_command("ingest_payload", "--tenant", tenant.slug, "--shop", "淘宝店", str(f))
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out == {"received": 3, "created": 3, "updated": 0, "unchanged": 0, "failed": 0}
    call_command("ingest_payload", "--tenant", tenant.slug, "--shop", "淘宝店", str(f))
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out == {"received": 3, "created": 0, "updated": 0, "unchanged": 3, "failed": 0}


@pytest.mark.django_db
def test_a_merged_order_confirms_the_shipment_to_every_source_order(tenant, sandbox, now):
    from orders import services as order_services

    shop = make_shop(tenant, sandbox, "taobao")
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 2, seed=31, status="paid",
                                        start=now - timedelta(minutes=50), end=now - timedelta(minutes=10))
    first = sandbox.state._get("taobao", ids[0])
    second = sandbox.state._get("taobao", ids[1])
    second.buyer_nick, second.receiver = first.buyer_nick, dict(first.receiver)
    second.oaid = first.oaid  # one receiver: Taobao gives both trades the same oaid
    second.buyer_note = first.buyer_note = second.seller_note = first.seller_note = ""
    pull(shop, sandbox, now)
    orders = list(Order.objects.filter(shop=shop).order_by("pk"))
    merged = order_services.order_merge(orders=orders)
    calls = services.shipment_confirm(tenant_id=tenant.pk, order_id=merged.pk, shipment_id=1, carrier_code="SF",
                                      tracking_number="SF1234567890")
    assert len(calls) == 2 and all(c.ok for c in calls)
    assert sorted(s["order_id"] for s in sandbox.state.shipments) == sorted(ids)
    # a retried task confirms nothing twice
    assert services.shipment_confirm(tenant_id=tenant.pk, order_id=merged.pk, shipment_id=1, carrier_code="SF",
                                     tracking_number="SF1234567890") == []
    assert len(sandbox.state.shipments) == 2
