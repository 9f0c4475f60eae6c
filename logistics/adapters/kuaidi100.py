"""Kuaidi100 real-time query (poll/query.do): POST form `customer`, `param` (a JSON string) and
`sign = UPPER(MD5(param + key + customer))` over the exact param string sent.
Credentials: customer, key."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from .base import (
    AuthError,
    BusinessError,
    CarrierError,
    HttpClient,
    MalformedResponse,
    TrackEvent,
    TrackResult,
    json_body,
)

CN_TZ = ZoneInfo("Asia/Shanghai")

#: Kuaidi100 `state` (and the resultv2 sub-states) -> canonical shipment status.
#: 0 in transit, 1 picked up, 2 problem, 3 signed, 4 returned and signed, 5 out for delivery,
#: 6 being returned (not final: the parcel still travels), 7 transferred, 8 customs, 14 refused.
KUAIDI100_STATES = {
    "0": "in_transit", "1": "in_transit", "2": "problem", "3": "delivered", "4": "returned",
    "5": "out_for_delivery", "6": "problem", "7": "in_transit", "8": "in_transit", "14": "problem",
    # resultv2 sub-states
    "101": "in_transit", "102": "in_transit", "103": "in_transit",
    "1001": "in_transit", "1002": "in_transit", "1003": "in_transit",
    "10": "in_transit", "11": "in_transit", "12": "in_transit", "13": "in_transit",
    "401": "returned",
}
#: returnCode: 500 "no result yet" is not an error for us (a fresh number has no events).
NO_RESULT = "500"
AUTH_RETURN_CODES = {"503", "601"}
RETRYABLE_RETURN_CODES = {"501", "502"}


def map_state(code: str) -> str:
    code = str(code or "").strip()
    if code in KUAIDI100_STATES:
        return KUAIDI100_STATES[code]
    if len(code) == 3 and code[0] in "2345":  # 201..210 problem, 301.. delivered, 501 out for delivery
        return KUAIDI100_STATES[code[0]]
    return "in_transit"


def kuaidi100_sign(param: str, key: str, customer: str) -> str:
    return hashlib.md5((param + key + customer).encode("utf-8")).hexdigest().upper()


class Kuaidi100Client(HttpClient):
    provider = "kuaidi100"
    default_base_url = "https://poll.kuaidi100.com"

    def query(self, com: str, num: str, phone: str = "") -> TrackResult:
        param = json.dumps({"com": com, "num": num, "phone": phone, "resultv2": "4", "order": "asc"},
                           ensure_ascii=False, separators=(",", ":"))
        customer, key = self.credentials.get("customer", ""), self.credentials.get("key", "")
        form = {"customer": customer, "param": param, "sign": kuaidi100_sign(param, key, customer)}
        out: dict = {}

        def check(resp):
            body = json_body(resp)
            if body.get("result") is False or ("returnCode" in body and "data" not in body):
                rc = str(body.get("returnCode", ""))
                text = f"快递100: {body.get('message') or rc}"
                if rc == NO_RESULT:
                    out["empty"] = True
                    return
                if rc in AUTH_RETURN_CODES:
                    raise AuthError(text, code=rc)
                if rc in RETRYABLE_RETURN_CODES:
                    raise CarrierError(text, code=rc)
                raise BusinessError(text, code=rc)
            out.update(body)

        self.request("POST", f"{self.base_url}/poll/query.do", data=form, check=check)
        if out.get("empty"):
            return TrackResult(number=num, status="", events=[])
        events = []
        for item in out.get("data") or []:
            try:
                when = datetime.strptime(item.get("ftime") or item["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CN_TZ)
            except (KeyError, ValueError):
                raise MalformedResponse("kuaidi100 event without a valid time", code="malformed")
            code = str(item.get("statusCode") or "")
            events.append(TrackEvent(occurred_at=when, description=str(item.get("context", ""))[:255],
                                     location=str(item.get("location") or item.get("areaName") or "")[:100],
                                     raw_state=code, status=map_state(code) if code else ""))
        events.sort(key=lambda e: e.occurred_at)
        state = str(out.get("state", ""))
        status = map_state(state)
        if str(out.get("ischeck")) == "1" and status not in ("delivered", "returned"):
            status = "delivered"
        for ev in events:  # events without their own code take "in transit", the newest the parcel's state
            if not ev.status:
                ev.status = "in_transit"
        if events and not events[-1].raw_state:
            events[-1].status = status
            events[-1].raw_state = state
        return TrackResult(number=num, status=status, events=events, raw_state=state)
