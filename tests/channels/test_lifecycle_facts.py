"""Issue 14, Taobao / PDD / JD: the facts the order lifecycle needs (do-not-ship states, oaid,
refund reasons) come out of the adapters from the platforms' own payloads, served by the sandbox
over real HTTP in each platform's wire format (docs/platforms-do-not-ship.md)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from channels.adapters.base import AdapterError
from channels.sandbox import taobao as fake_taobao
from orders.canonical import PlatformState, ShipBlock

from .conftest import ACCOUNT_KEYS

BLOCKED = {"taobao": {ShipBlock.FORBID_CONSIGN: "PAID_FORBID_CONSIGN"},
           "pdd": {ShipBlock.RISK_CONTROL: "risk_control_status=1"},
           "jd": {ShipBlock.PAUSED: "POP_ORDER_PAUSE（POP暂停）"}}
CARRIER = {"taobao": "YTO", "pdd": "YTO", "jd": "YTO"}


def fetch_one(adapter, start, end, order_id: str):
    (raw,) = [o for page in adapter.fetch_orders(start, end) for o in page if adapter.order_id(o) == order_id]
    return raw


def paid_order(sandbox, platform: str, window, seed: int = 5) -> str:
    start, end = window
    (oid,) = sandbox.state.generate_orders(platform, ACCOUNT_KEYS[platform], 1, start=start, end=end - timedelta(
        minutes=30), seed=seed, status="paid")
    return oid


@pytest.mark.parametrize("platform", ["taobao", "pdd", "jd"])
def test_a_do_not_ship_state_shows_in_ship_blocks_and_clears_when_the_platform_clears_it(
        sandbox, make_adapter, window, platform):
    start, end = window
    oid = paid_order(sandbox, platform, window)
    adapter = make_adapter(platform)
    before = adapter.normalize(fetch_one(adapter, start, end, oid))
    assert before.ship_blocks == {} and before.state == PlatformState.PAID

    sandbox.state.modify_order(platform, oid, ship_block=True, modified=end - timedelta(minutes=20))
    blocked = adapter.normalize(fetch_one(adapter, start, end, oid))
    assert blocked.ship_blocks == BLOCKED[platform]
    assert blocked.state == PlatformState.PAID  # paid: reserved, held, not cancelled
    assert not set(blocked.extra) & {"forbid_consign", "paused", "locked"}  # the flags live in ship_blocks only

    sandbox.state.modify_order(platform, oid, ship_block=False, modified=end - timedelta(minutes=10))
    cleared = adapter.normalize(fetch_one(adapter, start, end, oid))
    assert cleared.ship_blocks == {} and cleared.state == PlatformState.PAID
    assert cleared.modified_at > blocked.modified_at > before.modified_at


@pytest.mark.parametrize("platform", ["taobao", "pdd", "jd"])
def test_the_platform_refuses_to_ship_a_blocked_order_and_ships_it_once_cleared(sandbox, make_adapter, window,
                                                                               platform):
    oid = paid_order(sandbox, platform, window, seed=6)
    sandbox.state.modify_order(platform, oid, ship_block=True)
    adapter = make_adapter(platform)
    with pytest.raises(AdapterError) as info:
        adapter.confirm_shipment(order=SimpleNamespace(platform_order_id=oid), carrier_code=CARRIER[platform],
                                 tracking_number="YT9000000000001")
    assert info.value.retryable is False
    assert sandbox.state.shipments == []
    sandbox.state.modify_order(platform, oid, ship_block=False)
    adapter.confirm_shipment(order=SimpleNamespace(platform_order_id=oid), carrier_code=CARRIER[platform],
                             tracking_number="YT9000000000001")
    assert [s["order_id"] for s in sandbox.state.shipments] == [oid]


def test_pdd_refusal_names_the_risk_review(sandbox, make_adapter, window):
    from channels.sandbox.pdd import RISK_CONTROL_REFUSAL

    oid = paid_order(sandbox, "pdd", window, seed=8)
    sandbox.state.modify_order("pdd", oid, ship_block=True)
    with pytest.raises(AdapterError, match=RISK_CONTROL_REFUSAL[0]):
        make_adapter("pdd").confirm_shipment(order=SimpleNamespace(platform_order_id=oid), carrier_code="YTO",
                                             tracking_number="YT9000000000002")


def test_jd_locked_order_is_a_locked_ship_block(sandbox, make_adapter, window):
    start, end = window
    oid = paid_order(sandbox, "jd", window, seed=9)
    adapter = make_adapter("jd")
    truth = sandbox.state.order("jd", oid)
    sandbox.state.modify_order("jd", oid, line_refunds={truth.lines[0].line_id: "requested"},
                               modified=end - timedelta(minutes=20))  # an after-sale request locks the order
    locked = adapter.normalize(fetch_one(adapter, start, end, oid))
    assert locked.platform_status == "LOCKED"
    assert locked.ship_blocks == {ShipBlock.LOCKED: "LOCKED（已锁定）"}
    sandbox.state.modify_order("jd", oid, line_refunds={truth.lines[0].line_id: ""}, modified=end - timedelta(minutes=10))
    assert adapter.normalize(fetch_one(adapter, start, end, oid)).ship_blocks == {}


def test_taobao_forbid_consign_also_comes_through_the_push_fetch(sandbox, make_adapter, window):
    oid = paid_order(sandbox, "taobao", window, seed=10)
    sandbox.state.modify_order("taobao", oid, platform_status="PAID_FORBID_CONSIGN")  # the block IS a status
    adapter = make_adapter("taobao")
    assert adapter.normalize(adapter.fetch_order(oid)).ship_blocks == BLOCKED["taobao"]
    sandbox.state.modify_order("taobao", oid, platform_status="")
    assert adapter.normalize(adapter.fetch_order(oid)).ship_blocks == {}


def test_pdd_risk_review_also_comes_through_the_push_fetch(sandbox, make_adapter, window):
    oid = paid_order(sandbox, "pdd", window, seed=11)
    sandbox.state.modify_order("pdd", oid, ship_block=True)
    raw = make_adapter("pdd").fetch_order(oid)
    assert raw["risk_control_status"] == 1  # the platform's own field, as the wire carries it
    assert make_adapter("pdd").normalize(raw).ship_blocks == BLOCKED["pdd"]


# ---- Taobao oaid ----------------------------------------------------------------------------------

def test_taobao_privacy_orders_carry_their_oaid_and_a_masked_receiver(sandbox, make_adapter, window):
    start, end = window
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 30, start=start, end=end, seed=12)
    adapter = make_adapter("taobao")
    orders = {o.platform_order_id: o for o in map(adapter.normalize, (r for p in adapter.fetch_orders(start, end)
                                                                        for r in p))}
    private = [i for i in ids if sandbox.state.order("taobao", i).oaid]
    assert 0 < len(private) < len(ids)
    for oid in ids:
        truth = sandbox.state.order("taobao", oid)
        order = orders[oid]
        assert order.receiver_oaid == truth.oaid
        if truth.oaid:
            masked = fake_taobao.mask_receiver(truth.receiver)
            assert (order.receiver_name, order.receiver_phone) == (masked["name"], masked["phone"])
            assert order.receiver_name != truth.receiver["name"] and "*" in order.receiver_address
            assert order.receiver_city == truth.receiver["city"]  # the region stays plain
        else:
            assert order.receiver_name == truth.receiver["name"]
        assert "oaid" not in order.extra


def test_taobao_sends_the_oaid_only_when_the_five_receiver_fields_are_asked_for(sandbox, make_adapter, window):
    from channels.adapters.values import format_time

    start, end = window
    ids = sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 20, start=start, end=end, seed=13)
    oid = next(i for i in ids if sandbox.state.order("taobao", i).oaid)
    adapter = make_adapter("taobao")
    base = {"start_modified": format_time(start), "end_modified": format_time(end), "page_size": 100}
    full = adapter.call("taobao.trades.sold.increment.get", {
        **base, "fields": "tid,status,oaid,receiver_name,receiver_mobile,receiver_phone,receiver_address,created"})
    short = adapter.call("taobao.trades.sold.increment.get", {**base, "fields": "tid,status,oaid,receiver_name"})
    assert {t["tid_str"] if "tid_str" in t else str(t["tid"]): t.get("oaid") for t in full["trades"]["trade"]}[oid] \
        == sandbox.state.order("taobao", oid).oaid
    assert not any("oaid" in t for t in short["trades"]["trade"])


# ---- refund reasons: none of the three order payloads carries one -------------------------------

@pytest.mark.parametrize("platform", ["taobao", "pdd", "jd"])
def test_refund_reasons_are_not_invented_where_the_order_payload_has_none(sandbox, make_adapter, window, platform):
    start, end = window
    oid = paid_order(sandbox, platform, window, seed=14)
    sandbox.state.modify_order(platform, oid, refund="requested", refund_reason="不想要了",
                               modified=end - timedelta(minutes=5))
    order = make_adapter(platform).normalize(fetch_one(make_adapter(platform), start, end, oid))
    assert {ln.refund_reason for ln in order.lines} == {""}
    if platform != "jd":  # JD's order list has no per-line refund state (the order is LOCKED instead)
        assert {ln.refund_status for ln in order.lines} == {"requested"}
    assert "不想要了" not in str(fetch_one(make_adapter(platform), start, end, oid))
