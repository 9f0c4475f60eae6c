"""Fake WooCommerce REST API v3 under `/woocommerce/wp-json/wc/v3/`.

    GET  orders                      modified_after/modified_before (dates_are_gmt), orderby, order,
                                     page, per_page <= 100; X-WP-Total / X-WP-TotalPages headers
    GET  orders/{id}
    PUT  orders/{id}                 {"status": ...}
    POST orders/{id}/notes           {"note", "customer_note"}
    PUT  products/{id}               {"manage_stock", "stock_quantity"}
    PUT  products/{pid}/variations/{vid}

Basic auth with consumer key / secret (the sandbox accepts it over plain HTTP on loopback; a real
site needs HTTPS for Basic auth). Errors `{"code", "message", "data": {"status"}}`.

The buyer's e-mail is `billing.email`; an order's refunds are `refunds[{id, reason, total}]`
(order level: the orders endpoint does not say which lines a refund covers). WooCommerce has no
do-not-ship state (`on-hold` is awaiting payment).
"""

from __future__ import annotations

import base64
import hmac
import math
import re
from datetime import UTC

from . import generator as gen
from .common import Reply
from .rest import Request, parse_iso

PLATFORM = "woocommerce"
ACCOUNT_KEY = "consumer_key"
STATUS = {gen.UNPAID: "pending", gen.PAID: "processing", gen.SHIPPED: "completed", gen.COMPLETED: "completed"}


def api_name(req: Request) -> str:
    m = re.fullmatch(r"/wp-json/wc/v3/(.+)", req.path)
    if not m:
        return "unknown"
    return f"{req.method} " + re.sub(r"/\d+", "/{id}", "/" + m.group(1)).lstrip("/")


def is_list_call(api: str) -> bool:
    return api == "GET orders"


def error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"code": code, "message": message, "data": {"status": status}})


def fault_reply(kind: str, state) -> Reply:
    if kind == "throttle":
        return Reply(429, {"code": "too_many_requests", "message": "Too many requests", "data": {"status": 429}},
                     headers={"Retry-After": str(state.retry_after)})
    if kind == "session_expired":
        return error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
    raise ValueError(kind)


def handle(state, req: Request) -> Reply:
    auth = req.header("authorization")
    account = None
    if auth.lower().startswith("basic "):
        try:
            key, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            key = secret = ""
        acc = state.account(PLATFORM, key)
        if acc and hmac.compare_digest(acc["consumer_secret"], secret):
            account = key
    if account is None:
        return error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    handler = APIS.get(api_name(req))
    if handler is None:
        return error(404, "rest_no_route", "No route was found matching the URL and request method.")
    with state.lock:
        return handler(state, account, req)


def _ids(req: Request) -> list[int]:
    return [int(x) for x in re.findall(r"/(\d+)", req.path.split("/wc/v3", 1)[1])]


def _orders(state, account_key: str, req: Request) -> Reply:
    try:
        page = int(req.get("page") or 1)
        per_page = int(req.get("per_page") or 10)
    except ValueError:
        return error(400, "rest_invalid_param", "Invalid parameter(s): page, per_page")
    if page < 1 or not 1 <= per_page <= 100:
        return error(400, "rest_invalid_param", "Invalid parameter(s): per_page (1-100)")
    lo = parse_iso(req["modified_after"] + ("Z" if req.get("dates_are_gmt") == "true" else "+08:00")) \
        if req.get("modified_after") else None
    hi = parse_iso(req["modified_before"] + ("Z" if req.get("dates_are_gmt") == "true" else "+08:00")) \
        if req.get("modified_before") else None
    if (req.get("modified_after") and lo is None) or (req.get("modified_before") and hi is None):
        return error(400, "rest_invalid_param", "Invalid parameter(s): modified_after, modified_before")
    matched = [o for o in state.account_orders(PLATFORM, account_key)
               if (lo is None or o.modified >= lo) and (hi is None or o.modified <= hi)]
    key = (lambda o: (o.modified, int(o.order_id))) if req.get("orderby") == "modified" else (
        lambda o: (o.created, int(o.order_id)))
    matched.sort(key=key, reverse=(req.get("order") or "desc") == "desc")
    chunk = matched[(page - 1) * per_page: page * per_page]
    headers = {"X-WP-Total": str(len(matched)), "X-WP-TotalPages": str(math.ceil(len(matched) / per_page))}
    return Reply(200, [render(o) for o in chunk], headers=headers, served=[o.order_id for o in chunk])


