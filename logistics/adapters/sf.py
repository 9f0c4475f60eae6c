"""SF Express open platform (顺丰开放平台): EXP_RECE_CREATE_ORDER (electronic waybill),
EXP_RECE_SEARCH_ORDER_RESP (the existing number after an 8016 duplicate orderId),
EXP_RECE_UPDATE_ORDER (cancel) and EXP_RECE_SEARCH_ROUTES (tracking).

POST form `partnerID, requestID, serviceCode, timestamp, msgData, msgDigest` to /std/service;
msgDigest = base64(md5_raw(urlencode_utf8(msgData + timestamp + checkWord))) with Java's
URLEncoder rules. The answer's apiResultCode A1000 only means the platform accepted the call:
the business outcome is apiResultData.success / errorCode (a JSON string inside the JSON).
Credentials: partner_id, check_word, monthly_card."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from datetime import datetime
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from .base import (
    AuthError,
    BusinessError,
    CarrierError,
    HttpClient,
    MalformedResponse,
    ThrottledError,
    TrackEvent,
    TrackResult,
    WaybillRequest,
    WaybillResult,
    json_body,
)

CN_TZ = ZoneInfo("Asia/Shanghai")
DUPLICATE_ORDER = "8016"
#: SF route opCode -> canonical shipment status (unverified: collected from public integrations;
#: anything unknown counts as in transit).
SF_OPCODES = {
    "50": "in_transit", "54": "in_transit", "30": "in_transit", "31": "in_transit", "36": "in_transit",
    "44": "out_for_delivery", "204": "out_for_delivery",
    "80": "delivered", "8000": "delivered",
    "33": "problem", "70": "problem", "77": "problem",
    "99": "returned", "648": "returned",
}


def java_urlencode(value: str) -> str:
    """java.net.URLEncoder.encode(value, "UTF-8"): keeps [A-Za-z0-9.-*_], space -> '+'."""
    return quote_plus(value, safe="*").replace("~", "%7E")


def sf_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    raw = java_urlencode(msg_data + timestamp + check_word).encode("utf-8")
    return base64.b64encode(hashlib.md5(raw).digest()).decode("ascii")


def map_opcode(code: str) -> str:
    return SF_OPCODES.get(str(code), "in_transit")


class SfClient(HttpClient):
    provider = "sf"
    default_base_url = "https://sfapi.sf-express.com"

    @property
    def url(self) -> str:
        return f"{self.base_url}/std/service"

    def call(self, service_code: str, msg: dict) -> dict:
        """One service call; returns apiResultData (parsed). Business failures raise BusinessError
        with the SF errorCode; platform codes map to AuthError / ThrottledError / CarrierError."""
        msg_data = json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
        partner = self.credentials.get("partner_id", "")
        check_word = self.credentials.get("check_word", "")

        def prepare():
            ts = str(int(time.time() * 1000))
            return {"data": {"partnerID": partner, "requestID": uuid.uuid4().hex, "serviceCode": service_code,
                             "timestamp": ts, "msgData": msg_data, "msgDigest": sf_digest(msg_data, ts, check_word)}}

        result: dict = {}

        def check(resp):
            body = json_body(resp)
            code = str(body.get("apiResultCode", ""))
            message = str(body.get("apiErrorMsg") or "")
            if code == "A1005":
                raise ThrottledError(f"sf {service_code}: {message}", code=code)
            if code in ("A1002", "A1004", "A1006"):
                raise AuthError(f"sf {service_code}: {code} {message}", code=code)
            if code != "A1000":
                raise CarrierError(f"sf {service_code}: {code} {message}", code=code, retryable=False)
            raw = body.get("apiResultData")
            try:
                data = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                raise MalformedResponse("sf apiResultData is not JSON", code="malformed")
            if not isinstance(data, dict):
                raise MalformedResponse("sf apiResultData missing", code="malformed")
            if not data.get("success"):
                err = str(data.get("errorCode") or "")
                raise BusinessError(f"顺丰: {data.get('errorMsg') or err}", code=err)
            result.update(data)

        self.request("POST", self.url, prepare=prepare, check=check)
        return result

    # ---- waybills ---------------------------------------------------------------------
    def create_waybill(self, req: WaybillRequest) -> WaybillResult:
        msg = {
            "language": "zh-CN",
            "orderId": req.ref,
            "monthlyCard": self.credentials.get("monthly_card", ""),
            "expressTypeId": int(req.service_code or 2),
            "parcelQty": 1,
            "totalWeight": round(req.weight_grams / 1000, 3),
            "cargoDetails": [{"name": it["name"][:60], "count": it["count"], "unit": "件"} for it in req.items],
            "contactInfoList": [_contact(1, req.sender), _contact(2, req.recipient)],
        }
        try:
            data = self.call("EXP_RECE_CREATE_ORDER", msg)
        except BusinessError as exc:
            if exc.code != DUPLICATE_ORDER:
                return WaybillResult(req.ref, error=str(exc), error_code=exc.code)
            # the order exists already (an earlier attempt got through): ask for its number
            try:
                data = self.call("EXP_RECE_SEARCH_ORDER_RESP", {"language": "zh-CN", "orderId": req.ref})
            except BusinessError as exc2:
                return WaybillResult(req.ref, error=str(exc2), error_code=exc2.code)
        numbers = [w.get("waybillNo") for w in (data.get("msgData") or {}).get("waybillNoInfoList") or []
                   if str(w.get("waybillType", 1)) == "1" and w.get("waybillNo")]
        if not numbers:
            raise MalformedResponse("sf: no waybillNo in the answer", code="malformed")
        return WaybillResult(req.ref, waybill_no=numbers[0])

    def cancel_waybill(self, ref: str, waybill_no: str) -> None:
        self.call("EXP_RECE_UPDATE_ORDER", {"language": "zh-CN", "orderId": ref, "dealType": 2,
                                            "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill_no}]})

    # ---- tracking -----------------------------------------------------------------------
    def routes(self, number: str, phone: str) -> TrackResult:
        data = self.call("EXP_RECE_SEARCH_ROUTES", {
            "language": "zh-CN", "trackingType": 1, "trackingNumber": [number], "methodType": 1,
            "checkPhoneNo": phone[-4:]})
        resps = (data.get("msgData") or {}).get("routeResps") or []
        routes = next((r.get("routes") or [] for r in resps if r.get("mailNo") == number), [])
        events = []
        for r in routes:
            try:
                when = datetime.strptime(r["acceptTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CN_TZ)
            except (KeyError, ValueError):
                raise MalformedResponse("sf route without a valid acceptTime", code="malformed")
            code = str(r.get("opCode", ""))
            events.append(TrackEvent(occurred_at=when, description=str(r.get("remark", ""))[:255],
                                     location=str(r.get("acceptAddress", ""))[:100], raw_state=code,
                                     status=map_opcode(code)))
        events.sort(key=lambda e: e.occurred_at)
        status = events[-1].status if events else ""
        return TrackResult(number=number, status=status, events=events, raw_state=events[-1].raw_state if events else "")


def _contact(kind: int, who: dict) -> dict:
    return {"contactType": kind, "contact": who.get("name", ""), "mobile": who.get("mobile", ""),
            "province": who.get("province", ""), "city": who.get("city", ""), "county": who.get("district", ""),
            "address": who.get("detail", ""), "country": "CN"}
