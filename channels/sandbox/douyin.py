"""Fake Douyin shop (抖店) gateway under `/douyin/{method/with/slashes}`.

Verifies the HMAC-SHA256 signature over the param_json body exactly as sent (independently of
channels.adapters.douyin), the timestamp (10 minutes skew), app_key, and the access token it
issued (tokens expire on the sandbox clock). Serves token.create / token.refresh,
order.searchList (update_time window, page from 0, size <= 100, newest first unless order_asc),
order.orderDetail, order.batchDecrypt, sku.syncStock and order.logisticsAdd; amounts in fen;
searchList also filters by create_time and `abnormal_order` (2 风控审核中: the orders whose
`ship_block` is set; they cannot be shipped); sku orders carry `after_sale_info`;
receiver name / phone / street "encrypted" (base64 of a tagged plaintext, which only the fake
reads back) with masks beside them. Error codes other than 10000 are guesses, the same table as
the adapter's (docs/platforms-channels2.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from . import generator as gen
from .common import MAX_SKEW_SECONDS, Reply, request_id
from .rest import Request, expire_tokens, issue_token, token_owner

PLATFORM = "douyin"
ACCOUNT_KEY = "app_key"
TOKEN_TTL = 7 * 86400
REFRESH_TTL = 14 * 86400
STATUS = {gen.UNPAID: 1, gen.PAID: 2, gen.SHIPPED: 3, gen.COMPLETED: 5, gen.CANCELLED: 4}
COMPANIES = {"shunfeng", "yuantong", "zhongtong", "shentong", "yunda", "jd", "ems", "jtexpress"}
# push tags: 100 created, 101 paid, 102 shipped, 103 completed, 105 address changed, 106 cancelled
TAGS = {gen.UNPAID: "100", gen.PAID: "101", gen.SHIPPED: "102", gen.COMPLETED: "103", gen.CANCELLED: "106"}
# order.searchList `abnormal_order`: 1 异常取消, 2 风控审核中 (zsmhub/doudian-sdk order_searchList_request.go)
ABNORMAL_RISK = 2
# order.logisticsAdd on an order under risk review (unverified: the refusal's code and text are guesses)
RISK_REFUSAL = ("isv.business-failed:risk-control", "订单风控审核中，暂不能发货")


def api_name(req: Request) -> str:
    return req.get("method") or req.path.strip("/").replace("/", ".")


def is_list_call(api: str) -> bool:
    return api == "order.searchList"


def envelope(code: int, msg: str, data=None, sub_code: str = "", sub_msg: str = "") -> Reply:
    return Reply(200, {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg,
                       "log_id": request_id(), "data": data if data is not None else {}})


def ok(data) -> Reply:
    return envelope(10000, "success", data)


def fault_reply(kind: str, state) -> Reply:
    if kind == "throttle":
        return envelope(50002, "服务限流", sub_code="isv.request-limit", sub_msg="调用频率超限，请稍后重试")
    if kind == "session_expired":
        expire_tokens(state, PLATFORM)
        return envelope(30002, "access_token已过期", sub_code="isv.access-token-expired",
                        sub_msg="access_token已过期，请刷新")
    raise ValueError(kind)


def expected_sign(secret: str, app_key: str, method: str, body: str, ts: str, v: str) -> str:
    """Server-side check, written out independently of the adapter."""
    msg = secret + "app_key" + app_key + "method" + method + "param_json" + body + "timestamp" + ts + "v" + v + secret
    return hmac.HMAC(secret.encode(), msg.encode(), "sha256").hexdigest()


def push_sign(app_key: str, app_secret: str, body: bytes) -> str:
    """event-sign of the message push: hex(md5(app_key + raw body + app_secret))."""
    return hashlib.md5(app_key.encode() + body + app_secret.encode()).hexdigest()


def handle(state, req: Request) -> Reply:
    method = req.get("method", "")
    if req.path.strip("/").replace("/", ".") != method:
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="method与请求路径不一致")
    account = state.account(PLATFORM, req.get("app_key", ""))
    if account is None:
        return envelope(30001, "app_key不存在", sub_code="isv.app-key-invalid", sub_msg="app_key无效")
    body = req.body.decode("utf-8") if req.body else "{}"
    if req.get("sign_method", "md5") != "hmac-sha256" or req.get("v") != "2":
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="沙箱只支持 v=2, hmac-sha256")
    sign = expected_sign(account["app_secret"], account["app_key"], method, body, req.get("timestamp", ""), "2")
    if not hmac.compare_digest(sign, req.get("sign", "")):
        return envelope(40003, "签名错误", sub_code="isv.sign-invalid", sub_msg="sign校验失败")
    try:
        ts = int(req.get("timestamp", ""))
    except ValueError:
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="timestamp必须是Unix秒")
    if abs(ts - time.time()) > MAX_SKEW_SECONDS:
        return envelope(40001, "参数错误", sub_code="isv.timestamp-invalid", sub_msg="timestamp与服务器时间相差超过10分钟")
    try:
        params = json.loads(body)
    except ValueError:
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="param_json不是JSON")
    if method in ("token.create", "token.refresh"):
        with state.lock:
            return TOKEN_APIS[method](state, account, params)
    owner, expired = token_owner(state, PLATFORM, req.get("access_token", ""))
    if owner != account["app_key"]:
        return envelope(30001, "access_token不存在", sub_code="isv.access-token-no-exist", sub_msg="access_token无效")
    if expired:
        return envelope(30002, "access_token已过期", sub_code="isv.access-token-expired", sub_msg="access_token已过期")
    handler = APIS.get(method)
    if handler is None:
        return envelope(40002, "接口不存在", sub_code="isv.method-not-exist", sub_msg=method)
    with state.lock:
        return handler(state, account["app_key"], params)


def _grant(state, account: dict) -> dict:
    ttl = int(account.get("token_ttl") or TOKEN_TTL)
    token = issue_token(state, PLATFORM, account["app_key"], ttl)
    refresh = "rt-" + secrets.token_hex(12)
    state.extra.setdefault("douyin_refresh", {})[refresh] = (account["app_key"], state.clock() + REFRESH_TTL)
    state.extra.setdefault("douyin_grants", []).append(token)
    return {"access_token": token, "expires_in": ttl, "refresh_token": refresh, "scope": "SCOPE",
            "shop_id": int(account["shop_id"]), "shop_name": f"沙箱抖店{account['shop_id']}"}


def _token_create(state, account: dict, p: dict) -> Reply:
    if p.get("grant_type") != "authorization_self" or str(p.get("shop_id")) != str(account["shop_id"]):
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="grant_type或shop_id错误")
    return ok(_grant(state, account))


def _token_refresh(state, account: dict, p: dict) -> Reply:
    entry = state.extra.get("douyin_refresh", {}).pop(p.get("refresh_token", ""), None)
    if p.get("grant_type") != "refresh_token" or entry is None or entry[0] != account["app_key"] \
            or entry[1] < state.clock():
        return envelope(30003, "refresh_token无效", sub_code="isv.refresh-token-invalid", sub_msg="refresh_token无效或已过期")
    return ok(_grant(state, account))


TOKEN_APIS = {"token.create": _token_create, "token.refresh": _token_refresh}


def _search(state, account_key: str, p: dict) -> Reply:
    try:
        page, size = int(p.get("page", 0)), int(p.get("size", 10))
        lo, hi = _opt_int(p, "update_time_start"), _opt_int(p, "update_time_end")
        c_lo, c_hi = _opt_int(p, "create_time_start"), _opt_int(p, "create_time_end")
        abnormal = _opt_int(p, "abnormal_order")
    except (TypeError, ValueError):
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="page/size/time必须是整数")
    if page < 0 or not 1 <= size <= 100:
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="page从0开始，size取值1~100")
    if abnormal not in (None, 0, 1, ABNORMAL_RISK):
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="abnormal_order取值1或2")
    matched = [o for o in state.account_orders(PLATFORM, account_key)
               if (lo is None or o.modified.timestamp() >= lo) and (hi is None or o.modified.timestamp() <= hi)
               and (c_lo is None or o.created.timestamp() >= c_lo) and (c_hi is None or o.created.timestamp() <= c_hi)
               and (not abnormal or (abnormal == ABNORMAL_RISK and in_risk_review(o)))]
    if p.get("order_by", "create_time") == "update_time":
        matched.sort(key=lambda o: (o.modified, o.order_id), reverse=not p.get("order_asc", False))
    else:
        matched.sort(key=lambda o: (o.created, o.order_id), reverse=not p.get("order_asc", False))
    chunk = matched[page * size:(page + 1) * size]
    return Reply(200, ok({"page": page, "size": size, "total": len(matched),
                          "shop_order_list": [render(o) for o in chunk]}).body, served=[o.order_id for o in chunk])


def _opt_int(p: dict, name: str) -> int | None:
    value = p.get(name)
    return None if value is None else int(value)


def in_risk_review(order: gen.SandboxOrder) -> bool:
    return bool(order.ship_block) and order.status == gen.PAID


def _detail(state, account_key: str, p: dict) -> Reply:
    order = state.find_order(PLATFORM, account_key, str(p.get("shop_order_id", "")))
    if order is None:
        return envelope(50001, "业务处理失败", sub_code="isv.business-failed:order-not-exist", sub_msg="订单不存在")
    return ok({"shop_order_detail": render(order)})


def _decrypt(state, account_key: str, p: dict) -> Reply:
    infos = p.get("cipher_infos")
    if not isinstance(infos, list) or not 1 <= len(infos) <= 50:
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="cipher_infos 1~50 条")
    out = []
    for info in infos:
        auth_id, cipher = str(info.get("auth_id", "")), str(info.get("cipher_text", ""))
        order_id, plain = _open(cipher)
        owned = state.find_order(PLATFORM, account_key, auth_id) is not None
        if plain is None or order_id != auth_id or not owned:
            out.append({"auth_id": auth_id, "cipher_text": cipher, "decrypt_text": "", "err_no": 300008,
                        "err_msg": "解密失败"})
        else:
            out.append({"auth_id": auth_id, "cipher_text": cipher, "decrypt_text": plain, "err_no": 0, "err_msg": ""})
    state.extra.setdefault("douyin_decrypted", []).extend(i["auth_id"] for i in out if not i["err_no"])
    return ok({"decrypt_infos": out, "custom_err": {"err_code": 0, "err_msg": ""}})


def _sync_stock(state, account_key: str, p: dict) -> Reply:
    if p.get("stock_num") is None or not (p.get("sku_id") or p.get("code") or p.get("out_sku_id")):
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="sku_id或code、stock_num必填")
    try:
        quantity = int(p["stock_num"])
    except (TypeError, ValueError):
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="stock_num必须是整数")
    incremental = bool(p.get("incremental", False))
    if not incremental and quantity < 0:
        return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg="全量库存不能小于0")
    state.record_push(PLATFORM, account_key, item_id=str(p.get("product_id", "")), sku_id=str(p.get("sku_id", "")),
                      outer_id=str(p.get("code") or p.get("out_sku_id") or ""), quantity=quantity,
                      mode="delta" if incremental else "absolute")
    return ok({})


def _logistics_add(state, account_key: str, p: dict) -> Reply:
    for name in ("order_id", "company_code", "logistics_code"):
        if not p.get(name):
            return envelope(40001, "参数错误", sub_code="isv.parameter-invalid", sub_msg=f"{name}不能为空")
    if p["company_code"] not in COMPANIES:
        return envelope(50001, "业务处理失败", sub_code="isv.business-failed:company-invalid", sub_msg="物流公司不存在")
    order = state.find_order(PLATFORM, account_key, str(p["order_id"]))
    if order is None:
        return envelope(50001, "业务处理失败", sub_code="isv.business-failed:order-not-exist", sub_msg="订单不存在")
    if order.status != gen.PAID:
        return envelope(50001, "业务处理失败", sub_code="isv.business-failed:status", sub_msg="订单状态不允许发货")
    if in_risk_review(order):
        return envelope(50001, "业务处理失败", sub_code=RISK_REFUSAL[0], sub_msg=RISK_REFUSAL[1])
    state.ship(PLATFORM, order, carrier=p["company_code"], tracking_number=p["logistics_code"])
    return ok({})


APIS = {"order.searchList": _search, "order.orderDetail": _detail, "order.batchDecrypt": _decrypt,
        "sku.syncStock": _sync_stock, "order.logisticsAdd": _logistics_add}


def _seal(order_id: str, field: str, plain: str) -> str:
    """The fake's "encryption": readable only by this fake (the adapter must call batchDecrypt)."""
    return "#" + base64.b64encode(f"dy|{order_id}|{field}|{plain}".encode()).decode() + "#"


