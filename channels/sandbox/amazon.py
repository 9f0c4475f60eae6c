"""Fake Amazon SP-API under `/amazon`: LWA token endpoint, Orders API v0, Listings Items PATCH.

    POST  /amazon/auth/o2/token                                   LWA (JSON body)
    GET   /amazon/orders/v0/orders                                getOrders
    GET   /amazon/orders/v0/orders/{id}                           getOrder
    GET   /amazon/orders/v0/orders/{id}/orderItems                getOrderItems
    POST  /amazon/orders/v0/orders/{id}/shipmentConfirmation      confirmShipment (204)
    PATCH /amazon/listings/2021-08-01/items/{sellerId}/{sku}      patchListingsItem
    POST  /amazon/tokens/2021-03-01/restrictedDataToken           createRestrictedDataToken (RDT)

Checks the `x-amz-access-token` against the tokens it issued (they expire on the sandbox clock),
enforces the usage plans with its own token buckets on the sandbox clock (429 QuotaExceeded),
and the "LastUpdatedBefore at least 2 minutes before now" rule. NextToken is a server-side
snapshot of the remaining orders.

Personal data as the Orders API v0 model (ordersV0.json) gives it: `BuyerInfo` and the
`ShippingAddress` Name / AddressLine* / Phone are restricted data, served only to a Restricted
Data Token issued for that very resource with the dataElements buyerInfo / shippingAddress; with
the plain LWA token getOrders / getOrder return City, StateOrRegion, PostalCode and CountryCode
only, and no BuyerInfo. ShippingAddress exists only for Unshipped, PartiallyShipped, Shipped and
InvoiceUnconfirmed orders. An account's `pii_elements` (credentials) lists the data elements its
app is approved for (default buyerInfo + shippingAddress); asking for others is refused as the
Tokens API refuses it. An RDT is accepted only by the resource it was issued for.
Order items carry `BuyerRequestedCancel {IsBuyerRequestedCancel: "true", BuyerCancelReason}` while
the buyer's cancellation request is open (the order's `ship_block`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from decimal import Decimal

from . import generator as gen
from .common import Reply
from .rest import Request, expire_tokens, iso_z, issue_token, limiter, parse_iso, token_owner

PLATFORM = "amazon"
ACCOUNT_KEY = "client_id"
TOKEN_TTL = 3600
MARKETPLACE = "ATVPDKIKX0DER"
PLANS = {"getOrders": (0.0167, 20), "getOrder": (0.5, 30), "getOrderItems": (0.5, 30),
         "confirmShipment": (2.0, 10), "patchListingsItem": (5.0, 10), "lwa": (100.0, 100),
         "createRestrictedDataToken": (1.0, 10)}
RDT_TTL = 3600
PII_ELEMENTS = ("buyerInfo", "shippingAddress", "buyerTaxInformation")
DEFAULT_PII = ("buyerInfo", "shippingAddress")
ORDERS_PATH = re.compile(r"^/orders/v0/orders(/[^/]+(/orderItems)?)?$")  # getOrders / getOrder / getOrderItems
ADDRESS_STATUSES = {"Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed"}
STATUS = {gen.UNPAID: "Pending", gen.PAID: "Unshipped", gen.SHIPPED: "Shipped", gen.COMPLETED: "Shipped",
          gen.CANCELLED: "Canceled"}


def api_name(req: Request) -> str:
    parts = [p for p in req.path.split("/") if p]
    if req.path == "/auth/o2/token":
        return "lwa"
    if parts[:3] == ["orders", "v0", "orders"]:
        if len(parts) == 3:
            return "getOrders"
        if len(parts) == 4:
            return "getOrder"
        if len(parts) == 5 and parts[4] == "orderItems":
            return "getOrderItems"
        if len(parts) == 5 and parts[4] == "shipmentConfirmation":
            return "confirmShipment"
    if parts[:3] == ["listings", "2021-08-01", "items"] and len(parts) == 5:
        return "patchListingsItem"
    if req.path == "/tokens/2021-03-01/restrictedDataToken":
        return "createRestrictedDataToken"
    return "unknown"


def is_list_call(api: str) -> bool:
    return api == "getOrders"


def errors(status: int, code: str, message: str, details: str = "", headers: dict | None = None) -> Reply:
    err = {"code": code, "message": message}
    if details:
        err["details"] = details
    return Reply(status, {"errors": [err]}, headers=headers or {})


def fault_reply(kind: str, state) -> Reply:
    if kind == "throttle":
        return errors(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
    if kind == "session_expired":
        expire_tokens(state, PLATFORM)
        with state.lock:
            for token, (acc, grants, _exp) in list(state.extra.get("amazon_rdt", {}).items()):
                state.extra["amazon_rdt"][token] = (acc, grants, state.clock() - 1)
        return errors(403, "Unauthorized", "Access to requested resource is denied.",
                      "The access token you provided has expired.")
    raise ValueError(kind)


def handle(state, req: Request) -> Reply:
    api = api_name(req)
    if api == "lwa":
        return _lwa(state, req)
    if api == "unknown":
        return errors(404, "NotFound", f"Resource {req.path} is not found.")
    token = req.header("x-amz-access-token")
    account_key, expired = token_owner(state, PLATFORM, token)
    req.pii = frozenset()
    if account_key is None:  # a Restricted Data Token: valid only for the resource it was issued for
        with state.lock:
            account_key, grants, until = state.extra.get("amazon_rdt", {}).get(token, (None, {}, 0))
        expired = account_key is not None and state.clock() >= until
        if account_key is not None and not expired and (req.method, req.path) not in grants:
            return errors(403, "Unauthorized", "Access to requested resource is denied.")
        req.pii = grants.get((req.method, req.path), frozenset())
    if account_key is None:
        return errors(403, "Unauthorized", "Access to requested resource is denied.",
                      "The access token you provided is revoked, malformed or invalid.")
    if expired:
        return errors(403, "Unauthorized", "Access to requested resource is denied.",
                      "The access token you provided has expired.")
    rate, burst = PLANS[api]
    if not limiter(state, (PLATFORM, account_key, api), rate, burst).allow(state.clock()):
        state.extra.setdefault("amazon_429", []).append((api, state.clock()))
        return errors(429, "QuotaExceeded", "You exceeded your quota for the requested resource.",
                      headers={"x-amzn-RateLimit-Limit": str(rate)})
    with state.lock:
        reply = APIS[api](state, account_key, req)
    reply.headers.setdefault("x-amzn-RateLimit-Limit", str(rate))
    return reply


def _lwa(state, req: Request) -> Reply:
    try:
        data = req.json()
    except ValueError:
        return Reply(400, {"error": "invalid_request", "error_description": "The request body is not JSON"})
    if data.get("grant_type") != "refresh_token":
        return Reply(400, {"error": "unsupported_grant_type", "error_description": "grant_type"})
    account = state.account(PLATFORM, str(data.get("client_id") or ""))
    if account is None or data.get("client_secret") != account["client_secret"]:
        return Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
    if data.get("refresh_token") != account["refresh_token"]:
        return Reply(400, {"error": "invalid_grant", "error_description": "The request has an invalid grant parameter"})
    ttl = int(account.get("token_ttl") or TOKEN_TTL)
    token = issue_token(state, PLATFORM, account["client_id"], ttl)
    state.extra.setdefault("amazon_tokens_issued", []).append(token)
    return Reply(200, {"access_token": token, "refresh_token": account["refresh_token"], "token_type": "bearer",
                       "expires_in": ttl})


def _order_id(req: Request) -> str:
    return [p for p in req.path.split("/") if p][3]


def _get_orders(state, account_key: str, req: Request) -> Reply:
    if not req.get("MarketplaceIds"):
        return errors(400, "InvalidInput", "Missing required 'MarketplaceIds' parameter.")
    snapshots = state.extra.setdefault("amazon_next", {})
    if req.get("NextToken"):
        rest = snapshots.pop((account_key, req["NextToken"]), None)
        if rest is None:
            return errors(400, "InvalidInput", "Invalid NextToken.")
        ids, size, before = rest
    else:
        if req.get("CreatedAfter") and req.get("LastUpdatedAfter"):
            return errors(400, "InvalidInput", "CreatedAfter and LastUpdatedAfter cannot be combined.")
        after = parse_iso(req.get("LastUpdatedAfter", ""))
        if after is None:
            return errors(400, "InvalidInput", "LastUpdatedAfter must be an ISO 8601 date.")
        latest = state.now() - timedelta(minutes=2)
        before = parse_iso(req["LastUpdatedBefore"]) if req.get("LastUpdatedBefore") else latest
        if before is None or before > latest:
            return errors(400, "InvalidInput",
                          "LastUpdatedBefore must be no later than two minutes before the request time.")
        try:
            size = int(req.get("MaxResultsPerPage") or 100)
        except ValueError:
            size = 0
        if not 1 <= size <= 100:
            return errors(400, "InvalidInput", "MaxResultsPerPage must be between 1 and 100.")
        matched = [o for o in state.account_orders(PLATFORM, account_key) if after <= o.modified <= before]
        matched.sort(key=lambda o: (o.modified, o.order_id))
        ids = [o.order_id for o in matched]
    page, rest_ids = ids[:size], ids[size:]
    payload: dict = {"Orders": [render(state.find_order(PLATFORM, account_key, i), pii=req.pii) for i in page
                                if state.find_order(PLATFORM, account_key, i)],
                     "LastUpdatedBefore": iso_z(before)}
    if rest_ids:
        token = secrets.token_urlsafe(24)
        snapshots[(account_key, token)] = (rest_ids, size, before)
        payload["NextToken"] = token
    return Reply(200, {"payload": payload}, served=page)


def _get_order(state, account_key: str, req: Request) -> Reply:
    order = state.find_order(PLATFORM, account_key, _order_id(req))
    if order is None:
        return errors(404, "NotFound", "Order not found.")
    return Reply(200, {"payload": render(order, pii=req.pii)})


def _get_items(state, account_key: str, req: Request) -> Reply:
    order = state.find_order(PLATFORM, account_key, _order_id(req))
    if order is None:
        return errors(404, "NotFound", "Order not found.")
    return Reply(200, {"payload": {"AmazonOrderId": order.order_id, "OrderItems": render_items(order)}})


def _confirm(state, account_key: str, req: Request) -> Reply:
    order = state.find_order(PLATFORM, account_key, _order_id(req))
    if order is None:
        return errors(404, "NotFound", "Order not found.")
    try:
        body = req.json()
        pkg = body["packageDetail"]
        items = {str(i["orderItemId"]): int(i["quantity"]) for i in pkg["orderItems"]}
        tracking, carrier = pkg["trackingNumber"], pkg["carrierCode"]
        body["marketplaceId"]
    except (ValueError, KeyError, TypeError):
        return errors(400, "InvalidInput", "packageDetail with orderItems, carrierCode, trackingNumber and "
                                           "marketplaceId are required.")
    if order.fulfillment == "AFN":
        return errors(400, "InvalidInput", "Order is fulfilled by Amazon.")
    if order.status != gen.PAID:
        return errors(400, "InvalidInput", f"Order status {STATUS[order.status]} cannot be confirmed.")
    if items != {ln.line_id: ln.quantity for ln in order.lines}:
        return errors(400, "InvalidInput", "orderItems do not match the order.")
    state.ship(PLATFORM, order, carrier=carrier if carrier != "Other" else pkg.get("carrierName", "Other"),
               tracking_number=tracking)
    return Reply(204, b"")


def _patch_listing(state, account_key: str, req: Request) -> Reply:
    parts = [p for p in req.path.split("/") if p]
    seller, sku = parts[3], parts[4]
    if not req.get("marketplaceIds"):
        return errors(400, "InvalidInput", "Missing required 'marketplaceIds' parameter.")
    try:
        body = req.json()
        (patch,) = body["patches"]
        body["productType"]
        assert patch["op"] == "replace" and patch["path"] == "/attributes/fulfillment_availability"
        (value,) = patch["value"]
        quantity = int(value["quantity"])
        value["fulfillment_channel_code"]
    except (ValueError, KeyError, TypeError, AssertionError):
        return errors(400, "InvalidInput", "Expected one replace patch of /attributes/fulfillment_availability.")
    if quantity < 0:
        return Reply(200, {"sku": sku, "status": "INVALID", "submissionId": secrets.token_hex(8),
                           "issues": [{"code": "90220", "message": "quantity must be >= 0", "severity": "ERROR"}]})
    state.record_push(PLATFORM, account_key, item_id=sku, sku_id="", outer_id=sku, quantity=quantity)
    state.extra.setdefault("amazon_sellers", set()).add(seller)
    return Reply(200, {"sku": sku, "status": "ACCEPTED", "submissionId": secrets.token_hex(8), "issues": []})


def _create_rdt(state, account_key: str, req: Request) -> Reply:
    if req.pii:
        return errors(403, "Unauthorized", "Access to requested resource is denied.")  # an RDT cannot mint RDTs
    try:
        resources = req.json()["restrictedResources"]
        if not isinstance(resources, list) or not 1 <= len(resources) <= 50:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return errors(400, "InvalidInput", "Request is missing or has invalid parameters", "Resource not provided.")
    allowed = set(state.account(PLATFORM, account_key).get("pii_elements") or DEFAULT_PII)
    grants: dict = {}
    for res in resources:
        method, path = (res.get("method"), res.get("path")) if isinstance(res, dict) else (None, None)
        elements = res.get("dataElements") if isinstance(res, dict) else None
        if method not in ("GET", "PUT", "POST", "DELETE") or not isinstance(path, str) or not path.startswith("/"):
            return errors(400, "InvalidInput", "Request is missing or has invalid parameters", "Invalid resource.")
        if ORDERS_PATH.match(path):
            if not elements or not isinstance(elements, list) or set(elements) - set(PII_ELEMENTS):
                return errors(400, "InvalidInput", "Request is missing or has invalid parameters",
                              f"dataElements must be given for {path}.")
            if set(elements) - allowed:
                return errors(400, "InvalidInput", "Application does not have access to one or more requested "
                                                   f"data elements: [{', '.join(sorted(set(elements) - allowed))}]")
        grants[(method, path)] = frozenset(elements or ())
    token = "Atz.sprdt|" + secrets.token_hex(16)
    with state.lock:
        state.extra.setdefault("amazon_rdt", {})[token] = (account_key, grants, state.clock() + RDT_TTL)
        state.extra.setdefault("amazon_rdts_issued", []).append(sorted(grants))
    return Reply(200, {"restrictedDataToken": token, "expiresIn": RDT_TTL})


APIS = {"createRestrictedDataToken": _create_rdt, "getOrders": _get_orders, "getOrder": _get_order, "getOrderItems": _get_items,
        "confirmShipment": _confirm, "patchListingsItem": _patch_listing}


def _money(amount: Decimal, currency: str) -> dict:
    return {"CurrencyCode": currency, "Amount": f"{amount:.2f}"}


def render(order: gen.SandboxOrder, *, pii=frozenset()) -> dict:
    """An order as getOrders / getOrder return it (without its items), with the restricted data
    the request's token grants (`pii`: the RDT's dataElements)."""
    r = order.receiver
    status = order.platform_status or STATUS[order.status]
    shipped = sum(ln.quantity for ln in order.lines) if order.status in (gen.SHIPPED, gen.COMPLETED) else 0
    out = {
        "AmazonOrderId": order.order_id,
        "PurchaseDate": iso_z(order.created),
        "LastUpdateDate": iso_z(order.modified),
        "OrderStatus": status,
        "FulfillmentChannel": order.fulfillment or "MFN",
        "SalesChannel": "Amazon.com",
        "ShipServiceLevel": "Std US D2D Dom",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": sum(ln.quantity for ln in order.lines) - shipped,
        "PaymentMethod": "Other",
        "MarketplaceId": MARKETPLACE,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "IsPrime": order.fulfillment == "AFN",
        "IsBusinessOrder": False,
    }
    if status in ADDRESS_STATUSES:
        address = {"City": r.get("city", ""), "StateOrRegion": r.get("province", ""),
                   "PostalCode": r.get("zip", ""), "CountryCode": r.get("country", "US")}
        if "shippingAddress" in pii:
            address = {"Name": r.get("name", ""), "AddressLine1": r.get("address", ""), **address,
                       "Phone": r.get("phone", ""), "AddressType": "Residential"}
        out["ShippingAddress"] = address
    if "buyerInfo" in pii:
        out["BuyerInfo"] = {"BuyerEmail": order.buyer_email, "BuyerName": r.get("name", "")}
    if order.status != gen.UNPAID:  # Pending orders carry no total yet
        out["OrderTotal"] = _money(order.payment, order.currency)
    return out


def _asin(item_id: str) -> str:
    if item_id.isdigit():
        return f"B0{int(item_id) % 10**8:08d}"
    return "B0" + hashlib.md5(item_id.encode()).hexdigest()[:8].upper()


def render_items(order: gen.SandboxOrder) -> list[dict]:
    items = []
    for i, ln in enumerate(order.lines):
        shipped = ln.quantity if order.status in (gen.SHIPPED, gen.COMPLETED) else 0
        items.append({
            "ASIN": _asin(ln.item_id),
            "SellerSKU": ln.outer_id,
            "OrderItemId": ln.line_id,
            "Title": ln.title,
            "QuantityOrdered": ln.quantity,
            "QuantityShipped": shipped,
            "ItemPrice": _money(ln.total, order.currency),
            "ShippingPrice": _money(order.post_fee if i == 0 else Decimal("0"), order.currency),
            "PromotionDiscount": _money(ln.discount, order.currency),
            "ItemTax": _money(Decimal("0"), order.currency),
        })
        if order.ship_block and order.status == gen.PAID:  # the buyer asked to cancel before shipping
            items[-1]["BuyerRequestedCancel"] = {"IsBuyerRequestedCancel": "true",
                                                 "BuyerCancelReason": order.ship_block}
    return items
