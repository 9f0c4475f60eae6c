"""Amazon Selling Partner API (SP-API) adapter.

Protocol (../shared/platforms.md, docs/platforms-channels2.md):
- Regional hosts `https://sellingpartnerapi-{na,eu,fe}.amazon.com` (credentials["region"]); the
  shop's api_base_url overrides it (sandbox).
- Login with Amazon (LWA): POST `https://api.amazon.com/auth/o2/token` JSON {grant_type:
  refresh_token, refresh_token, client_id, client_secret} -> {access_token, expires_in}. The token
  is cached in Django's cache, keyed by the credential, until a minute before it expires; every
  call sends it as `x-amz-access-token`. A 403 "access token ... expired" drops the cached token,
  fetches a new one ONCE and repeats the call (a token can expire mid-pull).
- Orders API v0: `GET /orders/v0/orders` by LastUpdatedAfter/LastUpdatedBefore (the latter at
  least 2 minutes before now: `lag`), paged with NextToken; `GET /orders/v0/orders/{id}/orderItems`
  per order (paged with NextToken too). A raw order as archived is the getOrders order with its
  items under "OrderItems".
- Usage plans: getOrders 0.0167 req/s burst 20, getOrderItems 0.5/s burst 30 (getOrder 0.5/30,
  confirmShipment and Listings PATCH: best-known values below). A per-account token bucket
  (channels.adapters.base.TokenBucket, per process) is taken before every attempt; a 429 drains it
  and the shared retry machinery backs off.
- Stock: Listings Items API PATCH of `/attributes/fulfillment_availability` (absolute quantity).
- Shipment: Orders API v0 `confirmShipment` POST /orders/v0/orders/{id}/shipmentConfirmation
  with a packageDetail (best-known shape; see the docs page).
- Personal data (ordersV0.json: BuyerInfo and ShippingAddress contain restricted data): getOrders
  and getOrder are called with a Restricted Data Token (Tokens API 2021-03-01
  createRestrictedDataToken, dataElements buyerInfo + shippingAddress, for exactly that path),
  cached until a minute before `expiresIn`; the buyer's e-mail (BuyerInfo.BuyerEmail, the
  marketplace relay address), name and street come only that way. An app without the PII roles
  is refused the RDT ("does not have access to ... data elements"): the adapter then calls with
  the LWA token, once warned, and gets city / state / postcode only. credentials["restricted_data"]
  = false skips the RDT.
- Do-not-ship: an order item's BuyerRequestedCancel.IsBuyerRequestedCancel "true" (the buyer asked
  to cancel; BuyerCancelReason) -> ShipBlock.CANCEL_REQUESTED.
- Money keeps its currency (OrderTotal.CurrencyCode). FBA (AFN) orders are imported for
  visibility with fulfilled_by_platform=True: never reserved, never shipped by us.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from django.core.cache import cache

from orders.canonical import CanonicalLine, CanonicalOrder, PlatformState, ShipBlock

from .base import (
    Adapter,
    AdapterError,
    AuthError,
    InvalidRequest,
    MalformedResponse,
    NormalizeError,
    TokenBucket,
    register,
    token_cache_key,
)
from .values import as_int as _int

logger = logging.getLogger(__name__)

LWA_URL = "https://api.amazon.com/auth/o2/token"
RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"
RDT_ELEMENTS = ["buyerInfo", "shippingAddress"]
RDT_REFUSAL_TTL = 3600
REGION_HOSTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
ISO = "%Y-%m-%dT%H:%M:%SZ"
TOKEN_MARGIN_SECONDS = 60

# Usage plans (rate per second, burst). getOrders / getOrderItems from platforms.md; the others
# are the best-known published values (docs/platforms-channels2.md).
USAGE_PLANS = {
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "patchListingsItem": (5.0, 10),
    "createRestrictedDataToken": (1.0, 10),
}

STATUS_MAP = {
    "Pending": PlatformState.UNPAID,
    "PendingAvailability": PlatformState.UNPAID,
    "Unshipped": PlatformState.PAID,
    "PartiallyShipped": PlatformState.PAID,
    "InvoiceUnconfirmed": PlatformState.PAID,
    "Shipped": PlatformState.SHIPPED,
    "Canceled": PlatformState.CANCELLED,
    "Unfulfillable": PlatformState.CANCELLED,
}

# Our carrier codes -> Amazon carrierCode (best-known; anything else is sent as "Other" + name).
CARRIERS = {"SF": "SF Express", "EMS": "China Post", "YTO": "YTO Express", "ZTO": "ZTO Express",
            "STO": "STO Express", "YUNDA": "Yunda Express", "JD": "JD Logistics", "JT": "J&T Express"}


def iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("aware datetime required")
    return dt.astimezone(UTC).strftime(ISO)


@register
class AmazonAdapter(Adapter):
    platform = "amazon"
    default_base_url = REGION_HOSTS["na"]
    max_window = timedelta(days=1)
    lag = timedelta(minutes=2)
    page_size = 100

    def __init__(self, shop, *, clock=time.monotonic, **kwargs):
        super().__init__(shop, **kwargs)
        region = str(self.credentials.get("region") or "na").lower()
        if not shop.api_base_url:
            if region not in REGION_HOSTS:
                raise AuthError(f"amazon: unknown region {region!r}", code="credentials")
            self.base_url = REGION_HOSTS[region]
        self.token_url = self.credentials.get("token_url") or (
            self.base_url + "/auth/o2/token" if shop.api_base_url else LWA_URL)
        self._clock = clock
        self._bucket: TokenBucket | None = None
        self.token_refreshes = 0
        self._no_pii = str(self.credentials.get("restricted_data", "true")).lower() in ("false", "0", "no")
        self.session.hooks["response"].append(self._drain_on_429)

    # ---- credentials and tokens ---------------------------------------------------------------
    def _cred(self, key: str) -> str:
        value = self.credentials.get(key)
        if not value:
            raise AuthError(f"amazon credentials lack {key}", code="credentials")
        return str(value)

    @property
    def marketplace_ids(self) -> list[str]:
        ids = self.credentials.get("marketplace_ids") or self.credentials.get("marketplace_id")
        if isinstance(ids, str):
            ids = [i.strip() for i in ids.split(",") if i.strip()]
        if not ids:
            raise AuthError("amazon credentials lack marketplace_ids", code="credentials")
        return list(ids)

    def _token_key(self) -> str:
        return token_cache_key("amazon", self._cred("client_id"), self._cred("refresh_token"), self.token_url)

    def access_token(self, *, force: bool = False) -> str:
        key = self._token_key()
        if not force:
            token = cache.get(key)
            if token:
                return token
        body: dict = {}

        def check(resp):
            try:
                data = resp.json()
            except ValueError:
                raise MalformedResponse(f"amazon LWA: non-JSON answer (HTTP {resp.status_code})", code="json")
            if resp.status_code >= 400 or "access_token" not in data:
                raise AuthError(f"amazon LWA: {data.get('error', resp.status_code)}: "
                                f"{data.get('error_description', '')}", code=str(data.get("error", "lwa")))
            body.update(data)

        self.request("POST", self.token_url, check=check, json={
            "grant_type": "refresh_token", "refresh_token": self._cred("refresh_token"),
            "client_id": self._cred("client_id"), "client_secret": self._cred("client_secret")})
        self.token_refreshes += 1
        ttl = max(1, int(body.get("expires_in") or 3600) - TOKEN_MARGIN_SECONDS)
        cache.set(key, body["access_token"], timeout=ttl)
        return body["access_token"]

    def _rdt_key(self, path: str) -> str:
        return token_cache_key("amazon-rdt", self._cred("client_id"), self._cred("refresh_token"), self.base_url, path)

    def restricted_token(self, path: str, *, force: bool = False) -> str | None:
        """A Restricted Data Token for GET `path` (buyerInfo + shippingAddress), or None when this
        app may not have one (then the LWA token is used and personal data stays out)."""
        refused_key = token_cache_key("amazon-rdt-refused", self._cred("client_id"), self.base_url)
        if self._no_pii or cache.get(refused_key):
            return None
        key = self._rdt_key(path)
        if not force:
            token = cache.get(key)
            if token:
                return token
        try:
            body = self._api_once("POST", RDT_PATH, operation="createRestrictedDataToken", params=None,
                                  body={"restrictedResources": [{"method": "GET", "path": path,
                                                                 "dataElements": RDT_ELEMENTS}]},
                                  force_token=False, restricted=None)
        except InvalidRequest as exc:  # the app lacks the restricted roles: carry on without personal data
            logger.warning("shop=%s amazon: no restricted data token (%s); orders come without buyer e-mail, "
                           "name and street", self.shop.pk, exc)
            self._no_pii = True
            cache.set(refused_key, True, timeout=RDT_REFUSAL_TTL)  # ask again in an hour (roles may be granted)
            return None
        token = body.get("restrictedDataToken")
        if not token:
            raise MalformedResponse("amazon createRestrictedDataToken: no restrictedDataToken", code="shape")
        ttl = max(1, int(body.get("expiresIn") or 3600) - TOKEN_MARGIN_SECONDS)
        cache.set(key, token, timeout=ttl)
        return token

    # ---- rate limits -------------------------------------------------------------------------
    def bucket(self, operation: str) -> TokenBucket:
        rate, burst = USAGE_PLANS[operation]
        return TokenBucket.shared(("amazon", self.credentials.get("seller_id") or self.credentials.get("client_id"),
                                   self.base_url, operation), rate, burst, clock=self._clock, sleep=self._sleep)

    def _drain_on_429(self, resp, *args, **kwargs):
        if resp.status_code == 429 and self._bucket is not None:
            self._bucket.drain()

    # ---- one call ----------------------------------------------------------------------------
    def api(self, method: str, path: str, *, operation: str, params: dict | None = None,
            body: dict | list | None = None, restricted: bool = False) -> dict:
        """One SP-API call, rate limited per operation; refreshes an expired token once.
        `restricted`: call with a Restricted Data Token for this path (personal data)."""
        for attempt in (1, 2):
            try:
                return self._api_once(method, path, operation=operation, params=params, body=body,
                                      force_token=attempt == 2, restricted=path if restricted else None)
            except AuthError as exc:
                if exc.code != "token_expired" or attempt == 2:
                    raise
                cache.delete(self._token_key())
                if restricted:
                    cache.delete(self._rdt_key(path))
        raise AssertionError("unreachable")

    def _api_once(self, method, path, *, operation, params, body, force_token, restricted) -> dict:
        token = self.access_token(force=force_token)
        if restricted:
            token = self.restricted_token(restricted, force=force_token) or token
        bucket = self.bucket(operation)
        result: dict = {}

        def prepare():
            self._bucket = bucket
            bucket.take()
            kwargs = {"headers": {"x-amz-access-token": token, "Accept": "application/json"}}
            if params is not None:
                kwargs["params"] = params
            if body is not None:
                kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
                kwargs["headers"]["Content-Type"] = "application/json"
            return kwargs

        def check(resp):
            result["body"] = _check(resp, operation)

        self.request(method, self.base_url + path, prepare=prepare, check=check)
        return result["body"]

    # ---- interface ---------------------------------------------------------------------------
    def fetch_orders(self, start, end):
        mids = ",".join(self.marketplace_ids)
        params = {"MarketplaceIds": mids, "LastUpdatedAfter": iso(start), "LastUpdatedBefore": iso(end),
                  "MaxResultsPerPage": self.page_size}
        while True:
            payload = _payload(self.api("GET", "/orders/v0/orders", operation="getOrders", params=params,
                                        restricted=True), "getOrders")
            orders = payload.get("Orders") or []
            if not isinstance(orders, list):
                raise MalformedResponse("amazon getOrders: Orders is not a list", code="shape")
            page = [self._with_items(o) for o in orders]
            if page:
                yield page
            token = payload.get("NextToken")
            if not token:
                return
            params = {"MarketplaceIds": mids, "NextToken": token}

    def _with_items(self, order: dict) -> dict:
        oid = self.order_id(order)
        items: list = []
        params: dict = {}
        while True:
            payload = _payload(self.api("GET", f"/orders/v0/orders/{quote(oid)}/orderItems",
                                        operation="getOrderItems", params=params or None), "getOrderItems")
            items.extend(payload.get("OrderItems") or [])
            if not payload.get("NextToken"):
                break
            params = {"NextToken": payload["NextToken"]}
        return {**order, "OrderItems": items}

    def fetch_order(self, platform_order_id: str) -> dict:
        payload = _payload(self.api("GET", f"/orders/v0/orders/{quote(str(platform_order_id))}",
                                    operation="getOrder", restricted=True), "getOrder")
        return self._with_items(payload)

    def order_id(self, raw: dict) -> str:
        oid = raw.get("AmazonOrderId")
        if not oid:
            raise NormalizeError("amazon order without AmazonOrderId")
        return str(oid)

    def split_page(self, payload: dict) -> list[dict]:
        if not isinstance(payload, dict):
            raise NormalizeError("amazon payload must be a JSON object")
        if "AmazonOrderId" in payload:
            return [payload]
        orders = (payload.get("payload") or {}).get("Orders") if isinstance(payload.get("payload"), dict) else None
        if orders is None:
            orders = payload.get("Orders")
        if isinstance(orders, list):
            return orders
        raise NormalizeError("not an amazon order or getOrders page")

    def normalize(self, raw: dict) -> CanonicalOrder:
        oid = self.order_id(raw)
        status = raw.get("OrderStatus")
        state = STATUS_MAP.get(status)
        if state is None:
            raise NormalizeError(f"amazon order {oid}: unknown OrderStatus {status!r}")
        items = raw.get("OrderItems")
        if not isinstance(items, list):
            raise NormalizeError(f"amazon order {oid}: no OrderItems")
        total = raw.get("OrderTotal") or {}
        currency = total.get("CurrencyCode") or ""
        lines, goods, shipping, discount = [], Decimal("0"), Decimal("0"), Decimal("0")
        ship_blocks: dict = {}
        for it in items:
            if not isinstance(it, dict) or not it.get("OrderItemId"):
                raise NormalizeError(f"amazon order {oid}: garbled order item")
            qty = _int(it.get("QuantityOrdered"), f"amazon order {oid} QuantityOrdered")
            price, cur = _money(it.get("ItemPrice"), f"amazon order {oid} ItemPrice", required=qty > 0
                                and state != PlatformState.UNPAID)
            currency = currency or cur
            shipping += _money(it.get("ShippingPrice"), f"amazon order {oid} ShippingPrice")[0]
            discount += (_money(it.get("PromotionDiscount"), f"amazon order {oid} PromotionDiscount")[0]
                         + _money(it.get("ShippingDiscount"), f"amazon order {oid} ShippingDiscount")[0])
            goods += price
            if qty <= 0:
                continue  # a cancelled item Amazon reports with quantity 0
            cancel = it.get("BuyerRequestedCancel") or {}
            if isinstance(cancel, dict) and str(cancel.get("IsBuyerRequestedCancel", "")).lower() == "true":
                ship_blocks[ShipBlock.CANCEL_REQUESTED] = str(cancel.get("BuyerCancelReason") or "") \
                    or "IsBuyerRequestedCancel=true"
            lines.append(CanonicalLine(
                platform_line_id=str(it["OrderItemId"]), quantity=qty,
                unit_price=(price / qty).quantize(Decimal("0.01")) if price else Decimal("0"),
                title=it.get("Title") or "", platform_item_id=str(it.get("ASIN") or ""),
                outer_sku_id=str(it.get("SellerSKU") or ""), amount=price))
        if not lines and state != PlatformState.CANCELLED:
            raise NormalizeError(f"amazon order {oid}: no items")
        addr = raw.get("ShippingAddress") or {}
        street = ", ".join(str(addr[k]) for k in ("AddressLine1", "AddressLine2", "AddressLine3") if addr.get(k))
        paid = Decimal(str(total["Amount"])) if total.get("Amount") not in (None, "") else Decimal("0")
        if not currency:
            if state == PlatformState.UNPAID:
                currency = "USD"  # a Pending order carries no amounts yet; nothing is counted
            else:
                raise NormalizeError(f"amazon order {oid}: no currency")
        fba = raw.get("FulfillmentChannel") == "AFN"
        extra = {"fulfillment_channel": raw.get("FulfillmentChannel", ""), "marketplace_id": raw.get("MarketplaceId", "")}
        if raw.get("IsPrime"):
            extra["prime"] = True
        return CanonicalOrder(
            platform=self.platform, platform_order_id=oid, platform_status=status, state=state,
            placed_at=_time(raw.get("PurchaseDate"), f"amazon order {oid} PurchaseDate"),
            modified_at=_time(raw.get("LastUpdateDate"), f"amazon order {oid} LastUpdateDate"),
            paid_at=_time(raw.get("PurchaseDate"), "") if state != PlatformState.UNPAID else None,
            lines=lines, currency=currency, goods_amount=goods, shipping_amount=shipping,
            discount_amount=discount, paid_amount=paid,
            buyer_nick=(raw.get("BuyerInfo") or {}).get("BuyerName") or "",
            buyer_email=(raw.get("BuyerInfo") or {}).get("BuyerEmail") or "",
            receiver_name=addr.get("Name") or "", receiver_phone=addr.get("Phone") or "",
            receiver_country=(addr.get("CountryCode") or "").upper() or "US",
            receiver_province=addr.get("StateOrRegion") or "", receiver_city=addr.get("City") or "",
            receiver_district=addr.get("District") or addr.get("County") or "", receiver_address=street,
            receiver_postcode=addr.get("PostalCode") or "", fulfilled_by_platform=fba, ship_blocks=ship_blocks,
            extra=extra,
        )

    def push_stock(self, listing, quantity: int) -> None:
        sku = listing.outer_id or listing.platform_sku_id
        if not sku:
            raise InvalidRequest("amazon: the listing has no SellerSKU (outer id)", code="listing")
        seller = self.credentials.get("seller_id") or self.shop.platform_shop_id
        if not seller:
            raise AuthError("amazon credentials lack seller_id", code="credentials")
        body = self.api("PATCH", f"/listings/2021-08-01/items/{quote(str(seller))}/{quote(sku)}",
                        operation="patchListingsItem", params={"marketplaceIds": ",".join(self.marketplace_ids)},
                        body={"productType": "PRODUCT", "patches": [{
                            "op": "replace", "path": "/attributes/fulfillment_availability",
                            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": int(quantity)}]}]})
        if body.get("status") not in ("ACCEPTED", "VALID"):
            raise AdapterError(f"amazon patchListingsItem: {body.get('status')}: {body.get('issues')}",
                               code="not_accepted", retryable=False)

    def confirm_shipment(self, *, order, carrier_code: str, tracking_number: str) -> None:
        if getattr(order, "fulfilled_by_platform", False):
            raise InvalidRequest("amazon: FBA orders are shipped by Amazon", code="fba")
        lines = order.lines.all() if hasattr(order.lines, "all") else order.lines
        items = [{"orderItemId": str(ln.platform_line_id), "quantity": int(ln.quantity)} for ln in lines]
        code = CARRIERS.get(carrier_code.upper())
        package = {"packageReferenceId": "1", "carrierCode": code or "Other", "trackingNumber": tracking_number,
                   "shipDate": iso(datetime.now(UTC)), "orderItems": items}
        if code is None:
            package["carrierName"] = carrier_code
        self.api("POST", f"/orders/v0/orders/{quote(str(order.platform_order_id))}/shipmentConfirmation",
                 operation="confirmShipment",
                 body={"packageDetail": package, "marketplaceId": self.marketplace_ids[0]})


# ---- helpers -----------------------------------------------------------------------------------

def _check(resp, operation: str) -> dict:
    if resp.status_code == 204 or not resp.content:
        if 200 <= resp.status_code < 300:
            return {}
    try:
        body = json.loads(resp.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponse(f"amazon {operation}: non-JSON answer (HTTP {resp.status_code})", code="json")
    if not isinstance(body, dict):
        raise MalformedResponse(f"amazon {operation}: answer is not an object", code="json")
    if 200 <= resp.status_code < 300:
        return body
    errors = body.get("errors") or [{}]
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    text = f"amazon {operation}: HTTP {resp.status_code} {first.get('code', '')}: {first.get('message', '')}"
    if first.get("details"):
        text += f" ({first['details']})"
    if resp.status_code in (401, 403):
        expired = "expired" in f"{first.get('message', '')} {first.get('details', '')}".lower()
        raise AuthError(text, code="token_expired" if expired else str(first.get("code") or "403"))
    raise InvalidRequest(text, code=str(first.get("code") or resp.status_code))


def _payload(body: dict, operation: str) -> dict:
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise MalformedResponse(f"amazon {operation}: no payload", code="shape")
    return payload



def _money(value, what: str, *, required: bool = False) -> tuple[Decimal, str]:
    if not value:
        if required:
            raise NormalizeError(f"{what}: missing")
        return Decimal("0"), ""
    try:
        amount = Decimal(str(value["Amount"]))
    except (KeyError, TypeError, InvalidOperation):
        raise NormalizeError(f"{what}: not a Money object: {value!r}")
    if not amount.is_finite():
        raise NormalizeError(f"{what}: not an amount: {value!r}")
    return amount, str(value.get("CurrencyCode") or "")


def _time(value, what: str) -> datetime:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise NormalizeError(f"{what}: not an ISO 8601 time: {value!r}")
    if dt.tzinfo is None:
        raise NormalizeError(f"{what}: time without zone: {value!r}")
    return dt
