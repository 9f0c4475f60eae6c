"""Douyin shop (抖店) open platform adapter.

Protocol (../shared/platforms.md): POST `{gateway}/{method with dots as slashes}`, JSON body =
param_json, common params in the query string (app_key, method, timestamp in Unix seconds, v=2,
sign_method=hmac-sha256, sign, access_token). param_json canonical form: keys sorted
recursively, no whitespace, no escaping, nulls dropped. Sign = lowercase hex HMAC-SHA256(key=
secret, msg=secret + "app_key..method..param_json..timestamp..v2" + secret). Envelope
`{code: 10000 = success, msg, sub_code, sub_msg, log_id, data}`.

Tokens: a self-use app (自用型) gets its token with `token.create {code: "", grant_type:
"authorization_self", shop_id}`, renews it with `token.refresh {grant_type: refresh_token,
refresh_token}`. Both are cached in Django's cache keyed by the credential (access token until a
minute before `expires_in`, the refresh token for 14 days). When a call answers "access token
expired" mid-pull the adapter refreshes ONCE and repeats the call.

Orders: `order.searchList` by update_time window, order_by=update_time, order_asc=false (newest
first), page from 0, size <= 100; read from the last page back to the first (base.read_backwards).
Amounts are integer fen. Receiver name, phone and street come encrypted; the adapter decrypts a
page's ciphertexts with `order.batchDecrypt` while fetching and keeps the plaintext beside the
ciphertext under "_oms_decrypted" in the raw order (the archive holds what the order table holds).
Stock `sku.syncStock` (absolute, incremental=false); ship `order.logisticsAdd`.
Do-not-ship: the order payload has no risk flag; `order.searchList` filters by `abnormal_order=2`
(风控审核中). Each window is therefore also asked with that filter first, and every raw order
carries "_oms_risk_review" (true / false) beside it; a raw order without it (an old archive, a
hand-fed page) says nothing about the flag (`extra["ship_blocks_unknown"]`). Refunds: per sku
order `after_sale_info` {after_sale_status, after_sale_type, refund_status}; the reason text is not
in the order payload (afterSale.Detail has it), so refund_reason stays empty.
Error codes beyond 10000 are guesses (docs/platforms-channels2.md), kept in the constants below.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.cache import cache

from orders.canonical import CanonicalLine, CanonicalOrder, PlatformState, ShipBlock

from .base import (
    Adapter,
    AdapterError,
    AuthError,
    InvalidRequest,
    MalformedResponse,
    NormalizeError,
    ThrottledError,
    read_backwards,
    register,
    token_cache_key,
    unique_orders,
)
from .values import as_int as _int

CN_TZ = ZoneInfo("Asia/Shanghai")
SUCCESS = 10000
# Guesses (platforms.md is silent): the sandbox uses the same table.
TOKEN_EXPIRED_SUB_CODES = {"isv.access-token-expired", "isv.access-token-no-exist"}
AUTH_CODES = {30001, 30002, 40003}
THROTTLE_SUB_CODES = {"isv.request-limit", "isp.request-limit"}
RETRYABLE_CODES = {20000, 50000}  # 服务不可用 / 系统错误
DECRYPT_BATCH = 50
REFRESH_TTL = 14 * 86400
TOKEN_MARGIN_SECONDS = 60

ORDER_STATUS = {1: PlatformState.UNPAID, 105: PlatformState.PAID, 2: PlatformState.PAID, 101: PlatformState.PAID,
                3: PlatformState.SHIPPED, 4: PlatformState.CANCELLED, 5: PlatformState.COMPLETED}
ABNORMAL_RISK_REVIEW = 2  # order.searchList abnormal_order: 1 异常取消, 2 风控审核中
RISK_MARK = "_oms_risk_review"
# after_sale_info.after_sale_type counted as a refund: 0 退货退款, 1 已发货仅退款, 2 未发货仅退款,
# 4 系统取消, 5 用户取消 (3 换货, 6 价保, 7 补寄 are not); after_sale_status: 12 售后成功 / 51 取消成功 / 53 逆向交易完成 ->
# refunded; 27 拒绝, 28 失败, 29 退货后拒绝退款, 0 none -> none; any other (6 申请, 7 退货中, 11 已发货...)
# -> requested.
REFUND_TYPES = {0, 1, 2, 4, 5}
AFTER_SALE_DONE = {12, 51, 53}
AFTER_SALE_NONE = {0, 27, 28, 29}
COMPANY_CODES = {"SF": "shunfeng", "YTO": "yuantong", "ZTO": "zhongtong", "STO": "shentong", "YUNDA": "yunda",
                 "JD": "jd", "EMS": "ems", "JT": "jtexpress"}


def _drop_nulls(obj):
    if isinstance(obj, dict):
        return {k: _drop_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_nulls(v) for v in obj]
    return obj


def param_json(params: dict | None) -> str:
    """Canonical param_json: keys sorted recursively, no whitespace, no escaping, nulls dropped."""
    return json.dumps(_drop_nulls(params or {}), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign_douyin(*, app_key: str, secret: str, method: str, param_json: str, timestamp: str, v: str = "2") -> str:
    pattern = f"app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{v}"
    return hmac.new(secret.encode("utf-8"), (secret + pattern + secret).encode("utf-8"), hashlib.sha256).hexdigest()


def verify_push(*, app_key: str, app_secret: str, body: bytes, event_sign: str) -> bool:
    """Douyin message push: event-sign = hex(md5(app_key + raw body + app_secret)), constant-time compare."""
    if not event_sign or not app_key or not app_secret:
        return False
    expected = hashlib.md5(app_key.encode() + body + app_secret.encode()).hexdigest()
    return hmac.compare_digest(expected, event_sign.strip().lower())


@register
class DouyinAdapter(Adapter):
    platform = "douyin"
    default_base_url = "https://openapi-fxg.jinritemai.com"
    max_window = timedelta(days=1)
    page_size = 100

    def __init__(self, shop, **kwargs):
        super().__init__(shop, **kwargs)
        self.token_calls = 0

    def _cred(self, key: str) -> str:
        value = self.credentials.get(key)
        if not value:
            raise AuthError(f"douyin credentials lack {key}", code="credentials")
        return str(value)

    @property
    def shop_id(self) -> str:
        return str(self.credentials.get("shop_id") or self.shop.platform_shop_id or "")

    # ---- tokens --------------------------------------------------------------------------------
    def _keys(self) -> tuple[str, str]:
        base = token_cache_key("douyin", self._cred("app_key"), self.shop_id, self.base_url)
        return base + ":access", base + ":refresh"

    def access_token(self) -> str:
        access_key, _ = self._keys()
        token = cache.get(access_key)
        if token:
            return token
        return self._new_token()

    def _store(self, data: dict) -> str:
        access_key, refresh_key = self._keys()
        try:
            token = str(data["access_token"])
        except (KeyError, TypeError):
            raise MalformedResponse("douyin token: no access_token", code="shape")
        ttl = max(1, int(data.get("expires_in") or 7 * 86400) - TOKEN_MARGIN_SECONDS)
        cache.set(access_key, token, timeout=ttl)
        if data.get("refresh_token"):
            cache.set(refresh_key, str(data["refresh_token"]), timeout=REFRESH_TTL)
        return token

    def _new_token(self) -> str:
        self.token_calls += 1
        if not self.shop_id:
            raise AuthError("douyin credentials lack shop_id", code="credentials")
        data = self.call("token.create", {"code": "", "grant_type": "authorization_self", "shop_id": self.shop_id},
                         token=False)
        return self._store(data)

    def refresh_token(self) -> str:
        """Renew the access token with the cached refresh token (a new one when none is cached)."""
        access_key, refresh_key = self._keys()
        cache.delete(access_key)
        refresh = cache.get(refresh_key)
        if not refresh:
            return self._new_token()
        self.token_calls += 1
        try:
            data = self.call("token.refresh", {"grant_type": "refresh_token", "refresh_token": refresh}, token=False)
        except AuthError:
            cache.delete(refresh_key)
            return self._new_token()
        return self._store(data)

    # ---- one call ------------------------------------------------------------------------------
    def call(self, method: str, params: dict | None = None, *, token: bool = True) -> dict:
        """One signed call; returns `data`. An expired access token is refreshed once."""
        for attempt in (1, 2):
            try:
                return self._call_once(method, params, token=token)
            except AuthError as exc:
                if not token or exc.code != "token_expired" or attempt == 2:
                    raise
                self.refresh_token()
        raise AssertionError("unreachable")

    def _call_once(self, method: str, params: dict | None, *, token: bool) -> dict:
        app_key, secret = self._cred("app_key"), self._cred("app_secret")
        body = param_json(params)
        access = self.access_token() if token else None
        url = self.base_url + "/" + method.replace(".", "/")
        result: dict = {}

        def prepare():
            ts = str(int(time.time()))
            query = {"app_key": app_key, "method": method, "timestamp": ts, "v": "2", "sign_method": "hmac-sha256",
                     "sign": sign_douyin(app_key=app_key, secret=secret, method=method, param_json=body, timestamp=ts)}
            if access:
                query["access_token"] = access
            return {"params": query, "data": body.encode("utf-8"),
                    "headers": {"Content-Type": "application/json;charset=UTF-8", "Accept": "application/json"}}

        def check(resp):
            result["data"] = _check(resp, method)

        self.request("POST", url, prepare=prepare, check=check)
        return result["data"]

    # ---- interface -----------------------------------------------------------------------------
    def fetch_orders(self, start, end):
        base = {"update_time_start": _unix(start), "update_time_end": _unix(end), "order_by": "update_time",
                "order_asc": False, "size": self.page_size}

        def fetch_page(n):
            data = self.call("order.searchList", {**base, "page": n})
            if not isinstance(data.get("shop_order_list", []), list):
                raise MalformedResponse("douyin order.searchList: shop_order_list is not a list", code="shape")
            return data

        def total_pages(data):
            try:
                total = int(data.get("total") or 0)
            except (TypeError, ValueError):
                raise MalformedResponse(f"douyin: bad total {data.get('total')!r}", code="shape")
            return -(-total // self.page_size)

        risk = self._risk_review_ids(base)
        pages = ((data.get("shop_order_list") or []) for data in read_backwards(fetch_page, total_pages=total_pages,
                                                                                  first=0))
        for page in unique_orders(pages, key=lambda o: (self.order_id(o), o.get("update_time"))):
            yield [{**o, RISK_MARK: self.order_id(o) in risk} for o in self.decrypt(page)]

    def _risk_review_ids(self, base: dict) -> set[str]:
        """Ids of the orders that order.searchList lists under abnormal_order=2 (风控审核中)."""
        ids: set[str] = set()
        page = 0
        while True:
            data = self.call("order.searchList", {**base, "abnormal_order": ABNORMAL_RISK_REVIEW, "page": page})
            orders = data.get("shop_order_list") or []
            if not isinstance(orders, list):
                raise MalformedResponse("douyin order.searchList: shop_order_list is not a list", code="shape")
            ids.update(self.order_id(o) for o in orders)
            try:
                total = int(data.get("total") or 0)
            except (TypeError, ValueError):
                raise MalformedResponse(f"douyin: bad total {data.get('total')!r}", code="shape")
            page += 1
            if not orders or page * self.page_size >= total:
                return ids

    def decrypt(self, orders: list[dict]) -> list[dict]:
        """Attach the plaintext of each order's encrypted receiver fields (order.batchDecrypt)."""
        wanted = []
        for o in orders:
            addr = o.get("post_addr") or {}
            for field, cipher in (("post_receiver", o.get("encrypt_post_receiver")),
                                  ("post_tel", o.get("encrypt_post_tel")), ("detail", addr.get("encrypt_detail"))):
                if cipher:
                    wanted.append((o, field, cipher))
        plain: dict[tuple[str, str], str] = {}
        for i in range(0, len(wanted), DECRYPT_BATCH):
            chunk = wanted[i:i + DECRYPT_BATCH]
            data = self.call("order.batchDecrypt", {"cipher_infos": [
                {"auth_id": self.order_id(o), "cipher_text": c} for o, _f, c in chunk]})
            for info in data.get("decrypt_infos") or []:
                if not info.get("err_no"):
                    plain[(str(info.get("auth_id")), str(info.get("cipher_text")))] = str(info.get("decrypt_text") or "")
        out = []
        for o in orders:
            dec = {}
            addr = o.get("post_addr") or {}
            for field, cipher in (("post_receiver", o.get("encrypt_post_receiver")),
                                  ("post_tel", o.get("encrypt_post_tel")), ("detail", addr.get("encrypt_detail"))):
                if cipher and (self.order_id(o), cipher) in plain:
                    dec[field] = plain[(self.order_id(o), cipher)]
            out.append({**o, "_oms_decrypted": dec} if dec else o)
        return out

    def fetch_order(self, platform_order_id: str) -> dict:
        data = self.call("order.orderDetail", {"shop_order_id": str(platform_order_id)})
        order = data.get("shop_order_detail")
        if not isinstance(order, dict):
            raise MalformedResponse("douyin order.orderDetail: no shop_order_detail", code="shape")
        created = _int(order.get("create_time"), f"douyin order {platform_order_id} create_time")
        risk = self._risk_review_ids({"create_time_start": created, "create_time_end": created,
                                      "order_by": "create_time", "size": self.page_size})
        return {**self.decrypt([order])[0], RISK_MARK: self.order_id(order) in risk}

    def order_id(self, raw: dict) -> str:
        oid = raw.get("order_id")
        if oid in (None, ""):
            raise NormalizeError("douyin order without order_id")
        return str(oid)

    def split_page(self, payload: dict) -> list[dict]:
        if not isinstance(payload, dict):
            raise NormalizeError("douyin payload must be a JSON object")
        if "order_id" in payload and "sku_order_list" in payload:
            return [payload]
        data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
        if isinstance(data.get("shop_order_list"), list):
            return data["shop_order_list"]
        if isinstance(data.get("shop_order_detail"), dict):
            return [data["shop_order_detail"]]
        raise NormalizeError("not a douyin order or order.searchList page")

    def normalize(self, raw: dict) -> CanonicalOrder:
        oid = self.order_id(raw)
        status = _int(raw.get("order_status"), f"douyin order {oid} order_status")
        state = ORDER_STATUS.get(status)
        if state is None:
            raise NormalizeError(f"douyin order {oid}: unknown order_status {status!r}")
        skus = raw.get("sku_order_list")
        if not isinstance(skus, list) or not skus:
            raise NormalizeError(f"douyin order {oid}: no sku_order_list")
        lines, goods = [], Decimal("0")
        for s in skus:
            if not isinstance(s, dict) or not s.get("order_id"):
                raise NormalizeError(f"douyin order {oid}: garbled sku order")
            qty = _int(s.get("item_num"), f"douyin order {oid} item_num")
            if qty <= 0:
                raise NormalizeError(f"douyin order {oid}: item_num {qty}")
            origin = _fen(s.get("origin_amount"), f"douyin order {oid} origin_amount")
            goods += origin
            lines.append(CanonicalLine(
                platform_line_id=str(s["order_id"]), quantity=qty, unit_price=(origin / qty).quantize(Decimal("0.01")),
                title=s.get("product_name") or "", platform_item_id=str(s.get("product_id") or ""),
                platform_sku_id=str(s.get("sku_id") or ""), outer_sku_id=str(s.get("code") or s.get("out_sku_id") or ""),
                amount=_fen(s.get("pay_amount", 0), f"douyin order {oid} sku pay_amount"),
                refund_status=_refund(s.get("after_sale_info"), f"douyin order {oid} after_sale_info")))
        dec = raw.get("_oms_decrypted") or {}
        addr = raw.get("post_addr") or {}

        def name(part):
            return ((addr.get(part) or {}).get("name") or "") if isinstance(addr.get(part), dict) else ""

        street = name("street")
        detail = dec.get("detail") or addr.get("detail") or addr.get("mask_detail") or ""
        pay_time = raw.get("pay_time")
        extra = {"encrypted": True} if not dec and raw.get("encrypt_post_tel") else {}
        ship_blocks = {}
        if RISK_MARK not in raw:
            extra["ship_blocks_unknown"] = True
        elif raw[RISK_MARK]:
            ship_blocks[ShipBlock.RISK_CONTROL] = "abnormal_order=2（风控审核中）"
        return CanonicalOrder(
            platform=self.platform, platform_order_id=oid, platform_status=str(status), state=state,
            placed_at=_time(raw.get("create_time"), f"douyin order {oid} create_time"),
            modified_at=_time(raw.get("update_time"), f"douyin order {oid} update_time"),
            paid_at=_time(pay_time, f"douyin order {oid} pay_time") if pay_time else None,
            lines=lines, currency="CNY", goods_amount=goods,
            shipping_amount=_fen(raw.get("post_amount", 0), f"douyin order {oid} post_amount"),
            discount_amount=_fen(raw.get("promotion_amount", 0), f"douyin order {oid} promotion_amount"),
            paid_amount=_fen(raw.get("pay_amount"), f"douyin order {oid} pay_amount"),
            receiver_name=dec.get("post_receiver") or raw.get("post_receiver") or raw.get("mask_post_receiver") or "",
            receiver_phone=dec.get("post_tel") or raw.get("post_tel") or raw.get("mask_post_tel") or "",
            receiver_province=name("province"), receiver_city=name("city"), receiver_district=name("town"),
            receiver_address=(street if street and not detail.startswith(street) else "") + detail,
            buyer_note=raw.get("buyer_words") or "", seller_note=raw.get("seller_words") or "",
            ship_blocks=ship_blocks, extra=extra,
        )

    def push_stock(self, listing, quantity: int) -> None:
        params: dict = {"stock_num": int(quantity), "incremental": False}
        if listing.platform_item_id:
            params["product_id"] = listing.platform_item_id
        if listing.platform_sku_id:
            params["sku_id"] = listing.platform_sku_id
        elif listing.outer_id:
            params["code"] = listing.outer_id
        else:
            raise InvalidRequest("douyin: the listing has neither sku id nor code", code="listing")
        self.call("sku.syncStock", params)

    def confirm_shipment(self, *, order, carrier_code: str, tracking_number: str) -> None:
        try:
            company = COMPANY_CODES[carrier_code.upper()]
        except KeyError:
            raise InvalidRequest(f"douyin: no company_code for carrier {carrier_code!r}", code="carrier")
        self.call("order.logisticsAdd", {"order_id": str(order.platform_order_id), "company_code": company,
                                         "logistics_code": tracking_number})


