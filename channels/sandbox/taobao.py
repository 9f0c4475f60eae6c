"""Fake Taobao TOP gateway: `/taobao/router/rest`.

Verifies the TOP signature (written here independently of channels.adapters.taobao), the
timestamp (10 minutes skew), app_key and session; serves taobao.trades.sold.increment.get
(window <= 1 day, page_size <= 100, sorted by modified desc), taobao.item.quantity.update and
taobao.logistics.offline.send in the real response shapes, errors as HTTP 200 error_response.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

from . import generator as gen
from .common import MAX_SKEW_SECONDS, Reply, fmt_time, parse_cn_time, request_id, yuan

PLATFORM = "taobao"
ACCOUNT_KEY = "app_key"
LIST_APIS = {"taobao.trades.sold.increment.get"}

STATUS = {gen.UNPAID: "WAIT_BUYER_PAY", gen.PAID: "WAIT_SELLER_SEND_GOODS",
          gen.SHIPPED: "WAIT_BUYER_CONFIRM_GOODS", gen.COMPLETED: "TRADE_FINISHED"}
REFUND = {"": "NO_REFUND", "requested": "WAIT_SELLER_AGREE", "refunded": "SUCCESS"}
# TOP generates an oaid only when `fields` asks for these five (taobao.trades.sold.increment.get, field oaid)
OAID_NEEDS = {"receiver_name", "receiver_mobile", "receiver_phone", "receiver_address", "created"}


def api_name(params: dict) -> str:
    return params.get("method", "")


def is_list_call(api: str) -> bool:
    return api in LIST_APIS


def error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> Reply:
    body = {"code": code, "msg": msg}
    if sub_code:
        body["sub_code"] = sub_code
    if sub_msg:
        body["sub_msg"] = sub_msg
    body["request_id"] = request_id()
    return Reply(200, {"error_response": body})


def fault_reply(kind: str, state) -> Reply:
    if kind == "throttle":
        return error(7, "App Call Limited", "accesscontrol.limited-by-app-access-count",
                     f"This ban will last for {state.retry_after} more seconds")
    if kind == "session_expired":
        return error(27, "Invalid session", "isv.session-expired", "SessionKey已过期，请重新授权")
    raise ValueError(kind)


def expected_sign(params: dict, secret: str, method: str) -> str | None:
    """Server-side TOP signature check, deliberately not shared with the adapter."""
    items = sorted(((k, v) for k, v in params.items() if k != "sign" and k and v), key=lambda kv: kv[0].encode())
    text = "".join(k + v for k, v in items).encode("utf-8")
    key = secret.encode("utf-8")
    if method == "md5":
        return hashlib.md5(key + text + key).hexdigest().upper()
    if method == "hmac":
        return hmac.HMAC(key, text, "md5").hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.HMAC(key, text, "sha256").hexdigest().upper()
    return None


def handle(state, params: dict) -> Reply:
    api = params.get("method")
    if not api:
        return error(21, "Missing method")
    app_key = params.get("app_key")
    if not app_key:
        return error(28, "Missing app key")
    account = state.account(PLATFORM, app_key)
    if account is None:
        return error(29, "Invalid app key")
    if not params.get("sign"):
        return error(24, "Missing signature")
    sign_method = params.get("sign_method") or "md5"
    expected = expected_sign(params, account["app_secret"], sign_method)
    if expected is None:
        return error(41, "Invalid arguments:sign_method", "isv.invalid-parameter:sign_method")
    if not hmac.compare_digest(expected, params["sign"]):
        return error(25, "Invalid signature")
    if not params.get("timestamp"):
        return error(30, "Missing timestamp")
    ts = parse_cn_time(params["timestamp"])
    if ts is None or abs(ts.timestamp() - time.time()) > MAX_SKEW_SECONDS:
        return error(31, "Invalid timestamp", "isv.invalid-timestamp",
                     "时间戳与服务器时间相差超过10分钟")
    if params.get("v") != "2.0":
        return error(33 if params.get("v") else 32, "Invalid version" if params.get("v") else "Missing version")
    if params.get("format", "xml") != "json":
        return error(23, "Invalid format", "", "沙箱只支持 format=json")
    if not params.get("session"):
        return error(26, "Missing session")
    if params["session"] != account["session"]:
        return error(27, "Invalid session", "invalid-sessionkey", "SessionKey非法")
    handler = APIS.get(api)
    if handler is None:
        return error(22, "Invalid method")
    with state.lock:
        return handler(state, app_key, params)


def _missing(name: str) -> Reply:
    return error(40, f"Missing required arguments:{name}", f"isv.missing-parameter:{name}")


def _invalid(name: str, why: str) -> Reply:
    return error(41, f"Invalid arguments:{name}", f"isv.invalid-parameter:{name}", why)


def _increment(state, account_key: str, params: dict) -> Reply:
    for name in ("fields", "start_modified", "end_modified"):
        if not params.get(name):
            return _missing(name)
    start, end = parse_cn_time(params["start_modified"]), parse_cn_time(params["end_modified"])
    if start is None:
        return _invalid("start_modified", "时间格式应为 yyyy-MM-dd HH:mm:ss")
    if end is None:
        return _invalid("end_modified", "时间格式应为 yyyy-MM-dd HH:mm:ss")
    if end < start:
        return _invalid("end_modified", "结束时间不能早于开始时间")
    if end - start > timedelta(days=1):
        return _invalid("end_modified", "start_modified与end_modified的时间跨度不能超过一天")
    try:
        page_no = int(params.get("page_no") or 1)
        page_size = int(params.get("page_size") or 40)
    except ValueError:
        return _invalid("page_no", "page_no和page_size必须是整数")
    if page_no < 1:
        return _invalid("page_no", "page_no必须大于0")
    if not 1 <= page_size <= 100:
        return _invalid("page_size", "page_size取值范围为1~100")
    statuses = params.get("status")
    types = set(params["type"].split(",")) if params.get("type") else None
    fields = set(params["fields"].split(","))

    matched = [o for o in state.account_orders(PLATFORM, account_key)
               if start <= o.modified <= end
               and (not statuses or trade_status(o) == statuses)
               and (types is None or o.trade_type in types)]
    matched.sort(key=lambda o: (o.modified, o.order_id), reverse=True)
    page = matched[(page_no - 1) * page_size: page_no * page_size]
    body: dict = {}
    if params.get("use_has_next") != "true":
        body["total_results"] = len(matched)
    body["has_next"] = page_no * page_size < len(matched)
    if page:  # TOP leaves `trades` out of an empty page
        body["trades"] = {"trade": [_only(render(o), fields) for o in page]}
    body["request_id"] = request_id()
    return Reply(200, {"trades_sold_increment_get_response": body}, served=[o.order_id for o in page])


def _only(trade: dict, fields: set) -> dict:
    wanted = {f.split(".")[0] for f in fields}
    if not OAID_NEEDS <= wanted:
        wanted.discard("oaid")
    return {k: v for k, v in trade.items() if k in wanted}


def _quantity_update(state, account_key: str, params: dict) -> Reply:
    if not params.get("num_iid"):
        return _missing("num_iid")
    if params.get("quantity") in (None, ""):
        return _missing("quantity")
    try:
        quantity = int(params["quantity"])
        kind = int(params.get("type") or 1)
        num_iid = int(params["num_iid"])
    except ValueError:
        return _invalid("quantity", "quantity、type、num_iid必须是整数")
    if kind not in (1, 2):
        return _invalid("type", "type只能是1(全量)或2(增量)")
    if kind == 1 and quantity < 0:
        return _invalid("quantity", "全量更新时quantity不能小于0")
    state.record_push(PLATFORM, account_key, item_id=params["num_iid"], sku_id=params.get("sku_id", ""),
                      outer_id=params.get("outer_id", ""), quantity=quantity,
                      mode="absolute" if kind == 1 else "delta")
    return Reply(200, {"item_quantity_update_response": {
        "item": {"num_iid": num_iid, "num": quantity, "modified": fmt_time(state.now())},
        "request_id": request_id()}})


def _offline_send(state, account_key: str, params: dict) -> Reply:
    for name in ("tid", "out_sid", "company_code"):
        if not params.get(name):
            return _missing(name)
    order = state.find_order(PLATFORM, account_key, params["tid"])
    if order is None:
        return error(15, "Remote service error", "isv.logistics-offline-service-error:B01", "订单不存在")
    if trade_status(order) != "WAIT_SELLER_SEND_GOODS":
        return error(15, "Remote service error", "isv.logistics-offline-service-error:B04",
                     f"订单状态{trade_status(order)}不允许发货")
    state.ship(PLATFORM, order, carrier=params["company_code"], tracking_number=params["out_sid"])
    return Reply(200, {"logistics_offline_send_response": {"shipping": {"is_success": True},
                                                            "request_id": request_id()}})


APIS = {
    "taobao.trades.sold.increment.get": _increment,
    "taobao.item.quantity.update": _quantity_update,
    "taobao.logistics.offline.send": _offline_send,
}


def trade_status(order: gen.SandboxOrder) -> str:
    if order.platform_status:
        return order.platform_status
    if order.ship_block and order.status == gen.PAID:
        return "PAID_FORBID_CONSIGN"  # paid, but the platform forbids shipping for now
    if order.status == gen.CANCELLED:
        return "TRADE_CLOSED" if order.paid_at else "TRADE_CLOSED_BY_TAOBAO"
    return STATUS[order.status]


def render(order: gen.SandboxOrder) -> dict:
    """A trade as taobao.trades.sold.increment.get returns it (simplify=false)."""
    status = trade_status(order)
    r = mask_receiver(order.receiver) if order.oaid else order.receiver
    trade = {
        "tid": int(order.order_id),
        "tid_str": order.order_id,
        "type": order.trade_type,
        "status": status,
        "payment": yuan(order.payment),
        "total_fee": yuan(order.goods_total),
        "post_fee": yuan(order.post_fee),
        "discount_fee": yuan(order.discount),
        "adjust_fee": "0.00",
        "created": fmt_time(order.created),
        "modified": fmt_time(order.modified),
        "buyer_nick": order.buyer_nick,
        "seller_nick": f"沙箱店铺{order.account}",
        "receiver_name": r.get("name", ""),
        "receiver_mobile": r.get("phone", ""),
        "receiver_phone": "",
        "receiver_state": r.get("province", ""),
        "receiver_city": r.get("city", ""),
        "receiver_district": r.get("district", ""),
        "receiver_town": r.get("town", ""),
        "receiver_address": r.get("address", ""),
        "receiver_zip": r.get("zip", ""),
    }
    if order.oaid:
        trade["oaid"] = order.oaid
    if order.paid_at:
        trade["pay_time"] = fmt_time(order.paid_at)
    if order.shipped_at:
        trade["consign_time"] = fmt_time(order.shipped_at)
    if order.status in (gen.COMPLETED, gen.CANCELLED):
        trade["end_time"] = fmt_time(order.modified)
    if order.buyer_note:
        trade["buyer_message"] = order.buyer_note
    if order.seller_note:
        trade["seller_memo"] = order.seller_note
    lines = []
    for ln in order.lines:
        line_status = "TRADE_CLOSED" if ln.refund == "refunded" else status
        lines.append({
            "oid": int(ln.line_id),
            "oid_str": ln.line_id,
            "num_iid": int(ln.item_id),
            "sku_id": ln.sku_id,
            "outer_sku_id": ln.outer_id,
            "outer_iid": ln.outer_id.rsplit("-", 1)[0],
            "title": ln.title,
            "sku_properties_name": ln.title.rsplit(" ", 1)[-1],
            "num": ln.quantity,
            "price": yuan(ln.price),
            "total_fee": yuan(ln.total),
            "discount_fee": "0.00",
            "payment": yuan(ln.payment),
            "divide_order_fee": yuan(ln.payment),
            "status": line_status,
            "refund_status": REFUND[ln.refund],
        })
    trade["orders"] = {"order": lines}
    return trade


def mask_receiver(r: dict) -> dict:
    """A privacy order's receiver as TOP serves it beside its oaid: masked (the exact masking
    pattern is unverified; the plain values only come back through taobao.top.oaid.decrypt or,
    for the parcel, through Cainiao with the oaid)."""
    name, phone, address = r.get("name", ""), r.get("phone", ""), r.get("address", "")
    return {**r, "name": name[:1] + "*" * max(2, len(name) - 1),
            "phone": phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****",
            "address": address[:3] + "*" * max(4, len(address) - 3)}