def _order(state, account_key: str, req: Request) -> Reply:
    order = state.find_order(PLATFORM, account_key, str(_ids(req)[0]))
    if order is None:
        return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    return Reply(200, render(order))


def _update_order(state, account_key: str, req: Request) -> Reply:
    order = state.find_order(PLATFORM, account_key, str(_ids(req)[0]))
    if order is None:
        return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    try:
        status = req.json().get("status")
    except ValueError:
        return error(400, "rest_invalid_json", "Invalid JSON body passed.")
    if status == "completed":
        if order.status == gen.PAID:
            notes = state.extra.get("woo_notes", {}).get(order.order_id, [])
            tracking = notes[-1]["note"] if notes else ""
            state.ship(PLATFORM, order, carrier="note", tracking_number=tracking)
        elif order.status not in (gen.SHIPPED, gen.COMPLETED):
            return error(400, "woocommerce_rest_invalid_status", f"Order is {render(order)['status']}.")
    elif status is not None:
        return error(400, "rest_invalid_param", "Sandbox only changes status to completed.")
    return Reply(200, render(order))


def _add_note(state, account_key: str, req: Request) -> Reply:
    order = state.find_order(PLATFORM, account_key, str(_ids(req)[0]))
    if order is None:
        return error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    try:
        data = req.json()
        note = str(data["note"])
    except (ValueError, KeyError):
        return error(400, "rest_missing_callback_param", "Missing parameter(s): note")
    entry = {"id": len(state.extra.setdefault("woo_notes", {}).setdefault(order.order_id, [])) + 1, "note": note,
             "customer_note": bool(data.get("customer_note"))}
    state.extra["woo_notes"][order.order_id].append(entry)
    return Reply(201, entry)


def _stock(state, account_key: str, req: Request) -> Reply:
    ids = _ids(req)
    try:
        data = req.json()
        quantity = int(data["stock_quantity"])
    except (ValueError, KeyError, TypeError):
        return error(400, "rest_invalid_param", "Invalid parameter(s): stock_quantity")
    if data.get("manage_stock") is not True:
        return error(400, "rest_invalid_param", "manage_stock must be true to set stock_quantity")
    state.record_push(PLATFORM, account_key, item_id=str(ids[0]), sku_id=str(ids[1]) if len(ids) > 1 else "",
                      quantity=quantity)
    return Reply(200, {"id": ids[-1], "manage_stock": True, "stock_quantity": quantity,
                       "stock_status": "instock" if quantity > 0 else "outofstock"})


APIS = {"GET orders": _orders, "GET orders/{id}": _order, "PUT orders/{id}": _update_order,
        "POST orders/{id}/notes": _add_note, "PUT products/{id}": _stock, "PUT products/{id}/variations/{id}": _stock}


def _gmt(dt) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if dt else None


def render(order: gen.SandboxOrder) -> dict:
    r = order.receiver
    first, _, last = r.get("name", "").partition(" ")
    if order.status == gen.CANCELLED:
        status = "refunded" if order.paid_at else "cancelled"
    else:
        status = STATUS[order.status]
    address = {"first_name": first, "last_name": last, "company": "", "address_1": r.get("address", ""),
               "address_2": "", "city": r.get("city", ""), "state": r.get("province", ""),
               "postcode": r.get("zip", ""), "country": r.get("country", "DE")}
    return {
        "id": int(order.order_id), "number": order.order_id, "status": order.platform_status or status,
        "currency": order.currency,
        "date_created_gmt": _gmt(order.created), "date_modified_gmt": _gmt(order.modified),
        "date_paid_gmt": _gmt(order.paid_at), "date_completed_gmt": _gmt(order.shipped_at),
        "discount_total": f"{order.discount:.2f}", "shipping_total": f"{order.post_fee:.2f}",
        "total": f"{order.payment:.2f}", "total_tax": "0.00", "customer_note": order.buyer_note,
        "billing": {**address, "email": order.buyer_email, "phone": r.get("phone", "")},
        "shipping": {**address, "phone": r.get("phone", "")},
        "refunds": [{"id": int(ln.line_id) % 10**6 + 1, "reason": ln.refund_reason, "total": f"-{ln.payment:.2f}"}
                    for ln in order.lines if ln.refund == "refunded"],
        "line_items": [{
            "id": int(ln.line_id), "name": ln.title, "product_id": int(ln.item_id), "variation_id": int(ln.sku_id),
            "quantity": ln.quantity, "sku": ln.outer_id, "price": float(ln.price),
            "subtotal": f"{ln.total:.2f}", "total": f"{ln.payment:.2f}",
        } for ln in order.lines],
    }