# ---- helpers -----------------------------------------------------------------------------------

def _check(resp, method: str) -> dict:
    try:
        body = json.loads(resp.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponse(f"douyin {method}: non-JSON answer (HTTP {resp.status_code})", code="json")
    if not isinstance(body, dict) or "code" not in body:
        raise MalformedResponse(f"douyin {method}: not an envelope", code="json")
    try:
        code = int(body.get("code"))
    except (TypeError, ValueError):
        code = -1
    if code == SUCCESS:
        data = body.get("data")
        return data if isinstance(data, dict) else {}
    sub = str(body.get("sub_code") or "")
    text = f"douyin {method}: {code} {body.get('msg', '')} ({sub}: {body.get('sub_msg', '')}) log_id={body.get('log_id', '')}"
    if sub in TOKEN_EXPIRED_SUB_CODES:
        raise AuthError(text, code="token_expired")
    if sub in THROTTLE_SUB_CODES:
        raise ThrottledError(text, code=sub)
    if code in AUTH_CODES:
        raise AuthError(text, code=sub or str(code))
    if code in RETRYABLE_CODES or sub.startswith("isp."):
        raise AdapterError(text, code=sub or str(code), retryable=True)
    raise InvalidRequest(text, code=sub or str(code))


def _unix(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("aware datetime required")
    return int(dt.timestamp())



def _refund(info, what: str) -> str:
    if not info:
        return ""
    if not isinstance(info, dict):
        raise NormalizeError(f"{what}: not an object: {info!r}")
    status = _int(info.get("after_sale_status") or 0, f"{what}.after_sale_status")
    kind = _int(info.get("after_sale_type") or 0, f"{what}.after_sale_type")
    if status in AFTER_SALE_NONE or kind not in REFUND_TYPES:
        return ""
    return "refunded" if status in AFTER_SALE_DONE else "requested"


def _fen(value, what: str) -> Decimal:
    """Integer fen -> yuan, exactly."""
    return Decimal(_int(value, what)) / 100


def _time(value, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(_int(value, what), CN_TZ)
    except (OverflowError, OSError, ValueError):
        raise NormalizeError(f"{what}: not a Unix time: {value!r}")
