"""Fake Pinduoduo gateway: `/pdd/api/router`.

Verifies the PDD signature (independently of channels.adapters.pdd), the Unix-seconds timestamp,
client_id and access_token. Serves pdd.order.number.list.increment.get (span <= 30 min, end <=
now - 3 min, page_size <= 100, sorted by updated_at desc, full orders in order_sn_list),
pdd.order.information.get, pdd.goods.quantity.update and pdd.logistics.online.send. Amounts are
JSON numbers in yuan, as the platform sends them. Error codes are unverified.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from . import generator as gen
from .common import MAX_SKEW_SECONDS, Reply, fmt_time, request_id

PLATFORM = "pdd"
ACCOUNT_KEY = "client_id"
LIST_APIS = {"pdd.order.number.list.increment.get"}
MAX_SPAN_SECONDS = 30 * 60
LAG_SECONDS = 3 * 60
# logistics_id values the fake accepts (unverified; see channels.adapters.pdd)
KNOWN_LOGISTICS = {1, 44, 85, 115, 118, 120, 121, 132}
ORDER_STATUS = {gen.PAID: 1, gen.UNPAID: 1, gen.SHIPPED: 2, gen.COMPLETED: 3, gen.CANCELLED: 1}
# What the gateway answers when asked to ship an order under risk review (unverified: the real
# sub_code / text are not published; the refusal itself follows from 审核中订单 being unshippable)
RISK_CONTROL_REFUSAL = ("order.risk.control", "订单审核中（风控），暂不允许发货")


def api_name(params: dict) -> str:
    return params.get("type", "")


def is_list_call(api: str) -> bool:
    return api in LIST_APIS


def error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> Reply:
    return Reply(200, {"error_response": {"error_code": code, "error_msg": msg, "sub_code": sub_code,
                                          "sub_msg": sub_msg, "request_id": request_id()}})


def fault_reply(kind: str, state) -> Reply:
    if kind == "throttle":
        return error(70031, "调用过于频繁，请调整调用频率", "70031", "接口调用已被限流")
    if kind == "session_expired":
        return error(10019, "access_token已过期", "10019", "access_token已过期，请刷新或重新授权")
    raise ValueError(kind)


def expected_sign(params: dict, secret: str) -> str:
    """Server-side PDD signature check, deliberately not shared with the adapter."""
    md5 = hashlib.md5(secret.encode())
    for key in sorted(params, key=lambda k: k.encode()):
        if key != "sign":
            md5.update((key + params[key]).encode())
    md5.update(secret.encode())
    return md5.hexdigest().upper()


def _param_error(sub_msg: str) -> Reply:
    return error(10000, "参数错误", "10000", sub_msg)


def handle(state, params: dict) -> Reply:
    client_id = params.get("client_id")
    account = state.account(PLATFORM, client_id) if client_id else None
    if account is None:
        return error(20005, "client_id不存在", "20005", "请检查client_id")
    if not hmac.compare_digest(expected_sign(params, account["client_secret"]), params.get("sign", "")):
        return error(20004, "签名校验失败", "20004", "sign校验失败，请检查签名算法和client_secret")
    try:
        ts = int(params.get("timestamp", ""))
    except ValueError:
        return _param_error("timestamp必须是Unix秒级时间戳")
    if abs(ts - time.time()) > MAX_SKEW_SECONDS:
        return error(20002, "timestamp已过期", "20002", "timestamp与服务器时间相差超过10分钟")
    if params.get("access_token") != account["access_token"]:
        return error(10019, "access_token已过期", "10019", "access_token无效或已过期")
    if params.get("data_type", "JSON").upper() != "JSON":
        return _param_error("沙箱只支持 data_type=JSON")
    handler = APIS.get(params.get("type", ""))
    if handler is None:
        return error(10002, "接口不存在", "10002", f"type={params.get('type', '')}不存在")
    with state.lock:
        return handler(state, client_id, params)


def _ints(p: dict, *names, **defaults) -> dict:
    out = {}
    for name in names:
        value = p.get(name)
        if value in (None, ""):
            if name not in defaults:
                raise KeyError(name)
            out[name] = defaults[name]
            continue
        out[name] = int(value)
    return out


def _increment(state, account_key: str, p: dict) -> Reply:
    try:
        v = _ints(p, "start_updated_at", "end_updated_at", "order_status", "refund_status", "page", "page_size",
                  page=1, page_size=100)
    except KeyError as exc:
        return _param_error(f"{exc.args[0]}不能为空")
    except ValueError:
        return _param_error("参数必须是整数")
    start, end = v["start_updated_at"], v["end_updated_at"]
    if end < start:
        return _param_error("end_updated_at不能早于start_updated_at")
    if end - start > MAX_SPAN_SECONDS:
        return _param_error("start_updated_at与end_updated_at的时间跨度不能超过30分钟")
    if end > state.clock() - LAG_SECONDS:  # the platform's clock (tests may move it)
        return _param_error("end_updated_at不能晚于当前时间前3分钟")
    if v["order_status"] not in (1, 2, 3, 5) or v["refund_status"] not in (1, 2, 3, 4, 5):
        return _param_error("order_status取值1、2、3、5，refund_status取值1~5")
    if v["page"] < 1 or not 1 <= v["page_size"] <= 100:
        return _param_error("page必须大于0，page_size取值1~100")
    matched = [o for o in state.account_orders(PLATFORM, account_key)
               if start <= o.modified.timestamp() <= end
               and v["order_status"] in (5, order_status(o))
               and v["refund_status"] in (5, refund_status(o))]
    matched.sort(key=lambda o: (o.modified, o.order_id), reverse=True)
    page = matched[(v["page"] - 1) * v["page_size"]: v["page"] * v["page_size"]]
    body: dict = {"has_next": v["page"] * v["page_size"] < len(matched),
                  "order_sn_list": [render(o) for o in page]}
    if p.get("use_has_next") != "true":
        body["total_count"] = len(matched)
    body["request_id"] = request_id()
    return Reply(200, {"order_sn_increment_get_response": body}, served=[o.order_id for o in page])


def _information(state, account_key: str, p: dict) -> Reply:
    if not p.get("order_sn"):
        return _param_error("order_sn不能为空")
    order = state.find_order(PLATFORM, account_key, p["order_sn"])
    if order is None:
        return error(50001, "业务服务错误", "order.not.exist", "订单不存在")
    return Reply(200, {"order_info_get_response": {"order_info": render(order), "request_id": request_id()}})


def _quantity_update(state, account_key: str, p: dict) -> Reply:
    try:
        v = _ints(p, "goods_id", "quantity", "update_type", update_type=1)
    except KeyError as exc:
        return _param_error(f"{exc.args[0]}不能为空")
    except ValueError:
        return _param_error("goods_id、quantity、update_type必须是整数")
    if v["update_type"] not in (1, 2) or (v["update_type"] == 1 and v["quantity"] < 0):
        return _param_error("update_type取值1或2，全量更新时quantity不能小于0")
    if not p.get("sku_id") and not p.get("outer_id"):
        return _param_error("sku_id和outer_id不能同时为空")
    state.record_push(PLATFORM, account_key, item_id=p["goods_id"], sku_id=p.get("sku_id", ""),
                      outer_id=p.get("outer_id", ""), quantity=v["quantity"],
                      mode="absolute" if v["update_type"] == 1 else "delta")
    return Reply(200, {"goods_quantity_update_response": {"is_success": True, "request_id": request_id()}})


def _online_send(state, account_key: str, p: dict) -> Reply:
    try:
        logistics_id = _ints(p, "logistics_id")["logistics_id"]
    except (KeyError, ValueError):
        return _param_error("logistics_id必须是整数")
    if not p.get("order_sn") or not p.get("tracking_number"):
        return _param_error("order_sn、tracking_number不能为空")
    if logistics_id not in KNOWN_LOGISTICS:
        return error(50001, "业务服务错误", "logistics.id.invalid", "物流公司不存在")
    order = state.find_order(PLATFORM, account_key, p["order_sn"])
    if order is None:
        return error(50001, "业务服务错误", "order.not.exist", "订单不存在")
    if order.status != gen.PAID or refund_status(order) == 4:
        return error(50001, "业务服务错误", "order.status.invalid", "订单状态不允许发货")
    if risk_control_status(order):
        return error(50001, "业务服务错误", *RISK_CONTROL_REFUSAL)
    state.ship(PLATFORM, order, carrier=str(logistics_id), tracking_number=p["tracking_number"])
    return Reply(200, {"logistics_online_send_response": {"is_success": True, "request_id": request_id()}})


APIS = {
    "pdd.order.number.list.increment.get": _increment,
    "pdd.order.information.get": _information,
    "pdd.goods.quantity.update": _quantity_update,
    "pdd.logistics.online.send": _online_send,
}


def order_status(order: gen.SandboxOrder) -> int:
    return ORDER_STATUS[order.status]


def risk_control_status(order: gen.SandboxOrder) -> int:
    """订单审核状态: 0 正常订单, 1 审核中订单 (a paid order the platform holds for review)."""
    return 1 if order.ship_block and order.status == gen.PAID else 0


def refund_status(order: gen.SandboxOrder) -> int:
    refunds = {ln.refund for ln in order.lines}
    if order.status == gen.CANCELLED or refunds == {"refunded"}:
        return 4
    if refunds - {""}:
        return 2
    return 1


def render(order: gen.SandboxOrder) -> dict:
    """A full order as order_sn_list / order_info carry it (amounts are yuan JSON numbers)."""
    r = order.receiver
    detail = f"{r.get('town', '')}{r.get('address', '')}"
    return {
        "order_sn": order.order_id,
        "order_status": order_status(order),
        "refund_status": refund_status(order),
        "confirm_status": 0 if order.status == gen.UNPAID else 1,
        "after_sales_status": 0 if refund_status(order) == 1 else 6,
        "trade_type": 0,
        "risk_control_status": risk_control_status(order),
        "receiver_name": r.get("name", ""),
        "receiver_phone": r.get("phone", ""),
        "receiver_address": f"{r.get('province', '')}{r.get('city', '')}{r.get('district', '')}{detail}",
        "country": "中国",
        "province": r.get("province", ""),
        "city": r.get("city", ""),
        "town": r.get("district", ""),
        "address": detail,
        "item_list": [{
            "goods_id": int(ln.item_id),
            "sku_id": int(ln.sku_id),
            "outer_id": ln.outer_id,
            "outer_goods_id": ln.outer_id.rsplit("-", 1)[0],
            "goods_name": ln.title,
            "goods_spec": ln.title.rsplit(" ", 1)[-1],
            "goods_count": ln.quantity,
            "goods_price": float(ln.price),
        } for ln in order.lines],
        "goods_amount": float(order.goods_total),
        "discount_amount": float(order.discount),
        "postage": float(order.post_fee),
        "pay_amount": float(order.payment),
        "created_time": fmt_time(order.created),
        "confirm_time": fmt_time(order.paid_at),
        "updated_at": fmt_time(order.modified),
        "shipping_time": fmt_time(order.shipped_at),
        "last_ship_time": fmt_time(order.created.replace(hour=23, minute=59, second=59)),
        "tracking_number": (order.tracking or {}).get("tracking_number", ""),
        "buyer_memo": order.buyer_note,
        "remark": order.seller_note,
    }