def _open(cipher: str) -> tuple[str | None, str | None]:
    try:
        tag, order_id, _field, plain = base64.b64decode(cipher.strip("#")).decode().split("|", 3)
    except (ValueError, UnicodeDecodeError):
        return None, None
    return (order_id, plain) if tag == "dy" else (None, None)


def _fen(amount) -> int:
    return int((amount * 100).to_integral_value())


def render(order: gen.SandboxOrder) -> dict:
    r = order.receiver
    name, phone, detail = r.get("name", ""), r.get("phone", ""), r.get("address", "")
    return {
        "order_id": order.order_id,
        "shop_id": 0,
        "order_status": STATUS[order.status],
        "create_time": int(order.created.timestamp()),
        "update_time": int(order.modified.timestamp()),
        "pay_time": int(order.paid_at.timestamp()) if order.paid_at else 0,
        "order_amount": _fen(order.goods_total + order.post_fee),
        "pay_amount": _fen(order.payment),
        "post_amount": _fen(order.post_fee),
        "promotion_amount": _fen(order.discount),
        "buyer_words": order.buyer_note,
        "seller_words": order.seller_note,
        "encrypt_post_receiver": _seal(order.order_id, "name", name),
        "mask_post_receiver": name[:1] + "*" * max(0, len(name) - 1),
        "encrypt_post_tel": _seal(order.order_id, "tel", phone),
        "mask_post_tel": phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****",
        "post_addr": {
            "province": {"name": r.get("province", ""), "id": ""},
            "city": {"name": r.get("city", ""), "id": ""},
            "town": {"name": r.get("district", ""), "id": ""},
            "street": {"name": r.get("town", ""), "id": ""},
            "encrypt_detail": _seal(order.order_id, "detail", detail),
            "mask_detail": detail[:3] + "****",
        },
        "logistics_info": [{"company": order.tracking["carrier"], "tracking_no": order.tracking["tracking_number"]}]
        if order.tracking else [],
        "sku_order_list": [{
            "order_id": ln.line_id, "parent_order_id": order.order_id, "product_id": ln.item_id,
            "product_name": ln.title, "sku_id": ln.sku_id, "out_sku_id": ln.outer_id, "code": ln.outer_id,
            "item_num": ln.quantity, "goods_price": _fen(ln.price), "origin_amount": _fen(ln.total),
            "pay_amount": _fen(ln.payment), "after_sale_info": after_sale_info(order, ln),
        } for ln in order.lines],
    }


