"""Fake JD JOS gateway: `/jd/routerjson`.

Verifies the JOS signature (independently of channels.adapters.jd), timestamp, app_key and
access_token; business params come in `360buy_param_json`. Serves jingdong.pop.order.search
(span <= 1 month, page_size <= 100, dateType 1 = created else modified, ascending, paged
forward), jingdong.stock.write.updateSkuStock and jingdong.pop.order.shipment, with the
platform's `_responce` root keys. Error codes are unverified (see docs/platforms-channels1.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

from . import generator as gen
from .common import MAX_SKEW_SECONDS, Reply, fmt_time, parse_cn_time, yuan

PLATFORM = "jd"
ACCOUNT_KEY = "app_key"
LIST_APIS = {"jingdong.pop.order.search"}

STATE = {gen.PAID: "WAIT_SELLER_STOCK_OUT", gen.SHIPPED: "WAIT_GOODS_RECEIVE_CONFIRM",
         gen.COMPLETED: "FINISHED_L", gen.CANCELLED: "TRADE_CANCELED", gen.UNPAID: "WAIT_SELLER_STOCK_OUT"}
# JD logiCoprId values the fake accepts (unverified; platforms.md)
KNOWN_LOGI = {"467", "463", "470", "1499", "1327", "465", "2087"}
# orderStateRemark (订单状态说明（中文）) per orderState, as rise-worlds/jos api/order/order.interface.go names them
STATE_REMARK = {"WAIT_SELLER_STOCK_OUT": "等待出库", "WAIT_GOODS_RECEIVE_CONFIRM": "等待确认收货",
                "WAIT_SELLER_DELIVERY": "等待发货", "POP_ORDER_PAUSE": "POP暂停", "FINISHED_L": "完成",
                "TRADE_CANCELED": "取消", "LOCKED": "已锁定"}
OK_RESULT = {"success": True, "englishErrCode": "success", "chineseErrCode": "成功", "numberCode": 10100000}


def api_name(params: dict) -> str:
    return params.get("method", "")


def is_list_call(api: str) -> bool:
    return api in LIST_APIS


def error(code: str, zh: str, en: str) -> Reply:
    return Reply(200, {"error_response": {"code": code, "zh_desc": zh, "en_desc": en}})


def fault_reply(kind: str, state) -> Reply:
    if kind == "throttle":
        return error("85", "调用次数超过限制，请稍后再试", "App call limited")
    if kind == "session_expired":
        return error("19", "token已过期或者不存在，请重新授权访问", "Invalid access_token")
    raise ValueError(kind)


def expected_sign(params: dict, secret: str) -> str:
    """Server-side JOS signature check, deliberately not shared with the adapter."""
    body = "".join(k + params[k] for k in sorted(params, key=lambda k: k.encode()) if k != "sign")
    return hashlib.md5(f"{secret}{body}{secret}".encode()).hexdigest().upper()


def handle(state, params: dict) -> Reply:
    app_key = params.get("app_key")
    account = state.account(PLATFORM, app_key) if app_key else None
    if account is None:
        return error("18", "无效的app_key", "Invalid app_key")
    if not hmac.compare_digest(expected_sign(params, account["app_secret"]), params.get("sign", "")):
        return error("12", "签名无效", "Invalid signature")
    ts = parse_cn_time(params.get("timestamp", ""))
    if ts is None or abs(ts.timestamp() - time.time()) > MAX_SKEW_SECONDS:
        return error("33", "时间戳无效或与服务器时间相差超过10分钟", "Invalid timestamp")
    if params.get("access_token") != account["access_token"]:
        return error("19", "token已过期或者不存在，请重新授权访问", "Invalid access_token")
    if params.get("v") != "2.0":
        return error("34", "版本号无效", "Invalid version")
    handler = APIS.get(params.get("method", ""))
    if handler is None:
        return error("22", "无效的接口名称", "Invalid method")
    try:
        business = json.loads(params.get("360buy_param_json") or "{}")
        if not isinstance(business, dict):
            raise ValueError
    except ValueError:
        return error("40", "360buy_param_json不是合法的JSON对象", "Invalid 360buy_param_json")
    business = {k: str(v) for k, v in business.items()}
    with state.lock:
        return handler(state, app_key, business)


def _search_error(code: int, zh: str, en: str) -> Reply:
    return Reply(200, {"jingdong_pop_order_search_responce": {"code": "0", "searchorderinfo_result": {
        "orderInfoList": [], "orderTotal": 0,
        "apiResult": {"success": False, "englishErrCode": en, "chineseErrCode": zh, "numberCode": code}}}})


def _search(state, account_key: str, p: dict) -> Reply:
    start, end = parse_cn_time(p.get("start_date", "")), parse_cn_time(p.get("end_date", ""))
    if start is None or end is None:
        return _search_error(10200001, "start_date、end_date必填，格式yyyy-MM-dd HH:mm:ss", "invalid date")
    if end < start or end - start > timedelta(days=31):
        return _search_error(10200002, "查询时间跨度不能超过一个月", "date span over one month")
    if not p.get("order_state"):
        return _search_error(10200003, "order_state必填", "order_state required")
    try:
        page = int(p.get("page") or 1)
        page_size = int(p.get("page_size") or 20)
    except ValueError:
        return _search_error(10200004, "page、page_size必须是整数", "invalid page")
    if page < 1 or not 1 <= page_size <= 100:
        return _search_error(10200004, "page必须大于0，page_size取值1~100", "invalid page")
    states = set(p["order_state"].split(","))
    by_created = p.get("dateType") == "1"

    def when(o):
        return o.created if by_created else o.modified

    matched = [o for o in state.account_orders(PLATFORM, account_key)
               if start <= when(o) <= end and order_state(o) in states]
    matched.sort(key=lambda o: (when(o), o.order_id), reverse=p.get("sortType") == "1")
    chunk = matched[(page - 1) * page_size: page * page_size]
    fields = set(p["optional_fields"].split(",")) | {"orderId"} if p.get("optional_fields") else None
    orders = [render(o) for o in chunk]
    if fields:
        orders = [{k: v for k, v in o.items() if k in fields} for o in orders]
    return Reply(200, {"jingdong_pop_order_search_responce": {"code": "0", "searchorderinfo_result": {
        "orderInfoList": orders, "orderTotal": len(matched), "apiResult": dict(OK_RESULT)}}},
        served=[o.order_id for o in chunk])


def _update_stock(state, account_key: str, p: dict) -> Reply:
    try:
        sku, qty = p["skuId"], int(p["stockNum"])
        if not sku or qty < 0:
            raise ValueError
    except (KeyError, ValueError):
        return error("40", "skuId、stockNum必填且stockNum不能小于0", "Invalid arguments")
    state.record_push(PLATFORM, account_key, item_id="", sku_id=sku, quantity=qty)
    return Reply(200, {"jingdong_stock_write_updateSkuStock_responce": {"code": "0", "success": True}})


def _shipment(state, account_key: str, p: dict) -> Reply:
    def fail(zh, en):
        return Reply(200, {"jingdong_pop_order_shipment_responce": {"code": "0", "sopjosshipment_result": {
            "success": False, "chineseErrCode": zh, "englishErrCode": en}}})

    if not (p.get("orderId") and p.get("logiCoprId") and p.get("logiNo")):
        return error("40", "orderId、logiCoprId、logiNo必填", "Missing required arguments")
    if p["logiCoprId"] not in KNOWN_LOGI:
        return fail("物流公司ID不正确", "invalid logiCoprId")
    order = state.find_order(PLATFORM, account_key, p["orderId"])
    if order is None:
        return fail("订单不存在", "order not found")
    if order_state(order) != "WAIT_SELLER_STOCK_OUT":
        return fail(f"订单状态{order_state(order)}不允许出库", "order state does not allow shipment")
    state.ship(PLATFORM, order, carrier=p["logiCoprId"], tracking_number=p["logiNo"])
    return Reply(200, {"jingdong_pop_order_shipment_responce": {"code": "0", "sopjosshipment_result": {
        "success": True, "chineseErrCode": "成功", "englishErrCode": "success"}}})


APIS = {
    "jingdong.pop.order.search": _search,
    "jingdong.stock.write.updateSkuStock": _update_stock,
    "jingdong.pop.order.shipment": _shipment,
}


def order_state(order: gen.SandboxOrder) -> str:
    if order.platform_status:
        return order.platform_status
    if order.status == gen.PAID and any(ln.refund == "requested" for ln in order.lines):
        return "LOCKED"  # an after-sale request locks the order
    if order.status == gen.PAID and order.ship_block:
        return "POP_ORDER_PAUSE"  # the platform paused the order
    return STATE[order.status]


def render(order: gen.SandboxOrder) -> dict:
    """An order as jingdong.pop.order.search returns it (amounts and ids as strings)."""
    r = order.receiver
    full = f"{r.get('province', '')}{r.get('city', '')}{r.get('district', '')}{r.get('town', '')}{r.get('address', '')}"
    return {
        "orderId": order.order_id,
        "venderId": str(int(hashlib.md5(order.account.encode()).hexdigest()[:5], 16)),
        "orderType": "22",
        "payType": "4-在线支付",
        "orderTotalPrice": yuan(order.goods_total),
        "orderSellerPrice": yuan(order.goods_total - order.discount),
        "orderPayment": yuan(order.payment),
        "freightPrice": yuan(order.post_fee),
        "sellerDiscount": yuan(order.discount),
        "orderState": order_state(order),
        "orderStateRemark": STATE_REMARK.get(order_state(order), ""),
        "orderRemark": order.buyer_note,
        "venderRemark": order.seller_note,
        "orderStartTime": fmt_time(order.created),
        "modified": fmt_time(order.modified),
        "paymentConfirmTime": fmt_time(order.paid_at) if order.paid_at else "0001-01-01 00:00:00",
        "pin": order.buyer_nick,
        "consigneeInfo": {
            "fullname": r.get("name", ""),
            "mobile": r.get("phone", ""),
            "telephone": "",
            "province": r.get("province", ""),
            "city": r.get("city", ""),
            "county": r.get("district", ""),
            "town": r.get("town", ""),
            "fullAddress": full,
        },
        "itemInfoList": [{
            "skuId": ln.sku_id,
            "outerSkuId": ln.outer_id,
            "skuName": ln.title,
            "jdPrice": yuan(ln.price),
            "itemTotal": str(ln.quantity),
            "wareId": ln.item_id,
        } for ln in order.lines],
    }
