"""Cainiao electronic waybills through Taobao TOP: `cainiao.waybill.ii.get` (up to 10 parcels per
call, idempotent per object_id) and `cainiao.waybill.ii.cancel`.

TOP signing: every param except `sign`, empty values dropped, sorted by key, `key+value`
concatenated; md5 = MD5(secret + s + secret), hmac = HMAC-MD5(secret, s), hmac-sha256 =
HMAC-SHA256(secret, s); UTF-8, upper-case hex. Errors arrive as HTTP 200 `error_response`.
Credentials: app_key, app_secret, session, sign_method (default hmac-sha256), need_encrypt
(optional: sent as is; whether the returned print_data is encrypted).

Privacy orders (Taobao oaid): when a request's recipient carries a non-empty "oaid", it is sent as
`recipient.oaid` (RecipientInfoDto: 淘宝订单收件人ID, 淘宝订单加密情况用于解密); the receiver's plain
fields may then be the platform's masked ones. Cainiao decrypts; the print_data it returns is for
its print component (bububa/opentaobao metadata/assets/json/waybill/cainiao_waybill_ii_get.json)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from .base import (
    AuthError,
    BusinessError,
    CarrierError,
    HttpClient,
    MalformedResponse,
    ThrottledError,
    WaybillRequest,
    WaybillResult,
    json_body,
)

CN_TZ = ZoneInfo("Asia/Shanghai")
BATCH = 10
#: TOP top-level error codes: 7 app call limit, 25 invalid signature, 26/27 session missing/invalid,
#: 11 insufficient permissions; isp.* sub codes are the platform's own trouble (retryable).
THROTTLE_CODES = {"7"}
AUTH_CODES = {"11", "25", "26", "27", "28", "29"}


def sign_top(params: dict, secret: str, method: str = "hmac-sha256") -> str:
    s = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k and k != "sign" and v is not None and v != "")
    key, data = secret.encode("utf-8"), s.encode("utf-8")
    if method == "md5":
        digest = hashlib.md5(key + data + key).hexdigest()
    elif method == "hmac":
        digest = hmac.new(key, data, hashlib.md5).hexdigest()
    elif method == "hmac-sha256":
        digest = hmac.new(key, data, hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"unknown TOP sign_method {method!r}")
    return digest.upper()


class CainiaoClient(HttpClient):
    provider = "cainiao"
    default_base_url = "https://eco.taobao.com"

    @property
    def url(self) -> str:
        return f"{self.base_url}/router/rest"

    def call(self, method: str, biz: dict, root: str) -> dict:
        c = self.credentials
        sign_method = c.get("sign_method") or "hmac-sha256"

        def prepare():
            params = {"method": method, "app_key": c.get("app_key", ""), "session": c.get("session", ""),
                      "timestamp": datetime.now(CN_TZ).strftime("%Y-%m-%d %H:%M:%S"), "format": "json",
                      "v": "2.0", "sign_method": sign_method, **biz}
            params["sign"] = sign_top(params, c.get("app_secret", ""), sign_method)
            return {"data": params}

        out: dict = {}

        def check(resp):
            body = json_body(resp)
            err = body.get("error_response")
            if err is not None:
                code, sub = str(err.get("code", "")), str(err.get("sub_code") or "")
                text = f"菜鸟 {method}: {err.get('sub_msg') or err.get('msg') or code}"
                if code in THROTTLE_CODES or "limit" in sub.lower():
                    raise ThrottledError(text, code=sub or code)
                if code in AUTH_CODES:
                    raise AuthError(text, code=sub or code)
                if sub.startswith("isp."):
                    raise CarrierError(text, code=sub)
                raise BusinessError(text, code=sub or code)
            if root not in body:
                raise MalformedResponse(f"cainiao: {root} missing", code="malformed")
            out.update(body[root])

        self.request("POST", self.url, prepare=prepare, check=check)
        return out

    def get_waybills(self, reqs: list[WaybillRequest], *, sender: dict | None = None) -> list[WaybillResult]:
        """Numbers for many parcels, 10 per call. When the provider refuses a batch (one bad
        address refuses the whole call), that batch is asked again parcel by parcel, so only the
        bad parcel fails. Same object_id -> same number, so retries never yield a second one."""
        results: list[WaybillResult] = []
        for i in range(0, len(reqs), BATCH):
            chunk = reqs[i:i + BATCH]
            try:
                results.extend(self._get(chunk))
            except BusinessError as exc:
                if len(chunk) == 1:
                    results.append(WaybillResult(chunk[0].ref, error=str(exc), error_code=exc.code))
                    continue
                for req in chunk:
                    try:
                        results.extend(self._get([req]))
                    except BusinessError as exc1:
                        results.append(WaybillResult(req.ref, error=str(exc1), error_code=exc1.code))
        return results

    def _get(self, chunk: list[WaybillRequest]) -> list[WaybillResult]:
        cp_codes = {r.cp_code for r in chunk}
        if len(cp_codes) != 1:
            raise ValueError("one cp_code per cainiao.waybill.ii.get call")
        first = chunk[0]
        request = {
            "cp_code": first.cp_code,
            "sender": _person(first.sender),
            "trade_order_info_dtos": [
                {
                    "object_id": r.ref,
                    "template_url": f"http://cloudprint.cainiao.com/template/standard/{r.cp_code}",
                    "user_id": str(self.credentials.get("user_id", "")),
                    "order_info": {"order_channels_type": "TB", "trade_order_list": r.order_refs or [r.ref]},
                    "package_info": {"items": [{"name": it["name"][:60], "count": it["count"]} for it in r.items],
                                     "weight": r.weight_grams},
                    "recipient": _recipient(r.recipient),
                }
                for r in chunk
            ],
        }
        if "need_encrypt" in self.credentials:
            request["need_encrypt"] = _flag(self.credentials["need_encrypt"])
        body = self.call("cainiao.waybill.ii.get",
                         {"param_waybill_cloud_print_apply_new_request": json.dumps(request, ensure_ascii=False)},
                         "cainiao_waybill_ii_get_response")
        modules = (body.get("modules") or {}).get("waybill_cloud_print_response") or []
        by_ref = {m.get("object_id"): m for m in modules}
        out = []
        for r in chunk:
            m = by_ref.get(r.ref)
            if not m or not m.get("waybill_code"):
                raise MalformedResponse(f"cainiao: no waybill for object_id {r.ref}", code="malformed")
            out.append(WaybillResult(r.ref, waybill_no=m["waybill_code"], print_data=m.get("print_data") or ""))
        return out

    def cancel_waybill(self, cp_code: str, waybill_no: str) -> None:
        body = self.call("cainiao.waybill.ii.cancel", {"cp_code": cp_code, "waybill_code": waybill_no},
                         "cainiao_waybill_ii_cancel_response")
        if not body.get("cancel_result"):
            raise BusinessError(f"菜鸟: 面单 {waybill_no} 取消失败", code="cancel_failed")


def _person(who: dict) -> dict:
    return {"name": who.get("name", ""), "mobile": who.get("mobile", ""),
            "address": {"province": who.get("province", ""), "city": who.get("city", ""),
                        "district": who.get("district", ""), "detail": who.get("detail", "")}}


def _recipient(who: dict) -> dict:
    out = _person(who)
    if who.get("oaid"):
        out["oaid"] = str(who["oaid"])
    return out


def _flag(value) -> bool:
    return str(value).strip().lower() not in ("", "0", "false", "no")
