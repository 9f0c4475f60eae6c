"""Shopify Admin REST adapter.

Protocol (../shared/platforms.md): `{shop}/admin/api/{version}/...`, header
`X-Shopify-Access-Token`. Orders: `orders.json?status=any&updated_at_min=..&updated_at_max=..
&limit=250`, cursor pagination through the `Link: <...page_info=...>; rel="next"` header (the next
URL is followed as given: it carries only page_info and limit, as Shopify requires). Rate limit:
leaky bucket reported in `X-Shopify-Shop-Api-Call-Limit: used/size`; when the bucket is nearly
full the adapter sleeps until it has leaked below the threshold; a 429 is retried after its
Retry-After by the shared machinery. Stock: `inventory_levels/set.json` (inventory_item_id of the
listing's variant, looked up once and cached; location from the credentials or the first active
location). Shipment: fulfilment orders of the order -> `fulfillments.json` with tracking info.
Webhooks (push intake): `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(secret, raw body)),
checked in constant time by `verify_webhook`.

Issue 14: the buyer's e-mail is `email` (else `contact_email`, else `customer.email`); a refund's
`note` is the refund reason of the lines in its `refund_line_items` (fully refunded lines are
"refunded"); Shopify has no refund *request* in the order. A do-not-ship state is a fulfilment hold
(the fulfilment order `on_hold`, `fulfillment_holds[{reason, reason_notes}]`), which orders.json does
not show: for every order that could still ship, the adapter reads its fulfilment orders and keeps
them under "_oms_fulfillment_orders" in the raw order (ShipBlock.PLATFORM_HOLD while one is held).
A raw order without that key says nothing about holds (`extra["ship_blocks_unknown"]`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.cache import cache

from orders.canonical import CanonicalLine, CanonicalOrder, PlatformState, ShipBlock

from .base import (
    Adapter,
    AdapterError,
    AuthError,
    InvalidRequest,
    MalformedResponse,
    NormalizeError,
    register,
    token_cache_key,
)
from .values import as_int as _int

API_VERSION = "2024-01"
LEAK_PER_SECOND = 2.0  # standard plans (Plus: 20/s)
SLOW_DOWN_AT = 0.8  # of the bucket size
FULFILMENT_MARK = "_oms_fulfillment_orders"
CARRIERS = {"SF": "SF Express", "EMS": "China Post", "YTO": "YTO Express", "ZTO": "ZTO Express",
            "STO": "STO Express", "YUNDA": "Yunda Express", "JD": "JD Logistics", "JT": "J&T Express"}


def verify_webhook(secret: str, body: bytes, header: str) -> bool:
    """Shopify webhook signature: base64(HMAC-SHA256(secret, raw body)), compared in constant time."""
    if not secret or not header:
        return False
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


@register
class ShopifyAdapter(Adapter):
    platform = "shopify"
    max_window = timedelta(days=1)
    page_size = 250

    def __init__(self, shop, **kwargs):
        super().__init__(shop, **kwargs)
        if not shop.api_base_url:
            domain = self.credentials.get("shop_domain")
            if not domain:
                raise AuthError("shopify credentials lack shop_domain", code="credentials")
            self.base_url = f"https://{domain}"
        self.version = self.credentials.get("api_version") or API_VERSION
        self.session.hooks["response"].append(self._leaky_bucket)
        self._inventory_items: dict[str, int] = {}

    def url(self, path: str) -> str:
        return f"{self.base_url}/admin/api/{self.version}/{path}"

    def _leaky_bucket(self, resp, *args, **kwargs):
        value = resp.headers.get("X-Shopify-Shop-Api-Call-Limit", "")
        try:
            used, size = (int(x) for x in value.split("/"))
        except ValueError:
            return
        if size and used >= size * SLOW_DOWN_AT:
            self._sleep((used - size * SLOW_DOWN_AT + 1) / LEAK_PER_SECOND)

    def call(self, method: str, url: str, *, params=None, body=None) -> tuple[dict, object]:
        token = self.credentials.get("access_token")
        if not token:
            raise AuthError("shopify credentials lack access_token", code="credentials")
        result: dict = {}
        headers = {"X-Shopify-Access-Token": token, "Accept": "application/json"}
        kwargs: dict = {"headers": headers}
        if params is not None:
            kwargs["params"] = params
        if body is not None:
            kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"

        def check(resp):
            result["body"] = _check(resp, url)
            result["resp"] = resp

        self.request(method, url, check=check, **kwargs)
        return result["body"], result["resp"]

    # ---- interface ------------------------------------------------------------------------------
    def fetch_orders(self, start, end):
        url = self.url("orders.json")
        params: dict | None = {"status": "any", "updated_at_min": start.isoformat(), "updated_at_max": end.isoformat(),
                               "limit": self.page_size, "order": "updated_at asc"}
        while url:
            body, resp = self.call("GET", url, params=params)
            orders = body.get("orders")
            if not isinstance(orders, list):
                raise MalformedResponse("shopify orders.json: no orders list", code="shape")
            if orders:
                yield [self.with_fulfillment_holds(o) for o in orders]
            url = (resp.links.get("next") or {}).get("url")
            params = None  # the next link carries page_info and limit, nothing else

    def fetch_order(self, platform_order_id: str) -> dict:
        body, _ = self.call("GET", self.url(f"orders/{int(platform_order_id)}.json"))
        order = body.get("order")
        if not isinstance(order, dict):
            raise MalformedResponse("shopify orders/{id}.json: no order", code="shape")
        return self.with_fulfillment_holds(order)

    def with_fulfillment_holds(self, raw: dict) -> dict:
        """The raw order with its fulfilment orders beside it when it could still ship (holds are
        only visible there); other orders are returned as they are."""
        if not isinstance(raw, dict) or not _could_ship(raw) or raw.get("id") in (None, ""):
            return raw
        body, _ = self.call("GET", self.url(f"orders/{int(raw['id'])}/fulfillment_orders.json"))
        fos = body.get("fulfillment_orders")
        if not isinstance(fos, list):
            raise MalformedResponse("shopify fulfillment_orders.json: no fulfillment_orders", code="shape")
        return {**raw, FULFILMENT_MARK: [{"id": fo.get("id"), "status": fo.get("status"),
                                          "fulfillment_holds": fo.get("fulfillment_holds") or []}
                                         for fo in fos if isinstance(fo, dict)]}

    def order_id(self, raw: dict) -> str:
        oid = raw.get("id")
        if oid in (None, ""):
            raise NormalizeError("shopify order without id")
        return str(oid)

    def split_page(self, payload: dict) -> list[dict]:
        if not isinstance(payload, dict):
            raise NormalizeError("shopify payload must be a JSON object")
        if "id" in payload and "line_items" in payload:
            return [payload]
        if isinstance(payload.get("orders"), list):
            return payload["orders"]
        if isinstance(payload.get("order"), dict):
            return [payload["order"]]
        raise NormalizeError("not a shopify order or orders.json page")

    def normalize(self, raw: dict) -> CanonicalOrder:
        oid = self.order_id(raw)
        fin = raw.get("financial_status") or ""
        ful = raw.get("fulfillment_status") or ""
        if raw.get("cancelled_at") or fin in ("refunded", "voided"):
            state = PlatformState.CANCELLED
        elif ful == "fulfilled":
            state = PlatformState.SHIPPED
        elif fin in ("paid", "partially_paid", "partially_refunded", "authorized"):
            state = PlatformState.PAID
        elif fin in ("pending", ""):
            state = PlatformState.UNPAID
        else:
            raise NormalizeError(f"shopify order {oid}: unknown financial_status {fin!r}")
        currency = raw.get("currency")
        if not currency:
            raise NormalizeError(f"shopify order {oid}: no currency")
        items = raw.get("line_items")
        if not isinstance(items, list) or not items:
            raise NormalizeError(f"shopify order {oid}: no line_items")
        refunded, reasons = _refunds(raw, oid)
        lines = []
        for it in items:
            if not isinstance(it, dict) or it.get("id") in (None, ""):
                raise NormalizeError(f"shopify order {oid}: garbled line item")
            qty = _int(it.get("quantity"), f"shopify order {oid} quantity")
            if qty <= 0:
                continue  # removed by an order edit
            price = _money(it.get("price"), f"shopify order {oid} line price")
            discount = _money(it.get("total_discount") or "0", f"shopify order {oid} line discount")
            line_id = str(it["id"])
            lines.append(CanonicalLine(
                platform_line_id=line_id, quantity=qty, unit_price=price, title=it.get("title") or "",
                platform_item_id=str(it.get("product_id") or ""), platform_sku_id=str(it.get("variant_id") or ""),
                outer_sku_id=str(it.get("sku") or ""), amount=price * qty - discount,
                refund_status="refunded" if refunded.get(line_id, 0) >= qty else "",
                refund_reason="；".join(reasons.get(line_id, []))))
        addr = raw.get("shipping_address") or {}
        street = ", ".join(x for x in (addr.get("address1"), addr.get("address2")) if x)
        shipping = sum((_money(s.get("price"), f"shopify order {oid} shipping") for s in raw.get("shipping_lines") or []),
                       Decimal("0"))
        paid_at = raw.get("processed_at") if state != PlatformState.UNPAID else None
        extra: dict = {"name": raw.get("name", "")}
        ship_blocks = {}
        if FULFILMENT_MARK in raw:
            held = [h for fo in raw[FULFILMENT_MARK] or [] if fo.get("status") == "on_hold"
                    for h in (fo.get("fulfillment_holds") or [{}])]
            if held:
                ship_blocks[ShipBlock.PLATFORM_HOLD] = "；".join(
                    "on_hold" + "".join(f" {x}" for x in (h.get("reason"), h.get("reason_notes")) if x)
                    for h in held)
        elif state == PlatformState.PAID:
            extra["ship_blocks_unknown"] = True
        customer = raw.get("customer") if isinstance(raw.get("customer"), dict) else {}
        return CanonicalOrder(
            platform=self.platform, platform_order_id=oid,
            platform_status=f"{fin or 'pending'}/{ful or 'unfulfilled'}" + ("/cancelled" if raw.get("cancelled_at") else ""),
            state=state,
            placed_at=_time(raw.get("created_at"), f"shopify order {oid} created_at"),
            modified_at=_time(raw.get("updated_at"), f"shopify order {oid} updated_at"),
            paid_at=_time(paid_at, f"shopify order {oid} processed_at") if paid_at else None,
            lines=lines, currency=currency,
            goods_amount=_money(raw.get("total_line_items_price") or "0", f"shopify order {oid} total_line_items_price"),
            shipping_amount=shipping,
            discount_amount=_money(raw.get("total_discounts") or "0", f"shopify order {oid} total_discounts"),
            paid_amount=_money(raw.get("total_price"), f"shopify order {oid} total_price"),
            buyer_nick=raw.get("email") or "",
            buyer_email=raw.get("email") or raw.get("contact_email") or customer.get("email") or "",
            receiver_name=addr.get("name") or "", receiver_phone=addr.get("phone") or "",
            receiver_country=(addr.get("country_code") or "").upper() or "US",
            receiver_province=addr.get("province_code") or addr.get("province") or "",
            receiver_city=addr.get("city") or "", receiver_address=street, receiver_postcode=addr.get("zip") or "",
            buyer_note=raw.get("note") or "", ship_blocks=ship_blocks, extra=extra,
        )

    def _inventory_item_id(self, variant_id: str) -> int:
        if variant_id in self._inventory_items:
            return self._inventory_items[variant_id]
        key = token_cache_key("shopify-inventory-item", self.base_url, variant_id)
        cached = cache.get(key)
        if cached is None:
            body, _ = self.call("GET", self.url(f"variants/{int(variant_id)}.json"))
            try:
                cached = int(body["variant"]["inventory_item_id"])
            except (KeyError, TypeError, ValueError):
                raise MalformedResponse("shopify variants/{id}.json: no inventory_item_id", code="shape")
            cache.set(key, cached, timeout=7 * 86400)
        self._inventory_items[variant_id] = cached
        return cached

    def _location_id(self) -> int:
        if self.credentials.get("location_id"):
            return int(self.credentials["location_id"])
        body, _ = self.call("GET", self.url("locations.json"))
        active = [loc for loc in body.get("locations") or [] if loc.get("active", True)]
        if not active:
            raise InvalidRequest("shopify: the shop has no active location", code="location")
        return int(active[0]["id"])

    def push_stock(self, listing, quantity: int) -> None:
        if not listing.platform_sku_id:
            raise InvalidRequest("shopify: the listing has no variant id (platform SKU id)", code="listing")
        body, _ = self.call("POST", self.url("inventory_levels/set.json"), body={
            "location_id": self._location_id(), "inventory_item_id": self._inventory_item_id(listing.platform_sku_id),
            "available": int(quantity)})
        if "inventory_level" not in body:
            raise MalformedResponse("shopify inventory_levels/set.json: no inventory_level", code="shape")

    def confirm_shipment(self, *, order, carrier_code: str, tracking_number: str) -> None:
        oid = int(order.platform_order_id)
        body, _ = self.call("GET", self.url(f"orders/{oid}/fulfillment_orders.json"))
        open_fos = [fo for fo in body.get("fulfillment_orders") or []
                    if fo.get("status") in ("open", "in_progress", "scheduled")]
        if not open_fos:
            raise AdapterError(f"shopify order {oid}: nothing left to fulfil", code="not_open", retryable=False)
        self.call("POST", self.url("fulfillments.json"), body={"fulfillment": {
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": fo["id"]} for fo in open_fos],
            "tracking_info": {"number": tracking_number, "company": CARRIERS.get(carrier_code.upper(), carrier_code)},
            "notify_customer": True}})


# ---- helpers -----------------------------------------------------------------------------------

def _could_ship(raw: dict) -> bool:
    """Paid (or authorised), not cancelled, not fully fulfilled: an order the OMS may still ship."""
    return not raw.get("cancelled_at") and raw.get("fulfillment_status") != "fulfilled" and \
        raw.get("financial_status") in ("paid", "partially_paid", "partially_refunded", "authorized")


def _refunds(raw: dict, oid: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Refunded quantity and refund notes per line item id, from the order's refunds[]."""
    qty: dict[str, int] = {}
    notes: dict[str, list[str]] = {}
    for refund in raw.get("refunds") or []:
        if not isinstance(refund, dict):
            raise NormalizeError(f"shopify order {oid}: garbled refund")
        note = str(refund.get("note") or "").strip()
        for rli in refund.get("refund_line_items") or []:
            line_id = str(rli.get("line_item_id") or "")
            qty[line_id] = qty.get(line_id, 0) + _int(rli.get("quantity") or 0, f"shopify order {oid} refund quantity")
            if note and note not in notes.setdefault(line_id, []):
                notes[line_id].append(note)
    return qty, notes


def _check(resp, url: str) -> dict:
    try:
        body = json.loads(resp.content.decode("utf-8")) if resp.content else {}
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponse(f"shopify: non-JSON answer (HTTP {resp.status_code})", code="json")
    if not isinstance(body, dict):
        raise MalformedResponse("shopify: answer is not an object", code="json")
    if 200 <= resp.status_code < 300:
        return body
    text = f"shopify HTTP {resp.status_code}: {body.get('errors') or body.get('error') or ''}"
    if resp.status_code in (401, 402, 403, 423):
        raise AuthError(text, code=str(resp.status_code))
    raise InvalidRequest(text, code=str(resp.status_code))



def _money(value, what: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise NormalizeError(f"{what}: not an amount: {value!r}")
    if value is None or isinstance(value, bool) or not amount.is_finite():
        raise NormalizeError(f"{what}: not an amount: {value!r}")
    return amount


def _time(value, what: str) -> datetime:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise NormalizeError(f"{what}: not an ISO 8601 time: {value!r}")
    if dt.tzinfo is None:
        raise NormalizeError(f"{what}: time without zone: {value!r}")
    return dt
