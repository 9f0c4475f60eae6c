"""The carrier sandbox: one loopback HTTP server with

    POST /sf/std/service                 SF open platform (msgDigest checked)
    POST /cainiao/router/rest            Taobao TOP: cainiao.waybill.ii.get / .cancel (sign checked; cainiao.py)
    POST /kuaidi100/poll/query.do        Kuaidi100 real-time query (sign checked)
    GET  /_control/state                 summary
    POST /_control/faults                {"provider": "sf|cainiao|kuaidi100", "kind", "count"}
    POST /_control/advance               {"hours": 5}  moves the fake clock (timelines advance)
    POST /_control/scenario              {"number", "scenario": "normal|problem|returned"}
    POST /_control/reject                {"provider", "name"}  refuse waybills for this receiver name
    POST /_control/accounts              {"provider", "credentials"}

Fault kinds: http500 (nothing done), http500_after (the request is processed, then 500 is
answered: the client must retry idempotently), http429 (Retry-After), timeout, malformed,
throttle (the provider's own rate-limit answer).

Adapters point CarrierAccount.api_base_url at `{sandbox.url}/sf`, `/cainiao` or `/kuaidi100`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from oms.sandbox_server import LoopbackServer

from .cainiao import Reply, cainiao_handle, top_error
from .timeline import steps

logger = logging.getLogger(__name__)
CN_TZ = ZoneInfo("Asia/Shanghai")
MALFORMED = '<html><body>502 Bad Gateway</body></html>{"apiResult'
K100_TO_CP = {"shunfeng": "SF", "yuantong": "YTO", "zhongtong": "ZTO", "shentong": "STO", "yunda": "YUNDA",
              "jd": "JD", "ems": "EMS", "jtexpress": "HTKY"}


@dataclass
class Parcel:
    number: str
    cp_code: str
    created: datetime
    origin: str = "杭州市"
    dest: str = "上海市"
    phone: str = ""
    receiver: str = ""
    scenario: str = "normal"
    cancelled: bool = False
    oaid: str = ""


class CarrierSandboxState:
    def __init__(self, *, hour_seconds: float = 3600.0):
        self.lock = threading.RLock()
        self.sf_accounts: dict[str, dict] = {}  # partner_id -> {check_word}
        self.top_accounts: dict[str, dict] = {}  # app_key -> {app_secret, session}
        self.k100_accounts: dict[str, str] = {}  # customer -> key
        self.sf_orders: dict[tuple[str, str], str] = {}  # (partner, orderId) -> waybillNo
        self.cainiao: dict[tuple[str, str, str], str] = {}  # (app_key, cp, object_id) -> waybill
        self.parcels: dict[str, Parcel] = {}
        self.faults: dict[str, deque] = defaultdict(deque)
        self.gates: dict[str, object] = {}  # provider -> oms.sandbox_server.Gate on its calls
        self.rejected_names: dict[str, set] = defaultdict(set)
        self.requests: list[tuple[str, str]] = []  # (provider, api)
        self.clock_offset = timedelta(0)
        self.hour_seconds = hour_seconds  # real seconds per timeline hour (demo: make it small)
        self.retry_after = 0
        self.timeout_delay = 3.0
        self._seq = 0
        self._start = datetime.now(CN_TZ)

    # ---- control ------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(CN_TZ) + self.clock_offset

    def advance(self, hours: float) -> None:
        with self.lock:
            self.clock_offset += timedelta(seconds=hours * self.hour_seconds)

    def inject(self, provider: str, kind: str, count: int = 1) -> None:
        with self.lock:
            self.faults[provider].extend([kind] * count)

    def hold_call(self, provider: str, *, after: int, timeout: float = 30.0, then=None):
        """Let `after` calls to `provider` through, then hold the next one until the returned
        gate is released (see oms.sandbox_server.Gate)."""
        from oms.sandbox_server import Gate

        gate = Gate(after=after, timeout=timeout, then=then)
        with self.lock:
            self.gates[provider] = gate
        return gate

    def take_fault(self, provider: str) -> str | None:
        with self.lock:
            q = self.faults[provider]
            return q.popleft() if q else None

    def add_account(self, provider: str, credentials: dict) -> None:
        with self.lock:
            if provider == "sf":
                self.sf_accounts[credentials["partner_id"]] = dict(credentials)
            elif provider == "cainiao":
                self.top_accounts[credentials["app_key"]] = dict(credentials)
            elif provider == "kuaidi100":
                self.k100_accounts[credentials["customer"]] = credentials["key"]
            else:
                raise ValueError(f"unknown provider {provider!r}")

    def set_scenario(self, number: str, scenario: str) -> None:
        with self.lock:
            self.parcel(number).scenario = scenario

    def register_parcel(self, number: str, *, cp_code: str, origin: str = "杭州市", dest: str = "上海市",
                        phone: str = "", receiver: str = "", created: datetime | None = None) -> Parcel:
        with self.lock:
            p = self.parcels.get(number)
            if p is None:
                p = self.parcels[number] = Parcel(number, cp_code, created or self.now(), origin or "杭州市",
                                                  dest or "上海市", phone, receiver)
            return p

    def parcel(self, number: str) -> Parcel:
        p = self.parcels.get(number)
        if p is None:  # a number made elsewhere: its timeline starts when it is first asked for
            p = self.register_parcel(number, cp_code="")
        return p

    def new_number(self, cp_code: str) -> str:
        with self.lock:
            self._seq += 1
            n = self._seq
        prefix = {"SF": "SF", "YTO": "YT", "JD": "JDV", "EMS": "11", "HTKY": "JT", "JT": "JT"}.get(cp_code, "")
        if cp_code == "ZTO":
            return f"7{731000000000 + n:012d}"
        if cp_code == "STO":
            return f"77{3100000000 + n:011d}"
        if cp_code == "YUNDA":
            return f"43{1200000000 + n:011d}"
        return f"{prefix}{1400000000000 + n:013d}"

    def events(self, number: str) -> list:
        p = self.parcel(number)
        if p.cancelled:
            return []
        elapsed_h = (self.now() - p.created).total_seconds() / self.hour_seconds
        out = []
        for st in steps(number, origin=p.origin, dest=p.dest, scenario=p.scenario):
            if st.hours <= elapsed_h:
                when = p.created + timedelta(seconds=st.hours * self.hour_seconds)
                out.append((when, st))
        return out

    def log(self, provider: str, api: str) -> None:
        with self.lock:
            self.requests.append((provider, api))

    def summary(self) -> dict:
        with self.lock:
            return {"sf_orders": len(self.sf_orders), "cainiao_waybills": len(self.cainiao),
                    "parcels": len(self.parcels), "requests": len(self.requests),
                    "faults": {k: list(v) for k, v in self.faults.items() if v}}


# ---- signatures, written independently of the adapters -----------------------------------
def _java_urlencode(s: str) -> str:
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c.isalnum() and b < 128 or c in ".-*_":
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def sf_expected_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    return base64.b64encode(hashlib.md5(_java_urlencode(msg_data + timestamp + check_word).encode()).digest()).decode()


# ---- SF ----------------------------------------------------------------------------------
def _sf_reply(code: str, msg: str = "", data: dict | None = None) -> Reply:
    return Reply(200, {"apiResultCode": code, "apiErrorMsg": msg, "apiResponseID": hashlib.md5(
        str(time.time()).encode()).hexdigest().upper(), "apiResultData": json.dumps(data, ensure_ascii=False)
        if data is not None else None})


def _sf_ok(msg_data: dict) -> Reply:
    return _sf_reply("A1000", "", {"success": True, "errorCode": "S0000", "errorMsg": None, "msgData": msg_data})


def _sf_fail(code: str, msg: str) -> Reply:
    return _sf_reply("A1000", "", {"success": False, "errorCode": code, "errorMsg": msg, "msgData": None})


def sf_handle(state: CarrierSandboxState, p: dict) -> Reply:
    for key in ("partnerID", "requestID", "serviceCode", "timestamp", "msgData", "msgDigest"):
        if not p.get(key):
            return _sf_reply("A1001", f"必传参数不可为空: {key}")
    account = state.sf_accounts.get(p["partnerID"])
    if account is None:
        return _sf_reply("A1004", "无对应服务权限")
    if p["msgDigest"] != sf_expected_digest(p["msgData"], p["timestamp"], account["check_word"]):
        return _sf_reply("A1006", "数字签名无效")
    try:
        msg = json.loads(p["msgData"])
    except ValueError:
        return _sf_fail("1000", "msgData 不是合法 JSON")
    service = p["serviceCode"]
    state.log("sf", service)
    partner = p["partnerID"]
    if service == "EXP_RECE_CREATE_ORDER":
        order_id = msg.get("orderId") or ""
        if not order_id:
            return _sf_fail("1010", "orderId 不能为空")
        with state.lock:
            if (partner, order_id) in state.sf_orders:
                return _sf_fail("8016", "重复下单")
            contacts = {c.get("contactType"): c for c in msg.get("contactInfoList") or []}
            rcv, snd = contacts.get(2), contacts.get(1)
            if not rcv or not snd:
                return _sf_fail("1011", "寄件人和收件人信息不能为空")
            if not rcv.get("address") or not rcv.get("province") or not rcv.get("mobile"):
                return _sf_fail("1012", "收件人地址或电话不能为空")
            if rcv.get("contact") in state.rejected_names["sf"]:
                return _sf_fail("6126", "收件地址超出派送范围")
            number = state.new_number("SF")
            state.sf_orders[(partner, order_id)] = number
            state.register_parcel(number, cp_code="SF", origin=snd.get("city", ""), dest=rcv.get("city", ""),
                                  phone=rcv.get("mobile", ""), receiver=rcv.get("contact", ""))
        return _sf_ok({"orderId": order_id, "originCode": "571", "destCode": "021", "filterResult": 2,
                       "waybillNoInfoList": [{"waybillType": 1, "waybillNo": number}],
                       "routeLabelInfo": [{"code": "1000", "routeLabelData": {"waybillNo": number}}]})
    if service == "EXP_RECE_SEARCH_ORDER_RESP":
        number = state.sf_orders.get((partner, msg.get("orderId") or ""))
        if number is None:
            return _sf_fail("8018", "未获取到订单信息")
        return _sf_ok({"orderId": msg["orderId"], "waybillNoInfoList": [{"waybillType": 1, "waybillNo": number}]})
    if service == "EXP_RECE_UPDATE_ORDER":
        number = state.sf_orders.get((partner, msg.get("orderId") or ""))
        if number is None:
            return _sf_fail("8018", "未获取到订单信息")
        if int(msg.get("dealType") or 1) == 2:
            state.parcel(number).cancelled = True
        return _sf_ok({"orderId": msg["orderId"], "resStatus": 2})
    if service == "EXP_RECE_SEARCH_ROUTES":
        resps = []
        for number in msg.get("trackingNumber") or []:
            parcel = state.parcel(number)
            routes = []
            if not parcel.phone or parcel.phone[-4:] == str(msg.get("checkPhoneNo", ""))[-4:]:
                routes = [{"acceptTime": when.strftime("%Y-%m-%d %H:%M:%S"), "acceptAddress": st.location,
                           "remark": st.text, "opCode": st.sf_opcode} for when, st in state.events(number)]
            resps.append({"mailNo": number, "routes": routes})
        return _sf_ok({"routeResps": resps})
    return _sf_reply("A1001", f"未知服务 {service}")


# ---- Kuaidi100 ---------------------------------------------------------------------------
def _k100_fail(code: str, message: str) -> Reply:
    return Reply(200, {"result": False, "returnCode": code, "message": message})


def kuaidi100_handle(state: CarrierSandboxState, p: dict) -> Reply:
    key = state.k100_accounts.get(p.get("customer", ""))
    if key is None:
        return _k100_fail("601", "POLL:KEY已过期或不存在")
    param = p.get("param", "")
    if p.get("sign") != hashlib.md5((param + key + p["customer"]).encode()).hexdigest().upper():
        return _k100_fail("503", "验证签名失败")
    try:
        q = json.loads(param)
    except ValueError:
        return _k100_fail("400", "找不到对应公司或参数错误")
    state.log("kuaidi100", "query")
    com, num = q.get("com", ""), q.get("num", "")
    if com not in K100_TO_CP or not num:
        return _k100_fail("400", "找不到对应公司或参数错误")
    parcel = state.parcels.get(num)
    if com == "shunfeng":
        phone = str(q.get("phone") or "")
        if not phone or (parcel and parcel.phone and parcel.phone[-4:] != phone[-4:]):
            return _k100_fail("408", "验证码错误：顺丰单号需提供正确的收寄件人电话")
    events = state.events(num)
    if not events:
        return _k100_fail("500", "查询无结果，请隔段时间再查")
    data = [{"time": w.strftime("%Y-%m-%d %H:%M:%S"), "ftime": w.strftime("%Y-%m-%d %H:%M:%S"), "context": st.text,
             "location": st.location, "areaName": st.location, "statusCode": st.k100, "status": st.k100}
            for w, st in events]
    if q.get("order", "desc") == "desc":
        data.reverse()
    last = events[-1][1].k100
    return Reply(200, {"message": "ok", "nu": num, "ischeck": "1" if last in ("3", "4") else "0", "condition": "F00",
                       "com": com, "status": "200", "state": last, "data": data})


HANDLERS = {"/sf/std/service": ("sf", sf_handle), "/cainiao/router/rest": ("cainiao", cainiao_handle),
            "/kuaidi100/poll/query.do": ("kuaidi100", kuaidi100_handle)}


def dispatch(state: CarrierSandboxState, path: str, params: dict) -> Reply | None:
    provider, handler = HANDLERS[path]
    gate = state.gates.get(provider)
    if gate is not None:
        gate.passing()
    kind = state.take_fault(provider)
    if kind == "http500":
        return Reply(500, "<html><body>500 Internal Server Error</body></html>")
    if kind == "http429":
        return Reply(429, "Too Many Requests", {"Retry-After": str(state.retry_after)})
    if kind == "malformed":
        return Reply(200, MALFORMED)
    if kind == "timeout":
        time.sleep(state.timeout_delay)
        return None
    if kind == "throttle":
        if provider == "sf":
            return _sf_reply("A1005", "流量受限")
        if provider == "cainiao":
            return top_error(7, "App Call Limited", "accesscontrol.limited-by-app-access-count")
        return _k100_fail("502", "服务器繁忙，请稍后重试")
    reply = handler(state, params)
    if kind == "http500_after":  # the work was done, the answer is lost on the way back
        return Reply(502 if provider == "cainiao" else 500, "<html><body>Bad Gateway</body></html>")
    return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "carrier-sandbox/0.1"

    def log_message(self, format, *args):  # noqa: A002
        logger.debug("carrier sandbox %s", format % args)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def _serve(self, method: str) -> None:
        state: CarrierSandboxState = self.server.state
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if parts.path.startswith("/_control/"):
                reply = self._control(state, method, parts.path, raw)
            elif parts.path in HANDLERS and method == "POST":
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                reply = dispatch(state, parts.path, params)
            else:
                reply = Reply(404, {"error": f"no route {method} {parts.path}"})
        except Exception as exc:  # a sandbox bug shows up as a 500, never a hung client
            logger.exception("carrier sandbox error")
            reply = Reply(500, f"sandbox error: {type(exc).__name__}: {exc}")
        if reply is None:
            self.close_connection = True
            return
        if isinstance(reply.body, (dict, list)):
            body, ctype = json.dumps(reply.body, ensure_ascii=False).encode(), "application/json;charset=UTF-8"
        else:
            body, ctype = str(reply.body).encode(), "text/html;charset=UTF-8"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _control(self, state: CarrierSandboxState, method: str, path: str, raw: bytes) -> Reply:
        if path == "/_control/state" and method == "GET":
            return Reply(200, state.summary())
        if method != "POST":
            return Reply(405, {"error": "POST expected"})
        try:
            data = json.loads(raw.decode() or "{}")
            if path == "/_control/faults":
                state.inject(data["provider"], data["kind"], int(data.get("count", 1)))
            elif path == "/_control/advance":
                state.advance(float(data["hours"]))
            elif path == "/_control/scenario":
                state.set_scenario(data["number"], data["scenario"])
            elif path == "/_control/reject":
                state.rejected_names[data["provider"]].add(data["name"])
            elif path == "/_control/accounts":
                state.add_account(data["provider"], data["credentials"])
            else:
                return Reply(404, {"error": f"no control endpoint {path}"})
        except (KeyError, ValueError, TypeError) as exc:
            return Reply(400, {"error": f"{type(exc).__name__}: {exc}"})
        return Reply(200, {"ok": True})


class CarrierSandbox(LoopbackServer):
    """with CarrierSandbox() as sb: account.api_base_url = sb.url + "/sf" ..."""

    name = "carrier-sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: CarrierSandboxState | None = None):
        super().__init__(_Handler, state or CarrierSandboxState(), host=host, port=port)

