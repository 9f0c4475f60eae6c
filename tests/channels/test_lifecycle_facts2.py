"""Issue 14, Amazon / Shopify / WooCommerce / Douyin: do-not-ship states, buyer e-mails and refund
reasons from the platforms' own payloads, served by the sandbox fakes over real HTTP; Amazon's
personal data only through a Restricted Data Token (docs/platforms-do-not-ship.md)."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
from django.urls import reverse

from channels.adapters import get_adapter
from channels.adapters.base import AdapterError
from channels.models import RawOrder
from channels.sandbox import generator as gen
from orders.canonical import PlatformState, ShipBlock

from . import ch2_helpers
from .ch2_helpers import ACCOUNT_KEYS2, CREDENTIALS2, adapter_for, fetch_all, window
from .test_channels2_pipeline import make_shop2

sandbox2 = ch2_helpers.sandbox2  # the fixture


def paid(sandbox, platform: str, seed: int = 3, n: int = 1) -> list[str]:
    start, end = window(50)
    ids = sandbox.state.generate_orders(platform, ACCOUNT_KEYS2[platform], n, start=start, end=end - timedelta(
        minutes=30), seed=seed, status="paid")
    with sandbox.state.lock:
        for i in ids:
            sandbox.state.find_order(platform, ACCOUNT_KEYS2[platform], i).fulfillment = "MFN"
    return ids


def pulled(adapter, order_id: str):
    (raw,) = [o for o in fetch_all(adapter, *window(50)) if adapter.order_id(o) == order_id]
    return adapter.normalize(raw)


# ---- do-not-ship states ---------------------------------------------------------------------------

BLOCKS = {
    "amazon": ("Ordered by mistake.", {ShipBlock.CANCEL_REQUESTED: "Ordered by mistake."}),
    "shopify": ("incorrect_address", {ShipBlock.PLATFORM_HOLD: "on_hold incorrect_address"}),
    "douyin": (True, {ShipBlock.RISK_CONTROL: "abnormal_order=2（风控审核中）"}),
}


@pytest.mark.parametrize("platform", ["amazon", "shopify", "douyin"])
def test_a_do_not_ship_state_shows_in_ship_blocks_and_clears(sandbox2, platform):
    (oid,) = paid(sandbox2, platform)
    value, expected = BLOCKS[platform]
    _start, end = window(50)
    adapter = adapter_for(sandbox2, platform)
    assert pulled(adapter, oid).ship_blocks == {}
    sandbox2.state.modify_order(platform, oid, ship_block=value, modified=end - timedelta(minutes=20))
    blocked = pulled(adapter, oid)
    assert blocked.ship_blocks == expected and blocked.state == PlatformState.PAID
    assert "ship_blocks_unknown" not in blocked.extra
    assert adapter.normalize(adapter.fetch_order(oid)).ship_blocks == expected  # the push path sees it too
    sandbox2.state.modify_order(platform, oid, ship_block=False, modified=end - timedelta(minutes=10))
    assert pulled(adapter, oid).ship_blocks == {}
    assert adapter.normalize(adapter.fetch_order(oid)).ship_blocks == {}


def test_amazon_cancel_request_is_on_the_order_items_as_the_model_has_it(sandbox2):
    (oid,) = paid(sandbox2, "amazon", seed=4)
    sandbox2.state.modify_order("amazon", oid, ship_block="Found cheaper somewhere else.")
    raw = adapter_for(sandbox2, "amazon").fetch_order(oid)
    assert raw["OrderItems"][-1]["BuyerRequestedCancel"] == {"IsBuyerRequestedCancel": "true",
                                                            "BuyerCancelReason": "Found cheaper somewhere else."}


def test_shopify_hold_is_read_from_the_fulfilment_orders_and_blocks_fulfilment(sandbox2):
    (oid,) = paid(sandbox2, "shopify", seed=5)
    sandbox2.state.modify_order("shopify", oid, ship_block="awaiting a call from the buyer",
                                modified=window(50)[1] - timedelta(minutes=20))
    adapter = adapter_for(sandbox2, "shopify")
    order = pulled(adapter, oid)
    assert order.ship_blocks == {ShipBlock.PLATFORM_HOLD: "on_hold other awaiting a call from the buyer"}
    assert len(sandbox2.state.calls("shopify", "GET orders/{id}/fulfillment_orders")) == 1
    truth = sandbox2.state.order("shopify", oid)
    with pytest.raises(AdapterError, match="nothing left to fulfil"):
        adapter.confirm_shipment(order=SimpleNamespace(platform_order_id=oid), carrier_code="YTO", tracking_number="Y1")
    # a fulfilment asked for anyway is refused by the platform
    resp = requests.post(f"{sandbox2.url}/shopify/admin/api/2024-01/fulfillments.json", timeout=5,
                         headers={"X-Shopify-Access-Token": CREDENTIALS2["shopify"]["access_token"]},
                         json={"fulfillment": {"line_items_by_fulfillment_order": [{"fulfillment_order_id":
                                                                                     int(oid) + 7}],
                                               "tracking_info": {"number": "Y1"}}})
    assert resp.status_code == 422 and sandbox2.state.shipments == []
    assert truth.ship_block == "awaiting a call from the buyer"


def test_shopify_orders_that_cannot_ship_are_not_asked_for_holds(sandbox2):
    start, end = window(50)
    sandbox2.state.generate_orders("shopify", ACCOUNT_KEYS2["shopify"], 6, start=start, end=end, seed=6,
                                   status="shipped")
    adapter = adapter_for(sandbox2, "shopify")
    assert all(not adapter.normalize(r).extra.get("ship_blocks_unknown") for r in fetch_all(adapter, start, end))
    assert sandbox2.state.calls("shopify", "GET orders/{id}/fulfillment_orders") == []


@pytest.mark.parametrize("platform, mark", [("shopify", "_oms_fulfillment_orders"), ("douyin", "_oms_risk_review")])
def test_a_raw_order_without_the_hold_lookup_says_the_blocks_are_unknown(sandbox2, platform, mark):
    (oid,) = paid(sandbox2, platform, seed=7)
    adapter = adapter_for(sandbox2, platform)
    raw = adapter.fetch_order(oid)
    assert mark in raw and "ship_blocks_unknown" not in adapter.normalize(raw).extra
    bare = adapter.normalize({k: v for k, v in raw.items() if k != mark})
    assert bare.ship_blocks == {} and bare.extra["ship_blocks_unknown"] is True


def test_woocommerce_has_no_do_not_ship_state_and_on_hold_is_unpaid(sandbox2):
    (oid,) = paid(sandbox2, "woocommerce", seed=8)
    with pytest.raises(ValueError, match="no do-not-ship state"):
        sandbox2.state.modify_order("woocommerce", oid, ship_block=True)
    sandbox2.state.modify_order("woocommerce", oid, platform_status="on-hold")
    order = adapter_for(sandbox2, "woocommerce").normalize(adapter_for(sandbox2, "woocommerce").fetch_order(oid))
    assert order.state == PlatformState.UNPAID and order.ship_blocks == {}


def test_douyin_refuses_to_ship_an_order_under_risk_review(sandbox2):
    from channels.sandbox.douyin import RISK_REFUSAL

    (oid,) = paid(sandbox2, "douyin", seed=9)
    sandbox2.state.modify_order("douyin", oid, ship_block=True)
    with pytest.raises(AdapterError, match=RISK_REFUSAL[0]):
        adapter_for(sandbox2, "douyin").confirm_shipment(order=SimpleNamespace(platform_order_id=oid),
                                                         carrier_code="YTO", tracking_number="YT1")
    assert sandbox2.state.shipments == []


# ---- buyer e-mail ---------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", ["amazon", "shopify", "woocommerce"])
def test_the_buyer_email_comes_from_the_platform(sandbox2, platform):
    ids = paid(sandbox2, platform, seed=10, n=3)
    adapter = adapter_for(sandbox2, platform)
    orders = {o.platform_order_id: o for o in map(adapter.normalize, fetch_all(adapter, *window(50)))}
    for oid in ids:
        email = sandbox2.state.order(platform, oid).buyer_email
        assert email and orders[oid].buyer_email == email
    if platform == "amazon":
        assert all(orders[i].buyer_email.endswith("@marketplace.amazon.com") for i in ids)  # the relay address


def test_shopify_email_falls_back_to_contact_email_and_the_customer(sandbox2):
    (oid,) = paid(sandbox2, "shopify", seed=11)
    adapter = adapter_for(sandbox2, "shopify")
    raw = adapter.fetch_order(oid)
    email = sandbox2.state.order("shopify", oid).buyer_email
    assert adapter.normalize({**raw, "email": None}).buyer_email == email
    assert adapter.normalize({**raw, "email": None, "contact_email": None}).buyer_email == email


def test_douyin_orders_carry_no_buyer_email(sandbox2):
    (oid,) = paid(sandbox2, "douyin", seed=12)
    adapter = adapter_for(sandbox2, "douyin")
    assert adapter.normalize(adapter.fetch_order(oid)).buyer_email == ""


# ---- Amazon: personal data only with a Restricted Data Token ---------------------------------------

def test_amazon_personal_data_needs_a_restricted_data_token(sandbox2):
    (oid,) = paid(sandbox2, "amazon", seed=13)
    adapter = adapter_for(sandbox2, "amazon")
    lwa = adapter.access_token()
    url = f"{sandbox2.url}/amazon/orders/v0/orders/{oid}"
    plain = requests.get(url, headers={"x-amz-access-token": lwa}, timeout=5).json()["payload"]
    assert "BuyerInfo" not in plain and set(plain["ShippingAddress"]) == {"City", "StateOrRegion", "PostalCode",
                                                                          "CountryCode"}
    rdt = adapter.restricted_token(f"/orders/v0/orders/{oid}")
    full = requests.get(url, headers={"x-amz-access-token": rdt}, timeout=5).json()["payload"]
    truth = sandbox2.state.order("amazon", oid)
    assert full["BuyerInfo"]["BuyerEmail"] == truth.buyer_email
    assert full["ShippingAddress"]["Name"] == truth.receiver["name"]
    # an RDT is good for the resource it was issued for only
    other = requests.get(f"{sandbox2.url}/amazon/orders/v0/orders/{oid}/orderItems",
                         headers={"x-amz-access-token": rdt}, timeout=5)
    assert other.status_code == 403 and other.json()["errors"][0]["code"] == "Unauthorized"
    # the pull asked for one RDT for getOrders, with both data elements
    fetch_all(adapter, *window(50))
    assert [("GET", "/orders/v0/orders")] in sandbox2.state.extra["amazon_rdts_issued"]


def test_amazon_rdt_requests_are_checked_like_the_tokens_api_does(sandbox2):
    adapter = adapter_for(sandbox2, "amazon")
    url = f"{sandbox2.url}/amazon/tokens/2021-03-01/restrictedDataToken"
    headers = {"x-amz-access-token": adapter.access_token()}
    no_elements = requests.post(url, headers=headers, timeout=5,
                                json={"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders"}]})
    assert no_elements.status_code == 400 and no_elements.json()["errors"][0]["code"] == "InvalidInput"
    empty = requests.post(url, headers=headers, timeout=5, json={"restrictedResources": []})
    assert empty.status_code == 400


def test_amazon_app_without_pii_roles_still_pulls_without_personal_data(sandbox2, caplog):
    creds = {**CREDENTIALS2["amazon"], "client_id": "amzn-no-pii", "refresh_token": "Atzr|no-pii"}
    sandbox2.state.add_account("amazon", {**creds, "pii_elements": ["buyerTaxInformation"]})
    (oid,) = sandbox2.state.generate_orders("amazon", "amzn-no-pii", 1, start=window(50)[0],
                                            end=window(50)[1] - timedelta(minutes=30), seed=14, status="paid")
    adapter = adapter_for(sandbox2, "amazon", credentials=creds)
    with caplog.at_level(logging.WARNING, logger="channels.adapters.amazon"):
        order = pulled(adapter, oid)
    assert "does not have access" in caplog.text
    truth = sandbox2.state.order("amazon", oid)
    assert (order.buyer_email, order.receiver_name) == ("", "") and order.receiver_city == truth.receiver["city"]
    assert sandbox2.state.extra.get("amazon_rdts_issued", []) == []
    assert len(sandbox2.state.calls("amazon", "createRestrictedDataToken")) == 1  # asked once, then not again
    fetch_all(adapter_for(sandbox2, "amazon", credentials=creds), *window(50))  # nor by the next pull
    assert len(sandbox2.state.calls("amazon", "createRestrictedDataToken")) == 1


def test_amazon_restricted_data_can_be_switched_off(sandbox2):
    (oid,) = paid(sandbox2, "amazon", seed=15)
    adapter = adapter_for(sandbox2, "amazon", credentials={**CREDENTIALS2["amazon"], "restricted_data": "false"})
    assert pulled(adapter, oid).buyer_email == ""
    assert sandbox2.state.calls("amazon", "createRestrictedDataToken") == []


# ---- refund reasons -------------------------------------------------------------------------------

def test_shopify_refund_note_is_the_refunded_lines_reason(sandbox2):
    start, end = window(50)
    ids = sandbox2.state.generate_orders("shopify", ACCOUNT_KEYS2["shopify"], 20, start=start,
                                         end=end - timedelta(minutes=30), seed=16, status="paid")
    oid = next(i for i in ids if len(sandbox2.state.order("shopify", i).lines) > 1)
    first, second = sandbox2.state.order("shopify", oid).lines[:2]
    sandbox2.state.modify_order("shopify", oid, line_refunds={first.line_id: "refunded"},
                                refund_reasons={first.line_id: "Arrived too late"})
    adapter = adapter_for(sandbox2, "shopify")
    raw = adapter.fetch_order(oid)
    assert raw["refunds"][0]["note"] == "Arrived too late"
    lines = {ln.platform_line_id: ln for ln in adapter.normalize(raw).lines}
    assert (lines[first.line_id].refund_status, lines[first.line_id].refund_reason) == ("refunded", "Arrived too late")
    assert (lines[second.line_id].refund_status, lines[second.line_id].refund_reason) == ("", "")


def test_woocommerce_refund_reasons_are_order_level(sandbox2):
    start, end = window(50)
    ids = sandbox2.state.generate_orders("woocommerce", ACCOUNT_KEYS2["woocommerce"], 20, start=start,
                                         end=end - timedelta(minutes=30), seed=17, status="paid")
    oid = next(i for i in ids if len(sandbox2.state.order("woocommerce", i).lines) > 1)
    first = sandbox2.state.order("woocommerce", oid).lines[0]
    sandbox2.state.modify_order("woocommerce", oid, line_refunds={first.line_id: "refunded"},
                                refund_reasons={first.line_id: "Beschädigt angekommen"})
    adapter = adapter_for(sandbox2, "woocommerce")
    raw = adapter.fetch_order(oid)
    assert [(r["reason"], r["total"]) for r in raw["refunds"]] == [("Beschädigt angekommen", f"-{first.payment:.2f}")]
    order = adapter.normalize(raw)
    assert {ln.refund_reason for ln in order.lines} == {"Beschädigt angekommen"}  # no line attribution on the wire
    assert {ln.refund_status for ln in order.lines} == {""} and order.state == PlatformState.PAID
    sandbox2.state.modify_order("woocommerce", oid, refund="refunded")
    assert {ln.refund_status for ln in adapter.normalize(adapter.fetch_order(oid)).lines} == {"refunded"}


def test_douyin_after_sale_info_gives_the_refund_state_but_no_reason(sandbox2):
    start, end = window(50)
    ids = sandbox2.state.generate_orders("douyin", ACCOUNT_KEYS2["douyin"], 20, start=start,
                                         end=end - timedelta(minutes=30), seed=18, status="paid")
    oid = next(i for i in ids if len(sandbox2.state.order("douyin", i).lines) > 1)
    first, second = sandbox2.state.order("douyin", oid).lines[:2]
    sandbox2.state.modify_order("douyin", oid, line_refunds={first.line_id: "requested", second.line_id: "refunded"},
                                refund_reason="不想要了")
    adapter = adapter_for(sandbox2, "douyin")
    raw = adapter.fetch_order(oid)
    infos = {s["order_id"]: s["after_sale_info"] for s in raw["sku_order_list"]}
    assert infos[first.line_id] == {"after_sale_status": 6, "after_sale_type": 2, "refund_status": 1}
    lines = {ln.platform_line_id: ln for ln in adapter.normalize(raw).lines}
    assert (lines[first.line_id].refund_status, lines[second.line_id].refund_status) == ("requested", "refunded")
    assert {ln.refund_reason for ln in lines.values()} == {""}
    assert "不想要了" not in str(raw)


def test_generated_orders_now_and_then_carry_a_block_when_asked(sandbox2):
    start, end = window(50)
    plain = sandbox2.state.generate_orders("amazon", ACCOUNT_KEYS2["amazon"], 60, start=start, end=end, seed=19,
                                           status="paid")
    assert not any(sandbox2.state.order("amazon", i).ship_block for i in plain)
    mixed = sandbox2.state.generate_orders("pdd", "pdd-client-1", 200, start=start, end=end, seed=19, status="paid",
                                           ship_blocks=True)
    blocked = [i for i in mixed if sandbox2.state.order("pdd", i).ship_block]
    assert 0 < len(blocked) < 30
    assert gen.BLOCKED_SHARE < 0.1


# ---- Shopify webhooks: the body has no holds, the intake reads them ------------------------------

@pytest.mark.django_db
def test_a_shopify_webhook_of_a_held_order_is_archived_with_its_hold(client, tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, "shopify")
    (oid,) = paid(sandbox2, "shopify", seed=20)
    sandbox2.state.modify_order("shopify", oid, ship_block="high_risk_of_fraud")
    body, headers = sandbox2.state.push.build("shopify", ACCOUNT_KEYS2["shopify"], oid, "updated")
    assert b"fulfillment_holds" not in body  # the webhook body is orders.json's order: no holds in it
    url = reverse("channels:shopify_webhook", args=[shop.pk])
    extra = {k: v for k, v in headers.items() if k != "Content-Type"}

    sandbox2.state.inject("shopify", "http500", count=2)  # the hold lookup fails: Shopify must deliver again
    assert client.post(url, data=body, content_type="application/json", headers=extra).status_code == 503
    assert not RawOrder.objects.filter(shop=shop).exists()

    assert client.post(url, data=body, content_type="application/json", headers=extra).status_code == 200
    raw = RawOrder.objects.get(shop=shop)
    assert [fo["status"] for fo in raw.payload["_oms_fulfillment_orders"]] == ["on_hold"]
    assert get_adapter(shop).normalize(raw.payload).ship_blocks == {ShipBlock.PLATFORM_HOLD: "on_hold high_risk_of_fraud"}
