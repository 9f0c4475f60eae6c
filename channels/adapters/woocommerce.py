"""WooCommerce REST API v3 adapter.

Protocol (../shared/platforms.md): `{site}/wp-json/wc/v3/...`, Basic auth with the consumer key
and secret (over HTTPS on a real site). Orders: `orders?modified_after=..&modified_before=..
&dates_are_gmt=true&orderby=modified&order=desc&per_page=100&page=N`, page count in
`X-WP-TotalPages`. Newest first, read from the last page back to the first (base.read_backwards),
so an order modified while we page is never skipped. Stock: `PUT products/{id}` or
`PUT products/{pid}/variations/{vid}` with {manage_stock: true, stock_quantity: N}. Shipment: a
customer note with the tracking number, then the status `completed`.
Issue 14: the buyer's e-mail is `billing.email`; refund reasons come from the order's
`refunds[{id, reason, total}]`, which are order level (the orders endpoint does not say which lines
a refund covers): every line carries them as its refund_reason, and the lines are "refunded" only
when the whole order is (`status` refunded). `on-hold` means awaiting payment (unpaid), not a
do-not-ship state; WooCommerce has none (docs/platforms-do-not-ship.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from orders.canonical import CanonicalLine, CanonicalOrder, PlatformState

from .base import (
    Adapter,
    AuthError,
    InvalidRequest,
    MalformedResponse,
    NormalizeError,
    read_backwards,
    register,
    unique_orders,
)
from .values import as_int as _int

API = "/wp-json/wc/v3/"
STATUS_MAP = {
    "pending": PlatformState.UNPAID,
    "on-hold": PlatformState.UNPAID,  # awaiting payment (e.g. bank transfer)
    "checkout-draft": PlatformState.UNPAID,
    "processing": PlatformState.PAID,
    "completed": PlatformState.SHIPPED,  # the shop's "fulfilled"
    "cancelled": PlatformState.CANCELLED,
    "refunded": PlatformState.CANCELLED,
    "failed": PlatformState.CANCELLED,
}
CARRIER_NAMES = {"SF": "顺丰速运", "YTO": "圆通速递", "ZTO": "中通快递", "STO": "申通快递", "YUNDA": "韵达快递",
                 "JD": "京东物流", "EMS": "EMS", "JT": "极兔速递"}


@register
class WooCommerceAdapter(Adapter):
    platform = "woocommerce"
    max_window = timedelta(days=1)
    page_size = 100

    def __init__(self, shop, **kwargs):
        super().__init__(shop, **kwargs)
        if not shop.api_base_url:
            site = self.credentials.get("site_url")
            if not site:
                raise AuthError("woocommerce credentials lack site_url", code="credentials")
            self.base_url = site.rstrip("/")
        key, secret = self.credentials.get("consumer_key"), self.credentials.get("consumer_secret")
        if not key or not secret:
            raise AuthError("woocommerce credentials lack consumer_key/consumer_secret", code="credentials")
        self.session.auth = (key, secret)

    def call(self, method: str, path: str, *, params=None, body=None):
        kwargs: dict = {"headers": {"Accept": "application/json"}}
        if params is not None:
            kwargs["params"] = params
        if body is not None:
            kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"]["Content-Type"] = "application/json"
        result: dict = {}

        def check(resp):
            result["body"] = _check(resp, path)
            result["resp"] = resp

        self.request(method, self.base_url + API + path, check=check, **kwargs)
        return result["body"], result["resp"]

    # ---- interface ------------------------------------------------------------------------------
    def fetch_orders(self, start, end):
        base = {"modified_after": _gmt(start), "modified_before": _gmt(end), "dates_are_gmt": "true",
                "orderby": "modified", "order": "desc", "per_page": self.page_size}
        headers: dict = {}

        def fetch_page(n):
            body, resp = self.call("GET", "orders", params={**base, "page": n})
            if not isinstance(body, list):
                raise MalformedResponse("woocommerce orders: answer is not a list", code="shape")
            headers["pages"] = resp.headers.get("X-WP-TotalPages")
            return body

        def total_pages(_body):
            try:
                return int(headers["pages"] or 0)
            except (TypeError, ValueError):
                raise MalformedResponse(f"woocommerce: bad X-WP-TotalPages {headers.get('pages')!r}", code="shape")

        yield from unique_orders(read_backwards(fetch_page, total_pages=total_pages),
                                 key=lambda o: (self.order_id(o), o.get("date_modified_gmt")))

    def fetch_order(self, platform_order_id: str) -> dict:
        body, _ = self.call("GET", f"orders/{int(platform_order_id)}")
        if not isinstance(body, dict):
            raise MalformedResponse("woocommerce orders/{id}: not an object", code="shape")
        return body

    def order_id(self, raw: dict) -> str:
        oid = raw.get("id")
        if oid in (None, ""):
            raise NormalizeError("woocommerce order without id")
        return str(oid)

    def split_page(self, payload) -> list[dict]:
        if isinstance(payload, list):
            return payload
        if isinstance(payload, dict) and "id" in payload and "line_items" in payload:
            return [payload]
        raise NormalizeError("not a woocommerce order or order list")

    def normalize(self, raw: dict) -> CanonicalOrder:
        oid = self.order_id(raw)
        status = raw.get("status")
        state = STATUS_MAP.get(status)
        if state is None:
            raise NormalizeError(f"woocommerce order {oid}: unknown status {status!r}")
        items = raw.get("line_items")
        if not isinstance(items, list) or not items:
            raise NormalizeError(f"woocommerce order {oid}: no line_items")
        refunds = raw.get("refunds") or []
        if not isinstance(refunds, list) or not all(isinstance(r, dict) for r in refunds):
            raise NormalizeError(f"woocommerce order {oid}: garbled refunds")
        reasons = "；".join(dict.fromkeys(str(r.get("reason") or "").strip() for r in refunds
                                         if str(r.get("reason") or "").strip()))
        lines = []
        for it in items:
            if not isinstance(it, dict) or it.get("id") in (None, ""):
                raise NormalizeError(f"woocommerce order {oid}: garbled line item")
            qty = _int(it.get("quantity"), f"woocommerce order {oid} quantity")
            if qty <= 0:
                continue
            variation = it.get("variation_id") or ""
            lines.append(CanonicalLine(
                platform_line_id=str(it["id"]), quantity=qty,
                unit_price=_money(it.get("price"), f"woocommerce order {oid} line price"),
                title=it.get("name") or "", platform_item_id=str(it.get("product_id") or ""),
                platform_sku_id=str(variation) if variation else "", outer_sku_id=str(it.get("sku") or ""),
                amount=_money(it.get("total") or "0", f"woocommerce order {oid} line total"),
                refund_status="refunded" if status == "refunded" else "", refund_reason=reasons))
        ship = raw.get("shipping") or {}
        bill = raw.get("billing") or {}
        name = " ".join(x for x in (ship.get("first_name"), ship.get("last_name")) if x) or " ".join(
            x for x in (bill.get("first_name"), bill.get("last_name")) if x)
        street = ", ".join(x for x in (ship.get("address_1"), ship.get("address_2")) if x)
        goods = sum((_money(it.get("subtotal") or "0", f"woocommerce order {oid} subtotal") for it in items),
                    Decimal("0"))
        paid = raw.get("date_paid_gmt") or raw.get("date_paid")
        return CanonicalOrder(
            platform=self.platform, platform_order_id=oid, platform_status=status, state=state,
            placed_at=_time(raw.get("date_created_gmt"), f"woocommerce order {oid} date_created_gmt"),
            modified_at=_time(raw.get("date_modified_gmt"), f"woocommerce order {oid} date_modified_gmt"),
            paid_at=_time(paid, f"woocommerce order {oid} date_paid") if paid and state != PlatformState.UNPAID else None,
            lines=lines, currency=raw.get("currency") or "",
            goods_amount=goods,
            shipping_amount=_money(raw.get("shipping_total") or "0", f"woocommerce order {oid} shipping_total"),
            discount_amount=_money(raw.get("discount_total") or "0", f"woocommerce order {oid} discount_total"),
            paid_amount=_money(raw.get("total"), f"woocommerce order {oid} total"),
            buyer_nick=bill.get("email") or "", buyer_email=bill.get("email") or "", receiver_name=name,
            receiver_phone=ship.get("phone") or bill.get("phone") or "",
            receiver_country=(ship.get("country") or bill.get("country") or "").upper() or "US",
            receiver_province=ship.get("state") or "", receiver_city=ship.get("city") or "",
            receiver_address=street, receiver_postcode=ship.get("postcode") or "",
            buyer_note=raw.get("customer_note") or "", extra={"number": str(raw.get("number") or "")},
        )

    def push_stock(self, listing, quantity: int) -> None:
        if not listing.platform_item_id:
            raise InvalidRequest("woocommerce: the listing has no product id", code="listing")
        path = f"products/{int(listing.platform_item_id)}"
        if listing.platform_sku_id:
            path += f"/variations/{int(listing.platform_sku_id)}"
        body, _ = self.call("PUT", path, body={"manage_stock": True, "stock_quantity": int(quantity)})
        if not isinstance(body, dict) or body.get("stock_quantity") != int(quantity):
            raise MalformedResponse(f"woocommerce {path}: stock_quantity not confirmed", code="shape")

    def confirm_shipment(self, *, order, carrier_code: str, tracking_number: str) -> None:
        oid = int(order.platform_order_id)
        carrier = CARRIER_NAMES.get(carrier_code.upper(), carrier_code)
        self.call("POST", f"orders/{oid}/notes", body={
            "note": f"已发货：{carrier} 运单号 {tracking_number} / Shipped: {carrier} tracking {tracking_number}",
            "customer_note": True})
        body, _ = self.call("PUT", f"orders/{oid}", body={"status": "completed"})
        if body.get("status") != "completed":
            raise MalformedResponse(f"woocommerce order {oid}: status not completed", code="shape")


# ---- helpers -----------------------------------------------------------------------------------

def _gmt(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("aware datetime required")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _check(resp, path: str):
    try:
        body = json.loads(resp.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponse(f"woocommerce {path}: non-JSON answer (HTTP {resp.status_code})", code="json")
    if 200 <= resp.status_code < 300:
        return body
    err = body if isinstance(body, dict) else {}
    text = f"woocommerce {path}: HTTP {resp.status_code} {err.get('code', '')}: {err.get('message', '')}"
    if resp.status_code in (401, 403):
        raise AuthError(text, code=str(err.get("code") or resp.status_code))
    raise InvalidRequest(text, code=str(err.get("code") or resp.status_code))



def _money(value, what: str) -> Decimal:
    if value is None or isinstance(value, bool):
        raise NormalizeError(f"{what}: not an amount: {value!r}")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise NormalizeError(f"{what}: not an amount: {value!r}")
    if not amount.is_finite():
        raise NormalizeError(f"{what}: not an amount: {value!r}")
    return amount


def _time(value, what: str) -> datetime:
    """WooCommerce `*_gmt` fields are UTC without a zone suffix."""
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise NormalizeError(f"{what}: not an ISO 8601 time: {value!r}")
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
