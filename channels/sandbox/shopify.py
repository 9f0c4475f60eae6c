"""Fake Shopify Admin REST API under `/shopify/admin/api/{version}/`.

    GET  orders.json                          status=any, updated_at_min/max, limit <= 250, cursor
                                              pagination (Link rel="next" with page_info; a request
                                              with page_info may carry only limit/fields)
    GET  orders/{id}.json
    GET  orders/{id}/fulfillment_orders.json
    POST fulfillments.json                    line_items_by_fulfillment_order + tracking_info
    GET  variants/{id}.json                   inventory_item_id
    GET  locations.json
    POST inventory_levels/set.json            {location_id, inventory_item_id, available}

Authenticates `X-Shopify-Access-Token`; a leaky bucket of 40 calls leaking 2/s on the sandbox
clock, reported in `X-Shopify-Shop-Api-Call-Limit`, answers 429 + Retry-After when full.
Webhook bodies (orders/create, orders/updated) are `render(order)`; channels.sandbox.push sends them.

The buyer's e-mail is in `email`, `contact_email` and `customer.email`; refunded lines are in
`refunds[]` {id, note, refund_line_items[{line_item_id, quantity, subtotal}], transactions}. An
order's do-not-ship state is a fulfilment hold: its fulfilment order is `on_hold` with
`fulfillment_holds[{reason, reason_notes}]` (REST spelling of FulfillmentHoldReason), and cannot
be fulfilled while held.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from decimal import Decimal
from zoneinfo import ZoneInfo

from . import generator as gen
from .common import Reply
from .rest import Request, parse_iso

PLATFORM = "shopify"
ACCOUNT_KEY = "shop_domain"
BUCKET_SIZE = 40
LEAK = 2.0
LOCATION_ID = 61234567890
SHOP_TZ = ZoneInfo("America/New_York")
ALLOWED_WITH_PAGE_INFO = {"page_info", "limit", "fields"}
HOLD_REASONS = {"awaiting_payment", "awaiting_return_items", "high_risk_of_fraud", "incorrect_address",
                "inventory_out_of_stock", "online_store_post_purchase_cross_sell", "other", "unknown_delivery_date"}


def api_name(req: Request) -> str:
    m = re.fullmatch(r"/admin/api/[\w-]+/(.+)\.json", req.path)
    if not m:
        return "unknown"
    tail = re.sub(r"/\d+", "/{id}", m.group(1))
    return f"{req.method} {tail}"


def is_list_call(api: str) -> bool:
    return api == "GET orders"


def fault_reply(kind: str, state) -> Reply:
    if kind == "throttle":
        return Reply(429, {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                                     "uninterrupted service."}, headers={"Retry-After": "2.0"})
    if kind == "session_expired":
        return Reply(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
    raise ValueError(kind)


def webhook_hmac(secret: str, body: bytes) -> str:
    """What Shopify puts in X-Shopify-Hmac-Sha256 (sandbox side, independent of the adapter)."""
    return base64.b64encode(hmac.HMAC(secret.encode(), body, "sha256").digest()).decode()


def _account_by_token(state, token: str) -> str | None:
    with state.lock:
        for key, acc in state.accounts[PLATFORM].items():
            if token and hmac.compare_digest(acc["access_token"], token):
                return key
    return None


def handle(state, req: Request) -> Reply:
    account_key = _account_by_token(state, req.header("X-Shopify-Access-Token"))
    if account_key is None:
        return Reply(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
    with state.lock:
        buckets = state.extra.setdefault("shopify_bucket", {})
        used, at = buckets.get(account_key, (0.0, state.clock()))
        used = max(0.0, used - (state.clock() - at) * LEAK)
        if used + 1 > BUCKET_SIZE:
            buckets[account_key] = (used, state.clock())
            return Reply(429, {"errors": "Exceeded 2 calls per second for api client."},
                         headers={"Retry-After": "1.0", "X-Shopify-Shop-Api-Call-Limit": f"{int(used)}/{BUCKET_SIZE}"})
        used += 1
        buckets[account_key] = (used, state.clock())
        handler = APIS.get(api_name(req))
        reply = handler(state, account_key, req) if handler else Reply(404, {"errors": "Not Found"})
    reply.headers["X-Shopify-Shop-Api-Call-Limit"] = f"{int(used)}/{BUCKET_SIZE}"
    return reply


def _ids(req: Request) -> list[int]:
    return [int(x) for x in re.findall(r"/(\d+)", req.path.split("/admin/api/", 1)[1].split("/", 1)[1])]


def _orders(state, account_key: str, req: Request) -> Reply:
    snapshots = state.extra.setdefault("shopify_cursors", {})
    try:
        limit = int(req.get("limit") or 50)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 250:
        return Reply(400, {"errors": {"limit": ["must be between 1 and 250"]}})
    if req.get("page_info"):
        extra = set(req) - ALLOWED_WITH_PAGE_INFO
        if extra:
            return Reply(400, {"errors": {"page_info": [f"cannot be combined with {', '.join(sorted(extra))}"]}})
        ids = snapshots.pop((account_key, req["page_info"]), None)
        if ids is None:
            return Reply(400, {"errors": {"page_info": ["Invalid value."]}})
    else:
        lo = parse_iso(req["updated_at_min"]) if req.get("updated_at_min") else None
        hi = parse_iso(req["updated_at_max"]) if req.get("updated_at_max") else None
        if (req.get("updated_at_min") and lo is None) or (req.get("updated_at_max") and hi is None):
            return Reply(400, {"errors": {"updated_at": ["must be an ISO 8601 time"]}})
        status = req.get("status") or "open"
        matched = [o for o in state.account_orders(PLATFORM, account_key)
                   if (lo is None or o.modified >= lo) and (hi is None or o.modified <= hi)
                   and (status == "any" or (status == "open" and o.status in (gen.UNPAID, gen.PAID))
                        or (status == "cancelled" and o.status == gen.CANCELLED))]
        matched.sort(key=lambda o: (o.modified, o.order_id), reverse=req.get("order") == "updated_at desc")
        ids = [o.order_id for o in matched]
    page, rest = ids[:limit], ids[limit:]
    headers = {}
    if rest:
        cursor = secrets.token_urlsafe(18)
        snapshots[(account_key, cursor)] = rest
        base = f"http://{req.header('host')}/shopify{req.path}"
        headers["Link"] = f'<{base}?limit={limit}&page_info={cursor}>; rel="next"'
    orders = [render(o) for i in page if (o := state.find_order(PLATFORM, account_key, i))]
    return Reply(200, {"orders": orders}, headers=headers, served=page)


def _order(state, account_key: str, req: Request) -> Reply:
    order = state.find_order(PLATFORM, account_key, str(_ids(req)[0]))
    if order is None:
        return Reply(404, {"errors": "Not Found"})
    return Reply(200, {"order": render(order)})


def _fulfillment_orders(state, account_key: str, req: Request) -> Reply:
    order = state.find_order(PLATFORM, account_key, str(_ids(req)[0]))
    if order is None:
        return Reply(404, {"errors": "Not Found"})
    return Reply(200, {"fulfillment_orders": [fulfillment_order(order)]})


def fulfillment_order(order: gen.SandboxOrder) -> dict:
    status = {gen.UNPAID: "open", gen.PAID: "open", gen.CANCELLED: "cancelled"}.get(order.status, "closed")
    holds = []
    if status == "open" and order.ship_block:
        status = "on_hold"
        reason = order.ship_block if order.ship_block in HOLD_REASONS else "other"
        holds = [{"reason": reason, "reason_notes": "" if reason == order.ship_block else order.ship_block}]
    return {
        "id": int(order.order_id) + 7, "order_id": int(order.order_id), "status": status,
        "assigned_location_id": LOCATION_ID, "fulfillment_holds": holds,
        "line_items": [{"id": int(ln.line_id) + 1, "line_item_id": int(ln.line_id), "quantity": ln.quantity,
                        "fulfillable_quantity": ln.quantity if status == "open" else 0} for ln in order.lines]}


def _fulfill(state, account_key: str, req: Request) -> Reply:
    try:
        f = req.json()["fulfillment"]
        fo_ids = [int(x["fulfillment_order_id"]) for x in f["line_items_by_fulfillment_order"]]
        tracking = f["tracking_info"]["number"]
        company = f["tracking_info"].get("company", "")
    except (ValueError, KeyError, TypeError):
        return Reply(400, {"errors": {"fulfillment": ["line_items_by_fulfillment_order and tracking_info required"]}})
    orders = [o for o in state.account_orders(PLATFORM, account_key) if int(o.order_id) + 7 in fo_ids]
    if len(orders) != 1:
        return Reply(404, {"errors": "Not Found"})
    order = orders[0]
    if order.status != gen.PAID or fulfillment_order(order)["status"] != "open":
        return Reply(422, {"errors": ["Fulfillment order is not in an open state."]})
    state.ship(PLATFORM, order, carrier=company, tracking_number=tracking)
    return Reply(201, {"fulfillment": {"id": secrets.randbelow(10**12), "order_id": int(order.order_id),
                                       "status": "success", "tracking_number": tracking, "tracking_company": company}})


def _variant(state, account_key: str, req: Request) -> Reply:
    vid = _ids(req)[0]
    return Reply(200, {"variant": {"id": vid, "inventory_item_id": vid + 1000000000}})


def _locations(state, account_key: str, req: Request) -> Reply:
    return Reply(200, {"locations": [{"id": LOCATION_ID, "name": "Main warehouse", "active": True}]})


def _inventory_set(state, account_key: str, req: Request) -> Reply:
    try:
        data = req.json()
        loc, item, available = int(data["location_id"]), int(data["inventory_item_id"]), int(data["available"])
    except (ValueError, KeyError, TypeError):
        return Reply(422, {"errors": {"base": ["location_id, inventory_item_id and available are required"]}})
    if loc != LOCATION_ID:
        return Reply(422, {"errors": {"location_id": ["not found"]}})
    state.record_push(PLATFORM, account_key, item_id=str(item), sku_id=str(item - 1000000000), quantity=available)
    return Reply(200, {"inventory_level": {"inventory_item_id": item, "location_id": loc, "available": available}})


APIS = {"GET orders": _orders, "GET orders/{id}": _order, "GET orders/{id}/fulfillment_orders": _fulfillment_orders,
        "POST fulfillments": _fulfill, "GET variants/{id}": _variant, "GET locations": _locations,
        "POST inventory_levels/set": _inventory_set}


def _t(dt) -> str | None:
    return dt.astimezone(SHOP_TZ).isoformat() if dt else None


def _m(amount: Decimal) -> str:
    return f"{amount:.2f}"


def render(order: gen.SandboxOrder) -> dict:
    """An order as orders.json and the orders/* webhooks carry it."""
    r = order.receiver
    refunds = {ln.refund for ln in order.lines}
    if order.status == gen.CANCELLED:
        financial = "refunded" if order.paid_at else "voided"
    elif order.status == gen.UNPAID:
        financial = "pending"
    elif "refunded" in refunds:
        financial = "partially_refunded"
    else:
        financial = "paid"
    first, _, last = r.get("name", "").partition(" ")
    email = order.buyer_email or None
    return {
        "id": int(order.order_id),
        "name": f"#{1000 + int(order.order_id) % 100000}",
        "order_number": 1000 + int(order.order_id) % 100000,
        "email": email,
        "contact_email": email,
        "customer": {"id": int(order.order_id) % 10**9 + 7000000000000, "email": email, "first_name": first,
                     "last_name": last},
        "financial_status": order.platform_status or financial,
        "fulfillment_status": "fulfilled" if order.status in (gen.SHIPPED, gen.COMPLETED) else None,
        "currency": order.currency,
        "total_price": _m(order.payment),
        "subtotal_price": _m(order.goods_total - order.discount),
        "total_line_items_price": _m(order.goods_total),
        "total_discounts": _m(order.discount),
        "total_tax": "0.00",
        "shipping_lines": [{"title": "Standard", "price": _m(order.post_fee)}] if order.post_fee else [],
        "created_at": _t(order.created),
        "updated_at": _t(order.modified),
        "processed_at": _t(order.paid_at or order.created),
        "cancelled_at": _t(order.modified) if order.status == gen.CANCELLED else None,
        "closed_at": _t(order.modified) if order.status == gen.COMPLETED else None,
        "note": order.buyer_note or None,
        "line_items": [{
            "id": int(ln.line_id), "product_id": int(ln.item_id), "variant_id": int(ln.sku_id), "sku": ln.outer_id,
            "title": ln.title, "quantity": ln.quantity, "price": _m(ln.price), "total_discount": _m(ln.discount),
        } for ln in order.lines],
        "refunds": [{
            "id": int(ln.line_id) + 3, "order_id": int(order.order_id), "created_at": _t(order.modified),
            "processed_at": _t(order.modified), "note": ln.refund_reason or None, "restock": False,
            "refund_line_items": [{"id": int(ln.line_id) + 5, "line_item_id": int(ln.line_id), "quantity": ln.quantity,
                                   "restock_type": "no_restock", "subtotal": _m(ln.payment), "total_tax": "0.00"}],
            "transactions": [{"kind": "refund", "status": "success", "amount": _m(ln.payment),
                              "currency": order.currency}],
        } for ln in order.lines if ln.refund == "refunded"],
        "shipping_address": {"name": r.get("name", ""), "first_name": first, "last_name": last,
                             "address1": r.get("address", ""), "address2": None, "city": r.get("city", ""),
                             "province_code": r.get("province", ""), "zip": r.get("zip", ""),
                             "country_code": r.get("country", "US"), "phone": r.get("phone", "")},
    }
