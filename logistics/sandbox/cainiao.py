"""The Cainiao e-waybill fake (Taobao TOP): cainiao.waybill.ii.get / .cancel, for
logistics.sandbox.server. Checks the TOP signature with its own code; one bad parcel refuses the
whole call, as the real service does; numbers are idempotent per (app_key, cp_code, object_id).

Privacy orders: a recipient with `oaid` may carry the platform's masked plain fields; a masked
recipient without one is refused (MASKED_WITHOUT_OAID, unverified). print_data is encrypted for
Cainiao's print component unless the request says need_encrypt=false, and always for an oaid
recipient."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .server import CarrierSandboxState

CN_TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Reply:
    status: int
    body: object
    headers: dict = field(default_factory=dict)


CAINIAO_CPS = {"YTO", "ZTO", "STO", "YUNDA", "POSTB", "EMS", "HTKY", "JT"}
# A receiver whose plain fields are masked (张** / 138****1234 / 文三路****) can only be served through
# its oaid (recipient.oaid, Taobao privacy orders). What real Cainiao answers for a masked receiver
# WITHOUT an oaid is not published: this refusal (code, sub_code, text) is UNVERIFIED.
MASKED_WITHOUT_OAID = (15, "Remote service error", "isv.RECIPIENT_INFO_MASKED",
                       "收件人信息为脱敏数据，隐私订单请传入oaid（{object_id}）")
MAX_OAID_LENGTH = 128  # RecipientInfoDto.oaid: 长度不超过128个字符


def top_expected_sign(params: dict, secret: str, method: str) -> str:
    items = sorted((k, v) for k, v in params.items() if k != "sign" and k and v not in (None, ""))
    joined = "".join(k + v for k, v in items).encode()
    if method == "md5":
        return hashlib.md5(secret.encode() + joined + secret.encode()).hexdigest().upper()
    algo = hashlib.md5 if method == "hmac" else hashlib.sha256
    return hmac.new(secret.encode(), joined, algo).hexdigest().upper()


# ---- Cainiao through TOP -----------------------------------------------------------------
def top_error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> Reply:
    return Reply(200, {"error_response": {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg,
                                          "request_id": hashlib.md5(str(time.time()).encode()).hexdigest()[:13]}})


def cainiao_handle(state: CarrierSandboxState, p: dict) -> Reply:
    account = state.top_accounts.get(p.get("app_key", ""))
    if account is None:
        return top_error(29, "Invalid app Key", "isv.appkey-not-exists")
    method = p.get("sign_method") or "md5"
    if p.get("sign") != top_expected_sign(p, account["app_secret"], method):
        return top_error(25, "Invalid signature")
    try:
        ts = datetime.strptime(p.get("timestamp", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CN_TZ)
    except ValueError:
        return top_error(41, "Invalid arguments:timestamp")
    if abs((datetime.now(CN_TZ) - ts).total_seconds()) > 600:
        return top_error(43, "Invalid timestamp")
    if p.get("session") != account.get("session"):
        return top_error(27, "Invalid session", "invalid-sessionkey")
    api = p.get("method", "")
    state.log("cainiao", api)
    if api == "cainiao.waybill.ii.get":
        try:
            req = json.loads(p.get("param_waybill_cloud_print_apply_new_request") or "")
        except ValueError:
            return top_error(15, "Remote service error", "isv.PARAM_INVALID", "请求参数不是合法 JSON")
        cp = req.get("cp_code")
        if cp not in CAINIAO_CPS:
            return top_error(15, "Remote service error", "isv.CP_CODE_INVALID", f"不支持的物流公司 {cp}")
        dtos = req.get("trade_order_info_dtos") or []
        if not dtos or len(dtos) > 10:
            return top_error(15, "Remote service error", "isv.PARAM_INVALID", "trade_order_info_dtos 数量须为 1-10")
        sender = req.get("sender") or {}
        for dto in dtos:  # one bad parcel refuses the whole call, as the real service does
            rcp = dto.get("recipient") or {}
            addr = rcp.get("address") or {}
            if not dto.get("object_id"):
                return top_error(15, "Remote service error", "isv.PARAM_INVALID", "object_id 不能为空")
            if not rcp.get("name") or not rcp.get("mobile") or not addr.get("province") or not addr.get("detail"):
                return top_error(15, "Remote service error", "isv.RECIPIENT_ADDRESS_INVALID",
                                  f"收件人信息不完整（{dto['object_id']}）")
            oaid = str(rcp.get("oaid") or "")
            if len(oaid) > MAX_OAID_LENGTH:
                return top_error(15, "Remote service error", "isv.PARAM_INVALID", "oaid 长度不能超过128个字符")
            if not oaid and _masked(rcp):
                code, msg, sub_code, sub_msg = MASKED_WITHOUT_OAID
                return top_error(code, msg, sub_code, sub_msg.format(object_id=dto["object_id"]))
            if rcp.get("name") in state.rejected_names["cainiao"]:
                return top_error(15, "Remote service error", "isv.ADDRESS_NOT_REACHABLE",
                                  f"收件地址不在派送范围（{dto['object_id']}）")
        modules = []
        with state.lock:
            for dto in dtos:
                key = (p["app_key"], cp, dto["object_id"])
                number = state.cainiao.get(key)
                if number is None:
                    number = state.cainiao[key] = state.new_number(cp)
                    rcp = dto["recipient"]
                    parcel = state.register_parcel(number, cp_code=cp,
                                                   origin=(sender.get("address") or {}).get("city", ""),
                                                   dest=rcp["address"].get("city", ""), phone=rcp.get("mobile", ""),
                                                   receiver=rcp.get("name", ""))
                    parcel.oaid = str(rcp.get("oaid") or "")
                modules.append({"object_id": dto["object_id"], "waybill_code": number, "cp_code": cp,
                                "print_data": _print_data(number, cp, dto, sender,
                                                          encrypt=req.get("need_encrypt") is not False)})
        return Reply(200, {"cainiao_waybill_ii_get_response": {"modules": {"waybill_cloud_print_response": modules},
                                                                "request_id": "sandbox"}})
    if api == "cainiao.waybill.ii.cancel":
        number = p.get("waybill_code", "")
        known = number in state.cainiao.values()
        if known:
            state.parcel(number).cancelled = True
        return Reply(200, {"cainiao_waybill_ii_cancel_response": {"cancel_result": known, "request_id": "sandbox"}})
    return top_error(22, "Invalid method", "", api)


def _masked(rcp: dict) -> bool:
    addr = rcp.get("address") or {}
    return any("*" in str(v or "") for v in (rcp.get("name"), rcp.get("mobile"), rcp.get("phone"), addr.get("detail")))


def _print_data(number: str, cp: str, dto: dict, sender: dict, *, encrypt: bool) -> str:
    """print_data as cloud print reads it: `encryptedData` (for Cainiao's print component) or, when
    the request asked need_encrypt=false, plain `data`. A privacy order (recipient.oaid) is always
    encrypted: its receiver is decrypted by Cainiao only (the shape of the plain `data` is the cloud
    print standard template's as best known: unverified)."""
    rcp = dto.get("recipient") or {}
    if encrypt or rcp.get("oaid"):
        secret = base64.b64encode(hashlib.sha256(number.encode()).digest()).decode()
        return json.dumps({"encryptedData": secret, "signature": secret[:16], "templateURL": dto.get("template_url", ""),
                           "ver": "waybill_print_secret_version_1"})
    return json.dumps({"data": {"cpCode": cp, "waybillCode": number, "recipient": rcp, "sender": sender,
                                "routingInfo": {"sortation": {"name": "沙箱分拣"}}},
                       "signature": hashlib.md5(number.encode()).hexdigest()[:16],
                       "templateURL": dto.get("template_url", "")}, ensure_ascii=False)