def after_sale_info(order: gen.SandboxOrder, line: gen.SandboxLine) -> dict:
    """sku_order_list[].after_sale_info: after_sale_status (6 售后申请, 12 售后成功, 0 none),
    after_sale_type (0 退货退款, 1 已发货仅退款, 2 未发货仅退款), refund_status (1 待退款, 3 退款成功)."""
    if not line.refund:
        return {"after_sale_status": 0, "after_sale_type": 0, "refund_status": 0}
    kind = 2 if order.shipped_at is None else 1
    if line.refund == "refunded":
        return {"after_sale_status": 12, "after_sale_type": kind, "refund_status": 3}
    return {"after_sale_status": 6, "after_sale_type": kind, "refund_status": 1}


def push_message(order: gen.SandboxOrder, event: str, shop_id: str) -> dict:
    """One element of the push body array (tag by the order's state; 105 for an address change)."""
    tag = "105" if event == "address" else TAGS[order.status]
    data = {"p_id": int(order.order_id), "s_ids": [int(ln.line_id) for ln in order.lines], "shop_id": int(shop_id),
            "order_status": STATUS[order.status], "update_time": int(order.modified.timestamp())}
    return {"tag": tag, "msg_id": secrets.token_hex(10), "data": json.dumps(data, separators=(",", ":"))}
