"""Amazon / Shopify / WooCommerce / Douyin adapters against live sandbox fakes on loopback."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests

from channels.adapters.base import AdapterError, AuthError, InvalidRequest, NormalizeError
from channels.adapters.douyin import param_json, sign_douyin, verify_push
from channels.adapters.shopify import verify_webhook
from channels.models import Listing
from channels.sandbox import generator as gen
from orders.canonical import PlatformState

from . import ch2_helpers
from .ch2_helpers import (
    ACCOUNT_KEYS2,
    CREDENTIALS2,
    PLATFORMS2,
    FakeClock,
    adapter_for,
    fetch_all,
    window,
)

LIST_API = {"amazon": "getOrders", "shopify": "GET orders", "woocommerce": "GET orders", "douyin": "order.searchList"}

sandbox2 = ch2_helpers.sandbox2  # the fixture


# ---- signing ----------------------------------------------------------------------------------------

def test_douyin_signature_matches_the_published_vector():
    pj = param_json({"z": 2, "nested": {"z": 2, "a": 1}, "a": 1, "dropped": None})
    assert pj == '{"a":1,"nested":{"a":1,"z":2},"z":2}'
    assert sign_douyin(app_key="app-key", secret="secret", method="order.searchList", param_json=pj,
                       timestamp="1700000000") == "53e8b7af0b657637e8a8013bb6b2a2c41b5da7f0dff35d98de3e9ae3e9c0a442"


def test_douyin_param_json_keeps_unicode_and_slashes_unescaped():
    assert param_json({"b": "抖店/订单", "a": [{"y": None, "x": 1}]}) == '{"a":[{"x":1}],"b":"抖店/订单"}'


def test_push_signature_checks_accept_good_and_reject_bad():
    body = b'[{"tag":"101","msg_id":"1","data":"{}"}]'
    good = hashlib.md5(b"k" + body + b"s").hexdigest()
    assert verify_push(app_key="k", app_secret="s", body=body, event_sign=good)
    assert not verify_push(app_key="k", app_secret="s", body=body + b" ", event_sign=good)
    assert not verify_push(app_key="k", app_secret="x", body=body, event_sign=good)
    import base64
    sig = base64.b64encode(hmac.new(b"sec", b'{"id":1}', hashlib.sha256).digest()).decode()
    assert verify_webhook("sec", b'{"id":1}', sig)
    assert not verify_webhook("sec", b'{"id":2}', sig)
    assert not verify_webhook("", b'{"id":1}', sig)


# ---- full fetch -----------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", PLATFORMS2)
def test_fetch_over_many_pages_returns_every_order_exactly_once(sandbox2, platform):
    start, end = window(25)
    ids = sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 35, start=start, end=end, seed=7)
    sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 2, start=start - timedelta(hours=3),
                                   end=start - timedelta(hours=2), seed=9)  # outside the window
    adapter = adapter_for(sandbox2, platform, page_size=10)
    got = [adapter.order_id(o) for o in fetch_all(adapter, start, end)]
    assert sorted(got) == sorted(ids)
    calls = sandbox2.state.calls(platform, LIST_API[platform])
    if platform == "woocommerce":  # count, then from the last page backwards
        assert [int(c[2]["page"]) for c in calls] == [1, 4, 3, 2, 1]
    elif platform == "douyin":  # the abnormal_order=2 (risk review) query, then count, then pages 3, 2, 1, 0
        assert len(calls) == 6  # (the page number and the filter travel in param_json)
    else:  # cursor / NextToken: 4 pages
        assert len(calls) == 4
        assert sum(1 for c in calls if c[2].get("NextToken") or c[2].get("page_info")) == 3


def _expected_state(platform, truth):
    if platform == "amazon" and truth.status == gen.COMPLETED:
        return PlatformState.SHIPPED  # Amazon has no "completed"
    if platform in ("shopify", "woocommerce") and truth.status == gen.COMPLETED:
        return PlatformState.SHIPPED
    return {gen.UNPAID: PlatformState.UNPAID, gen.PAID: PlatformState.PAID, gen.SHIPPED: PlatformState.SHIPPED,
            gen.COMPLETED: PlatformState.COMPLETED, gen.CANCELLED: PlatformState.CANCELLED}[truth.status]


@pytest.mark.parametrize("platform", PLATFORMS2)
def test_normalize_generated_orders(sandbox2, platform):
    start, end = window(50)
    sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 40, start=start, end=end, seed=11)
    adapter = adapter_for(sandbox2, platform)
    raws = fetch_all(adapter, start, end)
    assert len(raws) == 40
    states = set()
    for raw in raws:
        order = adapter.normalize(raw)
        truth = sandbox2.state.order(platform, order.platform_order_id)
        assert order.state == _expected_state(platform, truth), (order.platform_status, truth.status)
        assert order.currency == truth.currency
        if not (platform == "amazon" and truth.status == gen.UNPAID):
            assert order.paid_amount == truth.payment
        assert order.goods_amount == truth.goods_total
        assert order.shipping_amount == truth.post_fee
        assert order.discount_amount == truth.discount
        assert order.placed_at == truth.created and order.modified_at == truth.modified
        r = truth.receiver
        if platform == "amazon" and truth.status in (gen.UNPAID, gen.CANCELLED):
            # ordersV0.json: ShippingAddress only for Unshipped, PartiallyShipped, Shipped, InvoiceUnconfirmed
            assert (order.receiver_name, order.receiver_city, order.receiver_postcode) == ("", "", "")
        else:
            assert (order.receiver_name, order.receiver_phone, order.receiver_city) == (r["name"], r["phone"],
                                                                                        r["city"])
        if platform == "amazon" and truth.status in (gen.UNPAID, gen.CANCELLED):
            pass
        elif platform == "douyin":
            assert order.receiver_address == r["town"] + r["address"]
            assert (order.receiver_province, order.receiver_district) == (r["province"], r["district"])
        else:
            assert order.receiver_country == r["country"] and order.receiver_postcode == r["zip"]
            assert order.receiver_address == r["address"]
        assert len(order.lines) == len(truth.lines)
        for line, t in zip(order.lines, truth.lines, strict=True):
            assert line.platform_line_id == t.line_id
            assert line.quantity == t.quantity and line.unit_price == t.price
            assert line.outer_sku_id == t.outer_id
        assert order.fulfilled_by_platform == (truth.fulfillment == "AFN")
        states.add(order.state)
    assert PlatformState.PAID in states and len(states) >= 3


def test_amazon_keeps_currency_and_marks_fba_orders(sandbox2):
    start, end = window(50)
    ids = sandbox2.state.generate_orders("amazon", ACCOUNT_KEYS2["amazon"], 30, start=start, end=end, seed=3,
                                         status="paid")
    with sandbox2.state.lock:
        for i in ids[:3]:
            o = sandbox2.state.find_order("amazon", ACCOUNT_KEYS2["amazon"], i)
            o.fulfillment, o.currency = "AFN", "EUR"
    adapter = adapter_for(sandbox2, "amazon")
    orders = {o.platform_order_id: o for o in map(adapter.normalize, fetch_all(adapter, start, end))}
    for i in ids[:3]:
        assert orders[i].fulfilled_by_platform is True and orders[i].currency == "EUR"
    assert {orders[i].currency for i in ids[3:]} == {"USD"}
    assert not any(orders[i].fulfilled_by_platform for i in ids[3:] if
                   sandbox2.state.order("amazon", i).fulfillment == "MFN")


def test_douyin_receiver_is_decrypted_through_batch_decrypt(sandbox2):
    start, end = window(30)
    ids = sandbox2.state.generate_orders("douyin", ACCOUNT_KEYS2["douyin"], 3, start=start, end=end, seed=4)
    adapter = adapter_for(sandbox2, "douyin")
    raws = fetch_all(adapter, start, end)
    assert all(r["encrypt_post_tel"].startswith("#") for r in raws)  # ciphertext on the wire
    assert len(sandbox2.state.calls("douyin", "order.batchDecrypt")) == 1
    assert sorted(sandbox2.state.extra["douyin_decrypted"]) == sorted(i for i in ids for _ in range(3))
    masked = adapter.normalize({k: v for k, v in raws[0].items() if k != "_oms_decrypted"})
    assert "****" in masked.receiver_phone  # without decryption only the mask is known


# ---- credentials, tokens ------------------------------------------------------------------------

BAD = {"amazon": {"client_secret": "wrong"}, "shopify": {"access_token": "wrong"},
       "woocommerce": {"consumer_secret": "wrong"}, "douyin": {"app_secret": "wrong"}}


@pytest.mark.parametrize("platform", PLATFORMS2)
def test_bad_credentials_are_a_non_retryable_error(sandbox2, platform):
    adapter = adapter_for(sandbox2, platform, credentials={**CREDENTIALS2[platform], **BAD[platform]})
    with pytest.raises((AuthError, InvalidRequest)) as info:
        fetch_all(adapter, *window(20))
    assert info.value.retryable is False
    assert adapter._sleep.calls == []


@pytest.mark.parametrize("platform", ["amazon", "douyin"])
def test_token_expiry_mid_pull_refreshes_once_and_continues(sandbox2, platform):
    start, end = window(25)
    ids = sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 30, start=start, end=end, seed=5)
    adapter = adapter_for(sandbox2, platform, page_size=10)
    pages = adapter.fetch_orders(start, end)
    got = [adapter.order_id(o) for o in next(pages)]
    sandbox2.state.inject(platform, "session_expired")  # the token dies while we page
    got += [adapter.order_id(o) for page in pages for o in page]
    assert sorted(got) == sorted(ids)
    if platform == "amazon":
        assert adapter.token_refreshes == 2  # the first token, then ONE refresh
        assert len(sandbox2.state.extra["amazon_tokens_issued"]) == 2
    else:
        assert len(sandbox2.state.calls("douyin", "token.create")) == 1
        assert len(sandbox2.state.calls("douyin", "token.refresh")) == 1
    # a token that keeps failing is not refreshed in a loop
    sandbox2.state.inject(platform, "session_expired", count=3)
    with pytest.raises(AuthError):
        fetch_all(adapter, start, end)


def test_amazon_token_is_cached_across_adapters(sandbox2):
    start, end = window(10)
    fetch_all(adapter_for(sandbox2, "amazon"), start, end)
    fetch_all(adapter_for(sandbox2, "amazon"), start, end)
    assert len(sandbox2.state.calls("amazon", "lwa")) == 1


def test_amazon_rejects_a_window_ending_less_than_two_minutes_ago(sandbox2):
    from datetime import datetime

    from .ch2_helpers import CN_TZ

    now = datetime.now(CN_TZ)
    with pytest.raises(InvalidRequest, match="two minutes"):
        fetch_all(adapter_for(sandbox2, "amazon"), now - timedelta(minutes=10), now)


# ---- Amazon usage plan ---------------------------------------------------------------------------

def test_amazon_rate_limiter_never_exceeds_the_usage_plan_on_a_1000_order_pull(sandbox2):
    clock = FakeClock()
    sandbox2.state.clock = clock.time
    now = sandbox2.state.now()
    start, end = now - timedelta(hours=3), now - timedelta(minutes=5)
    ids = sandbox2.state.generate_orders("amazon", ACCOUNT_KEYS2["amazon"], 1000, start=start, end=end, seed=1)
    adapter = adapter_for(sandbox2, "amazon", sleep=clock.sleep, clock=clock.time)
    got = [adapter.order_id(o) for o in fetch_all(adapter, start, end)]
    assert sorted(got) == sorted(ids)
    assert sandbox2.state.extra.get("amazon_429", []) == []  # the fake's own usage-plan buckets never tripped
    for api, (rate, burst) in {"getOrders": (0.0167, 20), "getOrderItems": (0.5, 30)}.items():
        stamps = [int(c[3].timestamp()) for c in sandbox2.state.calls("amazon", api)]
        per_second = Counter(stamps)
        first, last = min(stamps), max(stamps)
        # every window of w seconds holds at most burst + rate * w calls (+1: whole-second stamps)
        for w in (1, 10, 60, 600):
            for t0 in range(first, last + 1):
                n = sum(per_second.get(t, 0) for t in range(t0, t0 + w))
                assert n <= burst + rate * w + 1, (api, t0, w, n)
    items = sandbox2.state.calls("amazon", "getOrderItems")
    assert len(items) == 1000
    span = items[-1][3].timestamp() - items[0][3].timestamp()
    assert span >= (1000 - 30) / 0.5 - 2  # the pull took as long as the plan demands (fake time)


# ---- faults ---------------------------------------------------------------------------------------

def _listing(platform):
    if platform == "amazon":
        return Listing(platform_item_id="B000000001", platform_sku_id="", outer_id="TS-001-RED-M")
    return Listing(platform_item_id="600123450001", platform_sku_id="4800123450011", outer_id="TS-001-RED-M")


def _warm(adapter, platform):
    """Token / lookups first, so the injected faults hit the stock call itself."""
    if platform == "amazon":
        adapter.access_token()
    elif platform == "douyin":
        adapter.access_token()
    elif platform == "shopify":
        adapter._inventory_item_id("4800123450011")
        adapter.credentials["location_id"] = adapter._location_id()


@pytest.mark.parametrize("platform", PLATFORMS2)
@pytest.mark.parametrize("kind, count", [("http500", 3), ("throttle", 3), ("http429", 3), ("malformed", 3),
                                         ("timeout", 2)])
def test_faults_are_retried_and_the_call_succeeds(sandbox2, platform, kind, count):
    adapter = adapter_for(sandbox2, platform)
    _warm(adapter, platform)
    if kind == "timeout":
        adapter.timeout = (2.0, 0.25)
        sandbox2.state.timeout_delay = 0.8
    sandbox2.state.retry_after = 1
    sandbox2.state.inject(platform, kind, count=count)
    adapter.push_stock(_listing(platform), 17)
    assert [p["quantity"] for p in sandbox2.state.pushes] == [17]
    assert len(adapter._sleep.calls) >= count


@pytest.mark.parametrize("platform", PLATFORMS2)
def test_faults_beyond_max_attempts_give_up_visibly(sandbox2, platform):
    adapter = adapter_for(sandbox2, platform)
    _warm(adapter, platform)
    sandbox2.state.inject(platform, "http500", count=adapter.max_attempts)
    with pytest.raises(AdapterError) as info:
        adapter.push_stock(_listing(platform), 3)
    assert info.value.retryable is True
    assert sandbox2.state.pushes == []


@pytest.mark.parametrize("platform", PLATFORMS2)
def test_faults_while_paging_do_not_lose_orders(sandbox2, platform):
    start, end = window(25)
    ids = sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 25, start=start, end=end, seed=5)
    adapter = adapter_for(sandbox2, platform, page_size=10)
    sandbox2.state.retry_after = 0
    for kind in ("http500", "malformed", "http429"):
        sandbox2.state.inject(platform, kind)
    assert sorted(adapter.order_id(o) for o in fetch_all(adapter, start, end)) == sorted(ids)


@pytest.mark.parametrize("platform", ["woocommerce", "douyin"])
def test_modify_during_paging_does_not_make_backwards_paging_miss_an_order(sandbox2, platform):
    start, end = window(25)
    ids = sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 35, start=start, end=end, seed=21)
    # Douyin's first list call is the abnormal_order=2 query: it serves nothing to modify
    sandbox2.state.inject(platform, "modify_during_paging", count=4 if platform == "douyin" else 3)
    adapter = adapter_for(sandbox2, platform, page_size=10)
    got = {adapter.order_id(o) for o in fetch_all(adapter, start, end)}
    still_in_window = {i for i in ids if sandbox2.state.order(platform, i).modified <= end}
    assert len(still_in_window) == 32
    assert still_in_window <= got


def test_shopify_slows_down_when_the_leaky_bucket_is_nearly_full(sandbox2):
    clock = FakeClock()
    sandbox2.state.clock = clock.time
    adapter = adapter_for(sandbox2, "shopify", sleep=clock.sleep)
    with sandbox2.state.lock:
        sandbox2.state.extra["shopify_bucket"] = {ACCOUNT_KEYS2["shopify"]: (36.0, clock.time())}
    fetch_all(adapter, *window(10))
    assert clock.sleeps and clock.sleeps[0] == pytest.approx((37 - 32 + 1) / 2.0)
    # a full bucket: 429 with Retry-After, honoured, then the call goes through
    with sandbox2.state.lock:
        sandbox2.state.extra["shopify_bucket"] = {ACCOUNT_KEYS2["shopify"]: (40.0, clock.time())}
    clock.sleeps.clear()
    fetch_all(adapter, *window(10))
    assert 1.0 in clock.sleeps


def test_shopify_page_info_requests_may_carry_only_limit_and_fields(sandbox2):
    start, end = window(20)
    sandbox2.state.generate_orders("shopify", ACCOUNT_KEYS2["shopify"], 5, start=start, end=end, seed=1)
    base = f"{sandbox2.url}/shopify/admin/api/2024-01/orders.json"
    headers = {"X-Shopify-Access-Token": CREDENTIALS2["shopify"]["access_token"]}
    first = requests.get(base, params={"status": "any", "limit": 2}, headers=headers, timeout=5)
    nxt = first.links["next"]["url"]
    bad = requests.get(nxt + "&status=any", headers=headers, timeout=5)
    assert bad.status_code == 400 and "page_info" in bad.text
    good = requests.get(nxt, headers=headers, timeout=5)  # the link as given works
    assert good.status_code == 200 and len(good.json()["orders"]) == 2
    assert requests.get(base, headers={"X-Shopify-Access-Token": "nope"}, timeout=5).status_code == 401


# ---- stock and shipment ----------------------------------------------------------------------------

@pytest.mark.parametrize("platform, item, sku, outer", [
    ("amazon", "TS-001-RED-M", "", "TS-001-RED-M"),
    ("shopify", "4801123450011", "4800123450011", ""),
    ("woocommerce", "600123450001", "4800123450011", ""),
    ("douyin", "600123450001", "4800123450011", ""),
])
def test_push_stock_is_recorded_with_the_absolute_quantity(sandbox2, platform, item, sku, outer):
    adapter = adapter_for(sandbox2, platform)
    adapter.push_stock(_listing(platform), 42)
    adapter.push_stock(_listing(platform), 0)
    got = [(p["item_id"], p["sku_id"], p["outer_id"], p["quantity"], p["mode"]) for p in sandbox2.state.pushes]
    assert got == [(item, sku, outer, 42, "absolute"), (item, sku, outer, 0, "absolute")]


@pytest.mark.parametrize("platform, recorded", [("amazon", "YTO Express"), ("shopify", "YTO Express"),
                                                ("woocommerce", "note"), ("douyin", "yuantong")])
def test_confirm_shipment_is_recorded_and_the_order_becomes_shipped(sandbox2, platform, recorded):
    start, end = window(30)
    (oid,) = sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 1, start=start, end=end, seed=4,
                                            status="paid")
    with sandbox2.state.lock:
        sandbox2.state.find_order(platform, ACCOUNT_KEYS2[platform], oid).fulfillment = "MFN"
    truth = sandbox2.state.order(platform, oid)
    order = SimpleNamespace(platform_order_id=oid, fulfilled_by_platform=False,
                            lines=[SimpleNamespace(platform_line_id=ln.line_id, quantity=ln.quantity)
                                   for ln in truth.lines])
    adapter = adapter_for(sandbox2, platform)
    adapter.confirm_shipment(order=order, carrier_code="YTO", tracking_number="YT1234567890123")
    (shipment,) = sandbox2.state.shipments
    assert shipment["order_id"] == oid and shipment["carrier"] == recorded
    if platform == "woocommerce":
        assert "YT1234567890123" in shipment["tracking_number"]  # the customer note carries it
    else:
        assert shipment["tracking_number"] == "YT1234567890123"
    assert adapter.normalize(adapter.fetch_order(oid)).state == PlatformState.SHIPPED
    if platform != "woocommerce":  # shipping twice is refused, and not retried
        with pytest.raises(AdapterError) as info:
            adapter.confirm_shipment(order=order, carrier_code="YTO", tracking_number="YT1234567890123")
        assert info.value.retryable is False
        assert len(sandbox2.state.shipments) == 1


def test_amazon_refuses_to_confirm_an_fba_order_before_calling(sandbox2):
    adapter = adapter_for(sandbox2, "amazon")
    with pytest.raises(InvalidRequest):
        adapter.confirm_shipment(order=SimpleNamespace(platform_order_id="1", fulfilled_by_platform=True, lines=[]),
                                 carrier_code="SF", tracking_number="SF1")
    assert sandbox2.state.request_log == []


# ---- normalisation errors -------------------------------------------------------------------------

BREAKERS = {
    "amazon": [("OrderStatus", "Teleported"), ("LastUpdateDate", "yesterday"), ("OrderItems", None)],
    "shopify": [("financial_status", "bartered"), ("total_price", "abc"), ("line_items", [])],
    "woocommerce": [("status", "lost"), ("total", "x"), ("date_modified_gmt", "soon")],
    "douyin": [("order_status", 42), ("pay_amount", "1.5"), ("sku_order_list", [])],
}


@pytest.mark.parametrize("platform", PLATFORMS2)
def test_garbled_orders_raise_normalize_error(sandbox2, platform):
    start, end = window(20)
    (oid,) = sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 1, start=start, end=end, seed=6,
                                            status="paid")
    adapter = adapter_for(sandbox2, platform)
    raw = adapter.fetch_order(oid)
    assert adapter.normalize(raw).paid_amount == sandbox2.state.order(platform, oid).payment
    for key, value in BREAKERS[platform]:
        broken = dict(raw)
        if value is None:
            broken.pop(key)
        else:
            broken[key] = value
        with pytest.raises(NormalizeError, match=oid):
            adapter.normalize(broken)


def test_money_is_exact(sandbox2):
    start, end = window(20)
    (oid,) = sandbox2.state.generate_orders("douyin", ACCOUNT_KEYS2["douyin"], 1, start=start, end=end, seed=6)
    adapter = adapter_for(sandbox2, "douyin")
    raw = adapter.fetch_order(oid)
    assert adapter.normalize({**raw, "pay_amount": 1999}).paid_amount == Decimal("19.99")
    assert adapter.normalize({**raw, "post_amount": 1}).shipping_amount == Decimal("0.01")
