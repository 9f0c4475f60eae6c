"""Pinduoduo open platform adapter.

Protocol (../shared/platforms.md): POST form to `{base}/api/router`; common params type (the API
name), client_id, access_token, timestamp (Unix SECONDS), data_type=JSON, version=V1, sign.
Errors: `{"error_response": {error_code, error_msg, sub_code, sub_msg, request_id}}`.

Pulling uses `pdd.order.number.list.increment.get` over windows of at most 30 minutes that end
no later than platform-now minus 3 minutes (`lag`; the platform rejects later ends, and so does
the sandbox: the pull loop must respect `lag`). Its `order_sn_list` carries the FULL order
(receiver, item_list, amounts), so no per-order `pdd.order.information.get` call is made while
pulling; `get_order(order_sn)` is there to re-read one order. The list is sorted by updated_at
descending, so pages are read from the last one back to the first (see taobao.py for why), after a
first page-1 call that reads `total_count`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from datetime import datetime, timedelta

from orders.canonical import CanonicalLine, CanonicalOrder, PlatformState, ShipBlock

from .base import (
    Adapter,
    AdapterError,
    AuthError,
    InvalidRequest,
    MalformedResponse,
    NormalizeError,
    ThrottledError,
    json_object,
    register,
    windows,
)
from .values import as_int as _int
from .values import money, parse_time

GATEWAY_PATH = "/api/router"
MESSAGE_URL = "wss://message-api.pinduoduo.com"  # Channels II: the message WebSocket

ORDER_STATUS_MAP = {1: PlatformState.PAID, 2: PlatformState.SHIPPED, 3: PlatformState.COMPLETED}
# refund_status: 1 none (or after-sale closed), 2 after-sale in progress, 3 refunding, 4 refunded.
REFUND_MAP = {1: "", 2: "requested", 3: "requested", 4: "refunded"}

# Carrier code -> PDD logistics_id (unverified: from pdd.logistics.companies.get as remembered).
LOGISTICS_IDS = {"STO": 1, "SF": 44, "YTO": 85, "ZTO": 115, "EMS": 118, "JD": 120, "YUNDA": 121, "POSTB": 132}

# PDD error codes (unverified; the sandbox uses the same table).
AUTH_CODES = {10019, 20004, 20005, 20031}  # token expired, bad sign, unknown client_id, no permission
THROTTLE_CODES = {52101, 52102, 70031}
RETRYABLE_CODES = {50000}  # system error; 50001 is a business error (not retryable)


def sign_pdd(params: dict, secret: str) -> str:
    """PDD signature: MD5(client_secret + key+value over all params except `sign`, sorted by key,
    + client_secret), UTF-8, upper-case hex. None values are not sent and not signed."""
    s = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign" and v is not None)
    return hashlib.md5((secret + s + secret).encode("utf-8")).hexdigest().upper()


def _unix(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("aware datetime required")
    return int(dt.timestamp())


@register
class PddAdapter(Adapter):
    platform = "pdd"
    default_base_url = "https://gw-api.pinduoduo.com"
    max_window = timedelta(minutes=30)
    lag = timedelta(minutes=3)
    page_size = 100

    def call(self, api: str, params: dict, root: str) -> dict:
        """One signed PDD call; returns the body under `root`."""
        creds = self.credentials
        for key in ("client_id", "client_secret", "access_token"):
            if not creds.get(key):
                raise AuthError(f"pdd credentials lack {key}", code="credentials")
        business = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                    for k, v in params.items() if v is not None}
        result: dict = {}

        def prepare():
            data = {
                "type": api,
                "client_id": creds["client_id"],
                "access_token": creds["access_token"],
                "timestamp": str(int(time.time())),
                "data_type": "JSON",
                "version": "V1",
                **business,
            }
            data["sign"] = sign_pdd(data, creds["client_secret"])
            return {"data": data}

        def check(resp):
            result["body"] = _check(resp, api)

        self.request("POST", self.base_url + GATEWAY_PATH, prepare=prepare, check=check)
        inner = result["body"].get(root)
        if not isinstance(inner, dict):
            raise MalformedResponse(f"pdd {api}: no {root} in the answer", code="shape")
        return inner

    # ---- interface ----------------------------------------------------------------------
    def fetch_orders(self, start, end):
        seen: set[tuple[str, str]] = set()
        api, root = "pdd.order.number.list.increment.get", "order_sn_increment_get_response"
        for w_start, w_end in windows(start, end, self.max_window):
            base = {
                "start_updated_at": _unix(w_start),
                "end_updated_at": _unix(w_end),
                "order_status": 5,
                "refund_status": 5,
                "page_size": self.page_size,
                "use_has_next": "false",
            }
            first = self.call(api, {**base, "page": 1}, root)
            try:
                total = int(first.get("total_count", 0))
            except (TypeError, ValueError):
                raise MalformedResponse(f"pdd: bad total_count {first.get('total_count')!r}", code="shape")
            pages = math.ceil(total / self.page_size) if total else 0
            if pages <= 1:
                bodies = iter([first])
            else:
                bodies = (self.call(api, {**base, "page": p}, root) for p in self._page_order(pages))
            for body in bodies:
                orders = body.get("order_sn_list") or []
                if not isinstance(orders, list):
                    raise MalformedResponse("pdd: order_sn_list is not a list", code="shape")
                page = []
                for order in orders:
                    key = (self.order_id(order), str(order.get("updated_at", "")))
                    if key not in seen:
                        seen.add(key)
                        page.append(order)
                if page:
                    yield page

    def _page_order(self, pages: int):
        """Last page first (see the module docstring)."""
        return range(pages, 0, -1)

    def get_order(self, order_sn: str) -> dict:
        body = self.call("pdd.order.information.get", {"order_sn": order_sn}, "order_info_get_response")
        info = body.get("order_info")
        if not isinstance(info, dict):
            raise MalformedResponse("pdd.order.information.get: no order_info", code="shape")
        return info

    def fetch_order(self, platform_order_id: str) -> dict:
        """Push intake (Channels II): the full order a message names."""
        return self.get_order(str(platform_order_id))

    def message_url(self) -> str:
        """The message WebSocket URL, signed: `{base}/message/{client_id}/{ts_ms}/{sign}` with
        sign = urlencode(base64(lowercase hex(md5(client_id + ts_ms + client_secret)))). The base is
        credentials["message_url"] (the sandbox), else the platform's."""
        import base64
        from urllib.parse import quote

        creds = self.credentials
        for key in ("client_id", "client_secret"):
            if not creds.get(key):
                raise AuthError(f"pdd credentials lack {key}", code="credentials")
        base = (creds.get("message_url") or MESSAGE_URL).rstrip("/")
        ts_ms = str(int(time.time() * 1000))
        digest = hashlib.md5((creds["client_id"] + ts_ms + creds["client_secret"]).encode()).hexdigest()
        sign = quote(base64.b64encode(digest.encode()).decode(), safe="")
        return f"{base}/message/{creds['client_id']}/{ts_ms}/{sign}"

    def order_id(self, raw: dict) -> str:
        sn = raw.get("order_sn")
        if sn in (None, ""):
            raise NormalizeError("pdd order without order_sn")
        return str(sn)

    def split_page(self, payload: dict) -> list[dict]:
        if not isinstance(payload, dict):
            raise NormalizeError("pdd payload must be a JSON object")
        if "order_sn" in payload:
            return [payload]
        for root, key in (("order_sn_increment_get_response", "order_sn_list"),
                          ("order_list_get_response", "order_list")):
            body = payload.get(root)
            if isinstance(body, dict) and isinstance(body.get(key), list):
                return body[key]
        info = (payload.get("order_info_get_response") or {}).get("order_info")
        if isinstance(info, dict):
            return [info]
        raise NormalizeError("not a pdd order or order list page")

    def normalize(self, raw: dict) -> CanonicalOrder:
        sn = self.order_id(raw)
        order_status = _int(_req(raw, "order_status", sn), f"pdd order {sn} order_status")
        refund_status = _int(raw.get("refund_status", 1), f"pdd order {sn} refund_status")
        confirm_status = _int(raw.get("confirm_status", 1), f"pdd order {sn} confirm_status")
        if order_status not in ORDER_STATUS_MAP:
            raise NormalizeError(f"pdd order {sn}: unknown order_status {order_status!r}")
        if refund_status not in REFUND_MAP:
            raise NormalizeError(f"pdd order {sn}: unknown refund_status {refund_status!r}")
        # State: not yet confirmed (un-formed group / unpaid) -> unpaid; cancelled -> cancelled;
        # fully refunded before shipping -> cancelled; otherwise by order_status.
        if confirm_status == 2:
            state = PlatformState.CANCELLED
        elif confirm_status == 0:
            state = PlatformState.UNPAID
        elif refund_status == 4 and order_status == 1:
            state = PlatformState.CANCELLED
        else:
            state = ORDER_STATUS_MAP[order_status]
        extra = {"refund_status": refund_status, "confirm_status": confirm_status}
        for key in ("trade_type", "after_sales_status"):
            if raw.get(key) not in (None, ""):
                extra[key] = raw[key]
        # risk_control_status: 订单审核状态（0-正常订单，1-审核中订单） -> a ship block while it is 1
        risk = _int(raw.get("risk_control_status", 0) or 0, f"pdd order {sn} risk_control_status")
        ship_blocks = {ShipBlock.RISK_CONTROL: "risk_control_status=1"} if risk == 1 else {}

        items = raw.get("item_list")
        if not isinstance(items, list) or not items:
            raise NormalizeError(f"pdd order {sn}: no item_list")
        sku_ids = [str(it.get("sku_id") or "") if isinstance(it, dict) else "" for it in items]
        lines = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise NormalizeError(f"pdd order {sn}: garbled item")
            sku = sku_ids[i]
            line_id = sku if sku and sku_ids.count(sku) == 1 else f"#{i}"
            qty = _int(_req(item, "goods_count", sn), f"pdd order {sn} item {i} goods_count")
            if qty <= 0:
                raise NormalizeError(f"pdd order {sn}: item {i} quantity {qty}")
            lines.append(CanonicalLine(
                platform_line_id=line_id,
                quantity=qty,
                unit_price=money(_req(item, "goods_price", sn), f"pdd order {sn} item {i} goods_price"),
                title=item.get("goods_name") or "",
                platform_item_id=str(item.get("goods_id") or ""),
                platform_sku_id=sku,
                outer_sku_id=str(item.get("outer_id") or item.get("outer_goods_id") or ""),
                refund_status=REFUND_MAP[refund_status],
            ))

        paid = raw.get("confirm_time") or raw.get("pay_time")
        return CanonicalOrder(
            platform=self.platform,
            platform_order_id=sn,
            platform_status=f"{order_status}:{refund_status}",
            state=state,
            placed_at=parse_time(_req(raw, "created_time", sn), f"pdd order {sn} created_time"),
            modified_at=parse_time(_req(raw, "updated_at", sn), f"pdd order {sn} updated_at"),
            paid_at=parse_time(paid, f"pdd order {sn} confirm_time") if paid else None,
            lines=lines,
            goods_amount=money(raw.get("goods_amount", 0), f"pdd order {sn} goods_amount"),
            shipping_amount=money(raw.get("postage", 0), f"pdd order {sn} postage"),
            discount_amount=money(raw.get("discount_amount", 0), f"pdd order {sn} discount_amount"),
            paid_amount=money(_req(raw, "pay_amount", sn), f"pdd order {sn} pay_amount"),
            receiver_name=raw.get("receiver_name") or raw.get("receiver_name_mask") or "",
            receiver_phone=raw.get("receiver_phone") or raw.get("receiver_phone_mask") or "",
            receiver_province=raw.get("province") or "",
            receiver_city=raw.get("city") or "",
            receiver_district=raw.get("town") or "",
            receiver_address=raw.get("address") or raw.get("address_mask") or "",
            buyer_note=raw.get("buyer_memo") or "",
            seller_note=raw.get("remark") or "",
            ship_blocks=ship_blocks,
            extra=extra,
        )

    def push_stock(self, listing, quantity: int) -> None:
        params = {"goods_id": listing.platform_item_id, "quantity": int(quantity), "update_type": 1}
        if listing.platform_sku_id:
            params["sku_id"] = listing.platform_sku_id
        elif listing.outer_id:
            params["outer_id"] = listing.outer_id
        body = self.call("pdd.goods.quantity.update", params, "goods_quantity_update_response")
        if body.get("is_success") is not True:
            raise AdapterError(f"pdd.goods.quantity.update: not successful: {body}",
                               code="not_success", retryable=False)

    def confirm_shipment(self, *, order, carrier_code: str, tracking_number: str) -> None:
        try:
            logistics_id = LOGISTICS_IDS[carrier_code.upper()]
        except KeyError:
            raise InvalidRequest(f"pdd: no logistics_id for carrier {carrier_code!r}", code="carrier")
        body = self.call("pdd.logistics.online.send", {
            "order_sn": order.platform_order_id, "logistics_id": logistics_id,
            "tracking_number": tracking_number}, "logistics_online_send_response")
        if body.get("is_success") is not True:
            raise AdapterError(f"pdd.logistics.online.send: not successful: {body}",
                               code="not_success", retryable=False)


# ---- helpers -----------------------------------------------------------------------------

def _check(resp, api: str) -> dict:
    body = json_object(resp, f"pdd {api}")
    if "error_response" in body:
        raise _error(api, body["error_response"] or {})
    return body


def _error(api: str, err: dict) -> AdapterError:
    try:
        code = int(err.get("error_code"))
    except (TypeError, ValueError):
        code = -1
    sub_code = str(err.get("sub_code") or "")
    text = f"pdd {api}: {code} {err.get('error_msg', '')}"
    if sub_code or err.get("sub_msg"):
        text += f" ({sub_code}: {err.get('sub_msg', '')})"
    if code in THROTTLE_CODES:
        return ThrottledError(text, code=str(code))
    if code in AUTH_CODES:
        return AuthError(text, code=str(code))
    if code in RETRYABLE_CODES:
        return AdapterError(text, code=str(code), retryable=True)
    return InvalidRequest(text, code=str(code))


def _req(raw: dict, key: str, sn: str):
    value = raw.get(key)
    if value is None or value == "":
        raise NormalizeError(f"pdd order {sn}: missing {key}")
    return value


