"""JD Open Service (JOS) adapter.

Protocol (../shared/platforms.md): POST form to `{base}/routerjson`; common params method,
app_key, access_token, timestamp (GMT+8 `yyyy-MM-dd HH:mm:ss`), format=json, v=2.0, sign, and
`360buy_param_json`, a JSON string holding ALL business params. Errors:
`{"error_response": {code, zh_desc, en_desc}}`; business failures inside a response carry
`code != "0"` or `apiResult.success == false`.

Pulling uses `jingdong.pop.order.search` with dateType=0 (modified time), windows of one day,
paging forward. JD does not document a descending sort we could page backwards against, so the
adapter instead watches `orderTotal`: if it changes while a window is being paged (an order left
or entered the window), the window is paged again (at most three passes); orders already yielded
with the same `modified` are dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
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
from .values import CN_TZ, TIME_FORMAT, format_time, money, parse_time
from .values import as_int as _int

logger = logging.getLogger(__name__)

GATEWAY_PATH = "/routerjson"

ORDER_STATES = ("WAIT_SELLER_STOCK_OUT", "WAIT_SELLER_DELIVERY", "WAIT_GOODS_RECEIVE_CONFIRM",
                "FINISHED_L", "TRADE_CANCELED", "LOCKED", "POP_ORDER_PAUSE")
OPTIONAL_FIELDS = ",".join((
    "orderId", "venderId", "orderType", "payType", "orderTotalPrice", "orderSellerPrice", "orderPayment",
    "freightPrice", "sellerDiscount", "orderState", "orderStateRemark", "orderRemark", "venderRemark", "orderStartTime",
    "modified", "paymentConfirmTime", "pin", "consigneeInfo", "itemInfoList",
))

# orderState -> PlatformState. LOCKED (已锁定: a cancellation/after-sale request is pending) and
# POP_ORDER_PAUSE (POP暂停) are paid orders that must not ship now: ship blocks (SHIP_BLOCKS).
STATUS_MAP = {
    "WAIT_SELLER_STOCK_OUT": PlatformState.PAID,
    "WAIT_SELLER_DELIVERY": PlatformState.PAID,
    "LOCKED": PlatformState.PAID,
    "POP_ORDER_PAUSE": PlatformState.PAID,
    "WAIT_GOODS_RECEIVE_CONFIRM": PlatformState.SHIPPED,
    "FINISHED_L": PlatformState.COMPLETED,
    "TRADE_CANCELED": PlatformState.CANCELLED,
}

SHIP_BLOCKS = {"LOCKED": ShipBlock.LOCKED, "POP_ORDER_PAUSE": ShipBlock.PAUSED}

# Carrier code -> JD logiCoprId (unverified, from platforms.md).
LOGI_COPR_IDS = {"SF": "467", "YTO": "463", "STO": "470", "ZTO": "1499", "YUNDA": "1327", "EMS": "465",
                 "JD": "2087"}

# JOS error codes (unverified; the sandbox uses the same table): 12 bad signature, 18 unknown
# app_key, 19 access_token expired/invalid -> auth; 85 call limit -> throttled; 66/67 backend
# unavailable -> retryable; anything else is an invalid request.
AUTH_CODES = {"12", "18", "19"}
THROTTLE_CODES = {"85"}
RETRYABLE_CODES = {"66", "67"}


def sign_jos(params: dict, secret: str) -> str:
    """JOS signature: MD5(secret + key+value over all params except `sign`, sorted by key, +
    secret), UTF-8, upper-case hex. Params whose value is None are not sent and not signed."""
    s = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign" and v is not None)
    return hashlib.md5((secret + s + secret).encode("utf-8")).hexdigest().upper()



@register
class JdAdapter(Adapter):
    platform = "jd"
    default_base_url = "https://api.jd.com"
    max_window = timedelta(days=1)
    page_size = 100
    max_passes = 3

    def call(self, api: str, business: dict) -> dict:
        """One signed JOS call; returns the body under the `*_responce` root key."""
        creds = self.credentials
        for key in ("app_key", "app_secret", "access_token"):
            if not creds.get(key):
                raise AuthError(f"jd credentials lack {key}", code="credentials")
        param_json = json.dumps({k: str(v) for k, v in business.items() if v is not None},
                                ensure_ascii=False, separators=(",", ":"))
        result: dict = {}

        def prepare():
            data = {
                "method": api,
                "app_key": creds["app_key"],
                "access_token": creds["access_token"],
                "timestamp": datetime.now(CN_TZ).strftime(TIME_FORMAT),
                "format": "json",
                "v": "2.0",
                "360buy_param_json": param_json,
            }
            data["sign"] = sign_jos(data, creds["app_secret"])
            return {"data": data}

        def check(resp):
            result["body"] = _check(resp, api)

        self.request("POST", self.base_url + GATEWAY_PATH, prepare=prepare, check=check)
        body = result["body"]
        root = api.replace(".", "_") + "_responce"
        inner = body.get(root)
        if not isinstance(inner, dict):
            raise MalformedResponse(f"jd {api}: no {root} in the answer", code="shape")
        if str(inner.get("code", "0")) != "0":
            raise _error(api, {"code": inner.get("code"), "zh_desc": inner.get("zh_desc", ""),
                               "en_desc": inner.get("en_desc", "")})
        return inner

    # ---- interface ----------------------------------------------------------------------
    def fetch_orders(self, start, end):
        seen: set[tuple[str, str]] = set()
        for w_start, w_end in windows(start, end, self.max_window):
            base = {
                "start_date": format_time(w_start),
                "end_date": format_time(w_end),
                "order_state": ",".join(ORDER_STATES),
                "optional_fields": OPTIONAL_FIELDS,
                "dateType": 0,
                "page_size": self.page_size,
            }
            for _pass in range(self.max_passes):
                totals = set()
                page_no, pages = 1, 1
                while page_no <= pages:
                    result = self._search({**base, "page": page_no})
                    total = result["orderTotal"]
                    totals.add(total)
                    pages = max(1, math.ceil(total / self.page_size))
                    fresh = []
                    for order in result["orderInfoList"]:
                        key = (self.order_id(order), str(order.get("modified", "")))
                        if key not in seen:
                            seen.add(key)
                            fresh.append(order)
                    if fresh:
                        yield fresh
                    page_no += 1
                if len(totals) == 1:
                    break
            else:
                logger.warning("shop=%s jd window %s..%s kept changing while paged %d times; the pull "
                               "overlap has to catch up", self.shop.pk, base["start_date"], base["end_date"],
                               self.max_passes)

    def _search(self, params: dict) -> dict:
        body = self.call("jingdong.pop.order.search", params)
        result = body.get("searchorderinfo_result")
        if not isinstance(result, dict):
            raise MalformedResponse("jd jingdong.pop.order.search: no searchorderinfo_result", code="shape")
        api_result = result.get("apiResult") or {}
        if api_result.get("success") is False:
            raise InvalidRequest(f"jd jingdong.pop.order.search: {api_result.get('numberCode')} "
                                 f"{api_result.get('chineseErrCode', '')} {api_result.get('englishErrCode', '')}",
                                 code=str(api_result.get("numberCode", "")))
        try:
            total = int(result.get("orderTotal", 0))
        except (TypeError, ValueError):
            raise MalformedResponse(f"jd: bad orderTotal {result.get('orderTotal')!r}", code="shape")
        orders = result.get("orderInfoList") or []
        if not isinstance(orders, list):
            raise MalformedResponse("jd: orderInfoList is not a list", code="shape")
        return {"orderTotal": total, "orderInfoList": orders}

    def order_id(self, raw: dict) -> str:
        oid = raw.get("orderId")
        if oid in (None, ""):
            raise NormalizeError("jd order without orderId")
        return str(oid)

    def split_page(self, payload: dict) -> list[dict]:
        if not isinstance(payload, dict):
            raise NormalizeError("jd payload must be a JSON object")
        if "orderId" in payload:
            return [payload]
        body = payload.get("jingdong_pop_order_search_responce", payload)
        result = body.get("searchorderinfo_result", body) if isinstance(body, dict) else None
        if isinstance(result, dict) and isinstance(result.get("orderInfoList"), list):
            return result["orderInfoList"]
        raise NormalizeError("not a jd order or order search page")

    def normalize(self, raw: dict) -> CanonicalOrder:
        oid = self.order_id(raw)
        status = _req(raw, "orderState", oid)
        state = STATUS_MAP.get(status)
        if state is None:
            raise NormalizeError(f"jd order {oid}: unknown orderState {status!r}")
        extra = {k: raw[k] for k in ("venderId", "orderType", "payType") if raw.get(k) not in (None, "")}
        ship_blocks = {}
        if status in SHIP_BLOCKS:  # the platform's words: the state and its 订单状态说明
            remark = str(raw.get("orderStateRemark") or "")
            ship_blocks[SHIP_BLOCKS[status]] = f"{status}（{remark}）" if remark else status

        items = raw.get("itemInfoList")
        if not isinstance(items, list) or not items:
            raise NormalizeError(f"jd order {oid}: no itemInfoList")
        lines, used = [], set()
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise NormalizeError(f"jd order {oid}: garbled item")
            sku = str(_req(item, "skuId", oid))
            line_id = sku if sku not in used else f"{sku}#{i}"
            used.add(line_id)
            qty = _int(_req(item, "itemTotal", oid), f"jd order {oid} sku {sku} itemTotal")
            if qty <= 0:
                raise NormalizeError(f"jd order {oid}: sku {sku} quantity {qty}")
            lines.append(CanonicalLine(
                platform_line_id=line_id,
                quantity=qty,
                unit_price=money(_req(item, "jdPrice", oid), f"jd order {oid} sku {sku} jdPrice"),
                title=item.get("skuName") or "",
                platform_item_id=str(item.get("wareId") or ""),
                platform_sku_id=sku,
                outer_sku_id=str(item.get("outerSkuId") or ""),
            ))

        c = raw.get("consigneeInfo") or {}
        if not isinstance(c, dict):
            raise NormalizeError(f"jd order {oid}: garbled consigneeInfo")
        paid = raw.get("paymentConfirmTime")
        paid_at = parse_time(paid, f"jd order {oid} paymentConfirmTime") if paid else None
        if paid_at is not None and paid_at.year < 1971:  # JD's "0001-01-01 00:00:00" for none
            paid_at = None
        return CanonicalOrder(
            platform=self.platform,
            platform_order_id=oid,
            platform_status=status,
            state=state,
            placed_at=parse_time(_req(raw, "orderStartTime", oid), f"jd order {oid} orderStartTime"),
            modified_at=parse_time(_req(raw, "modified", oid), f"jd order {oid} modified"),
            paid_at=paid_at,
            lines=lines,
            goods_amount=money(raw.get("orderTotalPrice", "0"), f"jd order {oid} orderTotalPrice"),
            shipping_amount=money(raw.get("freightPrice", "0"), f"jd order {oid} freightPrice"),
            discount_amount=money(raw.get("sellerDiscount", "0"), f"jd order {oid} sellerDiscount"),
            paid_amount=money(_req(raw, "orderPayment", oid), f"jd order {oid} orderPayment"),
            buyer_nick=raw.get("pin") or "",
            receiver_name=c.get("fullname") or "",
            receiver_phone=c.get("mobile") or c.get("telephone") or "",
            receiver_province=c.get("province") or "",
            receiver_city=c.get("city") or "",
            receiver_district=c.get("county") or "",
            receiver_address=c.get("fullAddress") or "",
            buyer_note=raw.get("orderRemark") or "",
            seller_note=raw.get("venderRemark") or "",
            ship_blocks=ship_blocks,
            extra=extra,
        )

    def push_stock(self, listing, quantity: int) -> None:
        sku = listing.platform_sku_id or listing.platform_item_id
        body = self.call("jingdong.stock.write.updateSkuStock", {"skuId": sku, "stockNum": int(quantity)})
        if body.get("success") is False:
            raise AdapterError(f"jd jingdong.stock.write.updateSkuStock: not successful: {body}",
                               code="not_success", retryable=False)

    def confirm_shipment(self, *, order, carrier_code: str, tracking_number: str) -> None:
        try:
            logi = LOGI_COPR_IDS[carrier_code.upper()]
        except KeyError:
            raise InvalidRequest(f"jd: no logiCoprId for carrier {carrier_code!r}", code="carrier")
        body = self.call("jingdong.pop.order.shipment", {
            "orderId": order.platform_order_id, "logiCoprId": logi, "logiNo": tracking_number})
        result = body.get("sopjosshipment_result") or {}
        if result.get("success") is not True:
            raise AdapterError(f"jd jingdong.pop.order.shipment: not successful: {result}",
                               code="not_success", retryable=False)


# ---- helpers -----------------------------------------------------------------------------

def _check(resp, api: str) -> dict:
    body = json_object(resp, f"jd {api}")
    if "error_response" in body:
        raise _error(api, body["error_response"] or {})
    return body


def _error(api: str, err: dict) -> AdapterError:
    code = str(err.get("code", ""))
    text = f"jd {api}: {code} {err.get('zh_desc', '')} {err.get('en_desc', '')}".rstrip()
    if code in THROTTLE_CODES:
        return ThrottledError(text, code=code)
    if code in AUTH_CODES:
        return AuthError(text, code=code)
    if code in RETRYABLE_CODES:
        return AdapterError(text, code=code, retryable=True)
    return InvalidRequest(text, code=code)


def _req(raw: dict, key: str, oid: str):
    value = raw.get(key)
    if value is None or value == "":
        raise NormalizeError(f"jd order {oid}: missing {key}")
    return value


