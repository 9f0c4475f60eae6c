"""Taobao / JD / PDD adapters against a live sandbox marketplace on loopback (no database)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests

from channels.adapters.base import AdapterError, AuthError, InvalidRequest, NormalizeError
from channels.adapters.jd import sign_jos
from channels.adapters.pdd import sign_pdd
from channels.adapters.taobao import sign_top
from channels.models import Listing
from channels.sandbox import generator as gen
from channels.sandbox import taobao as fake_taobao
from orders.canonical import CanonicalOrder, PlatformState

from .conftest import ACCOUNT_KEYS, CN_TZ, SleepRecorder

PLATFORMS = ("taobao", "jd", "pdd")
LIST_API = {"taobao": "taobao.trades.sold.increment.get", "jd": "jingdong.pop.order.search",
            "pdd": "pdd.order.number.list.increment.get"}
PAGE_PARAM = {"taobao": "page_no", "pdd": "page"}


def fetch_all(adapter, start, end) -> list[dict]:
    return [order for page in adapter.fetch_orders(start, end) for order in page]


def page_numbers(sandbox, platform: str) -> list[int]:
    calls = sandbox.state.calls(platform, LIST_API[platform])
    if platform == "jd":
        return [int(json.loads(c[2]["360buy_param_json"])["page"]) for c in calls]
    return [int(c[2][PAGE_PARAM[platform]]) for c in calls]


# ---- full fetch -------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", PLATFORMS)
def test_fetch_over_many_pages_returns_every_order_exactly_once(sandbox, make_adapter, window, platform):
    end = window[1]
    start = end - timedelta(minutes=25)  # one legal window on every platform
    ids = sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 35, start=start, end=end, seed=7)
    # orders of another account, and orders outside the window, must not come back
    sandbox.state.add_account(platform, {"app_key": "other", "client_id": "other", "app_secret": "x",
                                         "client_secret": "x", "session": "x", "access_token": "x"})
    sandbox.state.generate_orders(platform, "other", 3, start=start, end=end, seed=8)
    sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 2, start=start - timedelta(hours=2),
                                  end=start - timedelta(hours=1), seed=9)
    adapter = make_adapter(platform, page_size=10)

    got = [adapter.order_id(o) for o in fetch_all(adapter, start, end)]

    assert sorted(got) == sorted(ids)
    if platform == "jd":
        assert page_numbers(sandbox, platform) == [1, 2, 3, 4]
    else:  # one counting call, then from the last page backwards
        assert page_numbers(sandbox, platform) == [1, 4, 3, 2, 1]


def _expected_state(platform: str, truth: gen.SandboxOrder) -> str:
    return {gen.UNPAID: PlatformState.UNPAID, gen.PAID: PlatformState.PAID, gen.SHIPPED: PlatformState.SHIPPED,
            gen.COMPLETED: PlatformState.COMPLETED, gen.CANCELLED: PlatformState.CANCELLED}[truth.status]


def _expected_refund(platform: str, truth: gen.SandboxOrder, line: gen.SandboxLine) -> str:
    if platform == "taobao":
        return line.refund
    if platform == "jd":
        return ""  # the order list carries no per-line refund state
    refunds = {ln.refund for ln in truth.lines}
    if truth.status == gen.CANCELLED or refunds == {"refunded"}:
        return "refunded"
    return "requested" if refunds - {""} else ""


@pytest.mark.parametrize("platform", PLATFORMS)
def test_normalize_generated_orders(sandbox, make_adapter, window, platform):
    start, end = window
    sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 60, start=start, end=end, seed=11)
    adapter = make_adapter(platform)
    raws = fetch_all(adapter, start, end)
    assert len(raws) == 60
    seen_states, multi_line, with_note, with_oaid = set(), 0, 0, 0
    for raw in raws:
        order = adapter.normalize(raw)
        truth = sandbox.state.order(platform, order.platform_order_id)
        assert isinstance(order, CanonicalOrder)
        assert order.platform == platform
        assert order.state == _expected_state(platform, truth), (order.platform_status, truth.status)
        for amount in (order.paid_amount, order.goods_amount, order.shipping_amount, order.discount_amount):
            assert isinstance(amount, Decimal)
        assert order.paid_amount == truth.payment
        assert order.goods_amount == truth.goods_total
        assert order.shipping_amount == truth.post_fee
        assert order.discount_amount == truth.discount
        assert order.placed_at == truth.created and order.placed_at.utcoffset() == timedelta(hours=8)
        assert order.modified_at == truth.modified
        assert order.paid_at == truth.paid_at
        r = truth.receiver
        if truth.oaid:  # a Taobao privacy order: its receiver comes masked, beside the oaid
            assert order.receiver_oaid == truth.oaid
            with_oaid += 1
            r = fake_taobao.mask_receiver(r)
            assert "*" in order.receiver_name and "****" in order.receiver_phone
        else:
            assert order.receiver_oaid == ""
        assert (order.receiver_name, order.receiver_phone) == (r["name"], r["phone"])
        assert order.receiver_phone[0] == "1" and order.receiver_phone[1] in "3456789"
        assert len(order.receiver_phone) == 11
        assert (order.receiver_province, order.receiver_city, order.receiver_district) == (
            r["province"], r["city"], r["district"])
        if platform == "jd":
            assert order.receiver_address == r["province"] + r["city"] + r["district"] + r["town"] + r["address"]
        else:
            assert order.receiver_address == r["town"] + r["address"]
        assert order.buyer_note == truth.buyer_note
        assert order.seller_note == truth.seller_note
        assert len(order.lines) == len(truth.lines)
        for line, t in zip(order.lines, truth.lines, strict=True):
            assert line.quantity == t.quantity
            assert isinstance(line.unit_price, Decimal) and line.unit_price == t.price
            assert line.title == t.title
            assert line.outer_sku_id == t.outer_id
            assert line.platform_sku_id == t.sku_id
            assert line.sku_id is None
            assert line.refund_status == _expected_refund(platform, truth, t)
            if platform == "taobao":
                assert line.platform_line_id == t.line_id
                assert line.amount == t.payment
            else:
                assert line.platform_line_id == t.sku_id
            assert line.platform_item_id == t.item_id
        seen_states.add(order.state)
        multi_line += len(order.lines) > 1
        with_note += bool(order.buyer_note)
    assert PlatformState.PAID in seen_states and len(seen_states) >= 3
    assert multi_line > 0 and with_note > 0
    assert (with_oaid > 0) == (platform == "taobao")


def test_taobao_status_map_and_flags(make_adapter, sandbox, window):
    start, end = window
    (tid,) = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 1, start=start, end=end,
                                           seed=1, status="paid")
    adapter = make_adapter("taobao")
    expected = {"WAIT_PRE_AUTH_CONFIRM": PlatformState.UNPAID, "PAY_PENDING": PlatformState.UNPAID,
                "SELLER_CONSIGNED_PART": PlatformState.PAID, "PAID_FORBID_CONSIGN": PlatformState.PAID,
                "TRADE_BUYER_SIGNED": PlatformState.COMPLETED, "TRADE_CLOSED_BY_TAOBAO": PlatformState.CANCELLED}
    for status, state in expected.items():
        raw = sandbox.state.modify_order("taobao", tid, platform_status=status)
        order = adapter.normalize(raw)
        assert order.state == state and order.platform_status == status
    blocked = adapter.normalize(sandbox.state.modify_order("taobao", tid, platform_status="PAID_FORBID_CONSIGN"))
    assert blocked.ship_blocks == {"forbid_consign": "PAID_FORBID_CONSIGN"}
    assert adapter.normalize(sandbox.state.modify_order("taobao", tid, platform_status="")).ship_blocks == {}


def test_refund_and_address_changes_show_up_in_the_next_pull(sandbox, make_adapter, window):
    start, end = window
    tid, other = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 2, start=start, end=end,
                                               seed=3, status="paid")
    later = end + timedelta(minutes=2)
    sandbox.state.modify_order("taobao", tid, refund="refunded", modified=later)
    sandbox.state.modify_order("taobao", other, receiver={"city": "杭州市", "province": "浙江省",
                                                          "district": "西湖区", "address": "文三路90号"},
                               modified=later)
    adapter = make_adapter("taobao")
    orders = {o.platform_order_id: o for o in map(adapter.normalize, fetch_all(adapter, end, later))}
    assert orders[tid].state == PlatformState.CANCELLED
    assert orders[tid].platform_status == "TRADE_CLOSED"
    assert {ln.refund_status for ln in orders[tid].lines} == {"refunded"}
    assert orders[other].receiver_city == "杭州市" and orders[other].receiver_address.endswith("文三路90号")
    assert orders[other].modified_at == later


# ---- authentication and signatures ------------------------------------------------------------

BAD_SIGN_TEXT = {"taobao": "Invalid signature", "jd": "签名无效", "pdd": "签名校验失败"}
SECRET_KEY = {"taobao": "app_secret", "jd": "app_secret", "pdd": "client_secret"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_bad_signature_is_a_non_retryable_error_with_the_platform_message(sandbox, make_adapter, window, platform):
    from .conftest import CREDENTIALS

    creds = {**CREDENTIALS[platform], SECRET_KEY[platform]: "wrong-secret"}
    adapter = make_adapter(platform, credentials=creds)
    with pytest.raises((AuthError, InvalidRequest)) as info:
        fetch_all(adapter, *window)
    assert info.value.retryable is False
    assert BAD_SIGN_TEXT[platform] in str(info.value)
    assert len(sandbox.state.calls(platform)) == 1


def _stale_call(sandbox, platform: str):
    from .conftest import CREDENTIALS

    c = CREDENTIALS[platform]
    old = datetime.now(CN_TZ) - timedelta(minutes=11)
    if platform == "taobao":
        p = {"method": "taobao.item.quantity.update", "app_key": c["app_key"], "session": c["session"],
             "timestamp": old.strftime("%Y-%m-%d %H:%M:%S"), "format": "json", "v": "2.0",
             "sign_method": "md5", "num_iid": "1", "quantity": "1"}
        p["sign"] = sign_top(p, c["app_secret"], "md5")
        return requests.post(f"{sandbox.url}/taobao/router/rest", data=p, timeout=5).json()
    if platform == "jd":
        p = {"method": "jingdong.stock.write.updateSkuStock", "app_key": c["app_key"],
             "access_token": c["access_token"], "timestamp": old.strftime("%Y-%m-%d %H:%M:%S"),
             "format": "json", "v": "2.0", "360buy_param_json": '{"skuId":"1","stockNum":"1"}'}
        p["sign"] = sign_jos(p, c["app_secret"])
        return requests.post(f"{sandbox.url}/jd/routerjson", data=p, timeout=5).json()
    p = {"type": "pdd.goods.quantity.update", "client_id": c["client_id"], "access_token": c["access_token"],
         "timestamp": str(int(old.timestamp())), "data_type": "JSON", "version": "V1", "goods_id": "1",
         "sku_id": "1", "quantity": "1"}
    p["sign"] = sign_pdd(p, c["client_secret"])
    return requests.post(f"{sandbox.url}/pdd/api/router", data=p, timeout=5).json()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_sandbox_rejects_stale_timestamps(sandbox, platform):
    body = _stale_call(sandbox, platform)
    assert "error_response" in body
    assert sandbox.state.pushes == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_session_expired_raises_auth_error_without_retry(sandbox, make_adapter, window, platform):
    sandbox.state.inject(platform, "session_expired")
    adapter = make_adapter(platform)
    with pytest.raises(AuthError) as info:
        fetch_all(adapter, *window)
    assert info.value.retryable is False
    assert len(sandbox.state.calls(platform)) == 1
    assert adapter._sleep.calls == []


# ---- faults ------------------------------------------------------------------------------------

def _listing(platform: str, sandbox) -> Listing:
    return Listing(platform_item_id="600123450001", platform_sku_id="4800123450011", outer_id="TS-001-RED-M")


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("kind, count", [("http500", 4), ("throttle", 4), ("http429", 4), ("malformed", 4),
                                         ("timeout", 2)])
def test_faults_are_retried_and_the_call_succeeds(sandbox, make_adapter, platform, kind, count):
    adapter = make_adapter(platform)
    assert count < adapter.max_attempts
    if kind == "timeout":
        adapter.timeout = (2.0, 0.25)
        sandbox.state.timeout_delay = 0.8
    sandbox.state.inject(platform, kind, count=count)

    adapter.push_stock(_listing(platform, sandbox), 17)

    assert len(sandbox.state.calls(platform)) == count + 1
    assert [p["quantity"] for p in sandbox.state.pushes] == [17]  # faulted calls were not applied
    assert len(adapter._sleep.calls) == count
    if kind == "http429":  # Retry-After honoured
        assert adapter._sleep.calls == [float(sandbox.state.retry_after)] * count


@pytest.mark.parametrize("platform", PLATFORMS)
def test_faults_beyond_max_attempts_give_up_with_a_retryable_error(sandbox, make_adapter, platform):
    adapter = make_adapter(platform)
    sandbox.state.inject(platform, "http500", count=adapter.max_attempts)
    with pytest.raises(AdapterError) as info:
        adapter.push_stock(_listing(platform, sandbox), 3)
    assert info.value.retryable is True
    assert len(sandbox.state.calls(platform)) == adapter.max_attempts
    assert sandbox.state.pushes == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_faults_in_the_middle_of_paging_do_not_lose_orders(sandbox, make_adapter, window, platform):
    start, end = window
    ids = sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 25, start=start, end=end, seed=5)
    adapter = make_adapter(platform, page_size=10)
    for kind in ("http500", "malformed", "throttle", "http429"):
        sandbox.state.inject(platform, kind)
    got = [adapter.order_id(o) for o in fetch_all(adapter, start, end)]
    assert sorted(got) == sorted(ids)


# ---- windows and limits ------------------------------------------------------------------------

def test_pdd_rejects_a_window_ending_less_than_three_minutes_ago(sandbox, make_adapter):
    now = datetime.now(CN_TZ)
    adapter = make_adapter("pdd")
    with pytest.raises(InvalidRequest) as info:
        fetch_all(adapter, now - timedelta(minutes=10), now)
    assert "3分钟" in str(info.value)
    # the same window ending at now - lag is accepted
    assert fetch_all(adapter, now - timedelta(minutes=10), now - adapter.lag - timedelta(seconds=5)) == []


def test_pdd_rejects_a_span_over_30_minutes(sandbox, make_adapter):
    end = datetime.now(CN_TZ) - timedelta(minutes=5)
    adapter = make_adapter("pdd")
    with pytest.raises(InvalidRequest, match="30分钟"):
        adapter.call("pdd.order.number.list.increment.get", {
            "start_updated_at": int((end - timedelta(minutes=31)).timestamp()), "end_updated_at": int(end.timestamp()),
            "order_status": 5, "refund_status": 5, "page": 1, "page_size": 10}, "order_sn_increment_get_response")


def test_taobao_rejects_a_window_over_one_day_and_page_size_over_100(sandbox, make_adapter):
    adapter = make_adapter("taobao")
    end = datetime.now(CN_TZ)
    base = {"fields": "tid", "page_no": 1}
    with pytest.raises(InvalidRequest, match="isv.invalid-parameter"):
        adapter.call("taobao.trades.sold.increment.get", {
            **base, "start_modified": (end - timedelta(days=1, seconds=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "end_modified": end.strftime("%Y-%m-%d %H:%M:%S"), "page_size": 10})
    with pytest.raises(InvalidRequest, match="page_size"):
        adapter.call("taobao.trades.sold.increment.get", {
            **base, "start_modified": (end - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"),
            "end_modified": end.strftime("%Y-%m-%d %H:%M:%S"), "page_size": 101})


def test_jd_rejects_a_span_over_one_month(sandbox, make_adapter):
    adapter = make_adapter("jd")
    end = datetime.now(CN_TZ)
    with pytest.raises(InvalidRequest, match="一个月"):
        adapter._search({"start_date": (end - timedelta(days=40)).strftime("%Y-%m-%d %H:%M:%S"),
                         "end_date": end.strftime("%Y-%m-%d %H:%M:%S"), "order_state": "WAIT_SELLER_STOCK_OUT",
                         "page": 1, "page_size": 10, "dateType": 0})


def test_adapters_slice_long_ranges_into_legal_windows(sandbox, make_adapter):
    end = datetime.now(CN_TZ).replace(microsecond=0) - timedelta(minutes=5)
    start = end - timedelta(hours=3)
    ids = sandbox.state.generate_orders("pdd", ACCOUNT_KEYS["pdd"], 20, start=start, end=end, seed=2)
    adapter = make_adapter("pdd")
    got = {adapter.order_id(o) for o in fetch_all(adapter, start, end)}
    assert got == set(ids)
    for _, _, params, _ in sandbox.state.calls("pdd", LIST_API["pdd"]):
        assert int(params["end_updated_at"]) - int(params["start_updated_at"]) <= 1800


# ---- modification while paging -------------------------------------------------------------------

class _ForwardPaging:
    """What the adapter would do if it paged forward: used to prove the fault really bites."""

    def _page_order(self, pages):
        return range(1, pages + 1)


@pytest.mark.parametrize("platform", ("taobao", "pdd"))
def test_modify_during_paging_does_not_make_backwards_paging_miss_an_order(sandbox, make_adapter, window,
                                                                           platform):
    end = window[1]
    start = end - timedelta(minutes=25)  # one window, four pages
    ids = sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 35, start=start, end=end, seed=21)
    sandbox.state.inject(platform, "modify_during_paging", count=3)
    adapter = make_adapter(platform, page_size=10)

    got = {adapter.order_id(o) for o in fetch_all(adapter, start, end)}

    bumped = {i for i in ids if sandbox.state.order(platform, i).modified > end}
    assert len(bumped) == 3  # they left the window: the next window picks them up
    still_in_window = set(ids) - bumped
    assert still_in_window <= got

    # the same faults against forward paging lose orders that never left the window
    forward_cls = type("Forward", (_ForwardPaging, type(adapter)), {})
    forward = forward_cls(adapter.shop, sleep=SleepRecorder())
    forward.page_size = 10
    sandbox.state.inject(platform, "modify_during_paging", count=3)
    before = {i for i in ids if sandbox.state.order(platform, i).modified <= end}
    got_forward = {forward.order_id(o) for o in fetch_all(forward, start, end)}
    after = {i for i in ids if sandbox.state.order(platform, i).modified <= end}
    assert after < before  # the fault did move orders out
    assert not after <= got_forward


def test_jd_repages_a_window_whose_total_changed(sandbox, make_adapter, window):
    start, end = window
    ids = sandbox.state.generate_orders("jd", ACCOUNT_KEYS["jd"], 35, start=start, end=end, seed=22)
    sandbox.state.inject("jd", "modify_during_paging", count=2)
    adapter = make_adapter("jd", page_size=10)
    got = [adapter.order_id(o) for o in fetch_all(adapter, start, end)]
    in_window = {i for i in ids if sandbox.state.order("jd", i).modified <= end}
    assert len(in_window) == 33
    assert in_window <= set(got)
    assert len(got) == len(set(got))  # each order yielded once


# ---- stock and shipment ------------------------------------------------------------------------

@pytest.mark.parametrize("platform, item_id, sku_id", [
    ("taobao", "600123450001", "4800123450011"),
    ("jd", "", "4800123450011"),
    ("pdd", "600123450001", "4800123450011"),
])
def test_push_stock_is_recorded_with_the_absolute_quantity(sandbox, make_adapter, platform, item_id, sku_id):
    adapter = make_adapter(platform)
    adapter.push_stock(_listing(platform, sandbox), 42)
    adapter.push_stock(_listing(platform, sandbox), 0)
    pushes = sandbox.state.pushes
    assert [(p["platform"], p["item_id"], p["sku_id"], p["quantity"], p["mode"]) for p in pushes] == [
        (platform, item_id, sku_id, 42, "absolute"), (platform, item_id, sku_id, 0, "absolute")]
    assert pushes[0]["at"].tzinfo is not None


def test_taobao_push_without_sku_sends_the_item_only(sandbox, make_adapter):
    adapter = make_adapter("taobao")
    adapter.push_stock(Listing(platform_item_id="600123450009", platform_sku_id=""), 5)
    (push,) = sandbox.state.pushes
    assert (push["item_id"], push["sku_id"], push["quantity"]) == ("600123450009", "", 5)
    params = sandbox.state.calls("taobao", "taobao.item.quantity.update")[0][2]
    assert params["type"] == "1" and "sku_id" not in params


@pytest.mark.parametrize("platform, carrier, recorded", [("taobao", "YTO", "YTO"), ("jd", "YTO", "463"),
                                                         ("pdd", "YTO", "85")])
def test_confirm_shipment_is_recorded_and_the_order_becomes_shipped(sandbox, make_adapter, window, platform,
                                                                    carrier, recorded):
    start, end = window
    (order_id,) = sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 1, start=start, end=end,
                                                seed=4, status="paid")
    sandbox.state.modify_order(platform, order_id, refund="")  # no pending after-sale (JD would lock it)
    adapter = make_adapter(platform)
    adapter.confirm_shipment(order=SimpleNamespace(platform_order_id=order_id), carrier_code=carrier,
                             tracking_number="YT1234567890123")
    (shipment,) = sandbox.state.shipments
    assert (shipment["platform"], shipment["order_id"], shipment["carrier"], shipment["tracking_number"]) == (
        platform, order_id, recorded, "YT1234567890123")
    raw = next(o for o in sandbox.state.orders(platform) if adapter.order_id(o) == order_id)
    assert adapter.normalize(raw).state == PlatformState.SHIPPED

    with pytest.raises(AdapterError) as info:  # shipping twice is refused, and not retried
        adapter.confirm_shipment(order=SimpleNamespace(platform_order_id=order_id), carrier_code=carrier,
                                 tracking_number="YT1234567890123")
    assert info.value.retryable is False
    assert len(sandbox.state.shipments) == 1


def test_jd_and_pdd_refuse_unknown_carriers_before_calling(sandbox, make_adapter):
    for platform in ("jd", "pdd"):
        with pytest.raises(InvalidRequest):
            make_adapter(platform).confirm_shipment(order=SimpleNamespace(platform_order_id="1"),
                                                    carrier_code="NOPE", tracking_number="1")
    assert sandbox.state.request_log == []


# ---- normalisation errors and split_page ---------------------------------------------------------

BREAKERS = {
    "taobao": [("status", None), ("payment", "12.x"), ("created", "2024/06/01"), ("orders", {"order": []})],
    "jd": [("orderState", "SOMETHING_NEW"), ("orderPayment", "abc"), ("modified", ""), ("itemInfoList", [])],
    "pdd": [("order_status", 9), ("pay_amount", "NaN"), ("updated_at", "yesterday"), ("item_list", None)],
}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_garbled_orders_raise_normalize_error(sandbox, make_adapter, window, platform):
    start, end = window
    sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 1, start=start, end=end, seed=6)
    (raw,) = sandbox.state.orders(platform)
    adapter = make_adapter(platform)
    adapter.normalize(raw)
    for key, value in BREAKERS[platform]:
        broken = dict(raw)
        if value is None:
            broken.pop(key)
        else:
            broken[key] = value
        with pytest.raises(NormalizeError, match=adapter.order_id(raw)):
            adapter.normalize(broken)


def test_money_is_exact_even_from_json_numbers(sandbox, make_adapter, window):
    start, end = window
    (sn,) = sandbox.state.generate_orders("pdd", ACCOUNT_KEYS["pdd"], 1, start=start, end=end, seed=1)
    raw = sandbox.state.orders("pdd")[0]
    wire = json.loads(json.dumps({**raw, "pay_amount": 0.1 + 0.2 - 0.3 + 19.99, "postage": 7}))
    order = make_adapter("pdd").normalize(wire)
    assert order.paid_amount == Decimal(repr(0.1 + 0.2 - 0.3 + 19.99))
    assert order.shipping_amount == Decimal("7")
    order = make_adapter("pdd").normalize({**raw, "pay_amount": 59.9})
    assert order.paid_amount == Decimal("59.9")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_split_page_accepts_a_page_as_received_or_a_single_order(sandbox, make_adapter, window, platform):
    start, end = window
    sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 3, start=start, end=end, seed=6)
    adapter = make_adapter(platform)
    raws = sandbox.state.orders(platform)
    page = {
        "taobao": {"trades_sold_increment_get_response": {"total_results": 3, "trades": {"trade": raws}}},
        "jd": {"jingdong_pop_order_search_responce": {"code": "0", "searchorderinfo_result": {
            "orderInfoList": raws, "orderTotal": 3, "apiResult": {"success": True}}}},
        "pdd": {"order_sn_increment_get_response": {"order_sn_list": raws, "total_count": 3}},
    }[platform]
    assert adapter.split_page(page) == raws
    assert adapter.split_page(raws[0]) == [raws[0]]
    with pytest.raises(NormalizeError):
        adapter.split_page({"something": "else"})


def test_trickle_creates_paid_orders_now(sandbox):
    stop = sandbox.state.start_trickle("taobao", ACCOUNT_KEYS["taobao"], per_minute=600)
    deadline = time.time() + 3
    while len(sandbox.state.orders("taobao")) < 3 and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    orders = sandbox.state.orders("taobao")
    assert len(orders) >= 3
    assert all(o["status"] in ("WAIT_SELLER_SEND_GOODS", "TRADE_CLOSED") for o in orders)


def test_control_endpoints(sandbox):
    url = sandbox.url
    creds = {"app_key": "ctl", "app_secret": "s", "session": "t"}
    assert requests.post(f"{url}/_control/accounts", json={"platform": "taobao", "credentials": creds},
                         timeout=5).ok
    ids = requests.post(f"{url}/_control/generate", json={"platform": "taobao", "account_key": "ctl", "n": 4},
                        timeout=5).json()["order_ids"]
    assert len(ids) == 4
    assert requests.post(f"{url}/_control/faults", json={"platform": "jd", "kind": "http500", "count": 2},
                         timeout=5).ok
    state = requests.get(f"{url}/_control/state", timeout=5).json()
    assert state["orders"]["taobao"] == 4 and "ctl" in state["accounts"]["taobao"]
    assert ["jd", "http500", 2] in state["faults"]
    bad = requests.post(f"{url}/_control/faults", json={"platform": "jd", "kind": "nope"}, timeout=5)
    assert bad.status_code == 400
