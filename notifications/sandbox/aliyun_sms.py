"""A fake Aliyun SMS endpoint (dysmsapi RPC, SendSms) on loopback, for tests and the demo.

It checks what the real service checks: the HMAC-SHA1 signature (computed here with its own
RFC 3986 encoder, independent of notifications.adapters), the AccessKeyId, the common
parameters, the timestamp window and nonce reuse, the phone number and TemplateParam JSON. It
records every accepted message and can inject faults:

    http500     HTTP 500 ServiceUnavailable
    http429     HTTP 429 with Retry-After
    throttle    HTTP 200 Code=isv.BUSINESS_LIMIT_CONTROL (per-number frequency control)
    illegal     HTTP 200 Code=isv.MOBILE_NUMBER_ILLEGAL
    no_credit   HTTP 200 Code=isv.AMOUNT_NOT_ENOUGH
    timeout     waits `timeout_delay` seconds, then drops the connection

Routes: GET|POST /              the RPC endpoint (Action=SendSms)
        GET  /_control/state     {"messages": [...], "requests": n, "faults": [...]}
        POST /_control/accounts  {"access_key_id", "access_key_secret"}
        POST /_control/faults    {"kind", "count"}
        POST /_control/reset
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from oms.sandbox_server import LoopbackServer

logger = logging.getLogger(__name__)

MAX_SKEW_SECONDS = 15 * 60
FAULT_KINDS = ("http500", "http429", "throttle", "illegal", "no_credit", "timeout")
REQUIRED = ("AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod", "SignatureNonce",
            "SignatureVersion", "Timestamp", "Version", "Signature", "PhoneNumbers", "SignName", "TemplateCode")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_INTERNATIONAL = re.compile(r"^[2-9]\d{7,14}$")


def rfc3986(value: str) -> str:
    """Byte by byte, so nothing here depends on urllib's notion of 'safe'."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in str(value).encode("utf-8"))


def expected_signature(method: str, params: dict[str, str], secret: str) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    query = "&".join(rfc3986(k) + "=" + rfc3986(v) for k, v in pairs)
    to_sign = method + "&" + rfc3986("/") + "&" + rfc3986(query)
    mac = hmac.new(f"{secret}&".encode(), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class SmsSandboxState:
    def __init__(self):
        self.lock = threading.Lock()
        self.accounts: dict[str, str] = {}
        self.messages: list[dict] = []
        self.faults: deque[str] = deque()
        self.nonces: set[str] = set()
        self.requests = 0
        self.rejected: list[dict] = []  # {"code", "at"}; never the parameters
        self.retry_after = 1
        self.timeout_delay = 2.0

    def add_account(self, access_key_id: str, access_key_secret: str) -> None:
        with self.lock:
            self.accounts[access_key_id] = access_key_secret

    def inject(self, kind: str, count: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        with self.lock:
            self.faults.extend([kind] * count)

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.faults.clear()
            self.rejected.clear()
            self.requests = 0

    def take_fault(self) -> str | None:
        with self.lock:
            return self.faults.popleft() if self.faults else None

    def summary(self) -> dict:
        with self.lock:
            return {"messages": list(self.messages), "requests": self.requests, "faults": list(self.faults),
                    "rejected": list(self.rejected)}


def _error(status: int, code: str, message: str) -> tuple[int, dict, dict]:
    return status, {"RequestId": secrets.token_hex(8).upper(), "HostId": "dysmsapi.aliyuncs.com",
                    "Code": code, "Message": message}, {}


def handle_rpc(state: SmsSandboxState, method: str, params: dict[str, str]) -> tuple[int, dict, dict] | None:
    """One SendSms call. Returns (status, body, headers), or None to drop the connection."""
    with state.lock:
        state.requests += 1
    fault = state.take_fault()
    if fault == "http500":
        return _error(500, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
    if fault == "http429":
        status, body, _ = _error(429, "Throttling.User", "Request was denied due to user flow control.")
        return status, body, {"Retry-After": str(state.retry_after)}
    if fault == "timeout":
        time.sleep(state.timeout_delay)
        return None

    missing = [k for k in REQUIRED if not params.get(k)]
    if missing:
        return _error(400, f"Missing{missing[0]}", f"{missing[0]} is mandatory for this action.")
    secret = state.accounts.get(params["AccessKeyId"])
    if secret is None:
        return _error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
        return _error(400, "InvalidSignatureMethod", "Specified signature method is not valid.")
    if not hmac.compare_digest(expected_signature(method, params, secret), params["Signature"]):
        # the real service quotes its string-to-sign here; so do we (the adapter must not store it)
        pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
        query = "&".join(rfc3986(k) + "=" + rfc3986(v) for k, v in pairs)
        return _error(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                      f"server string to sign is:{method}&%2F&{rfc3986(query)}")
    try:
        ts = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return _error(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
    if abs((datetime.now(UTC) - ts).total_seconds()) > MAX_SKEW_SECONDS:
        return _error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    with state.lock:
        if params["SignatureNonce"] in state.nonces:
            return _error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        state.nonces.add(params["SignatureNonce"])
    if params["Action"] != "SendSms":
        return _error(400, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
    if params["Version"] != "2017-05-25":
        return _error(400, "InvalidVersion", "Specified parameter Version is not valid.")
    if params["Format"].upper() != "JSON" or params["RegionId"] != "cn-hangzhou":
        return _error(400, "InvalidParameter", "Format must be JSON and RegionId cn-hangzhou in the sandbox.")

    request_id = secrets.token_hex(8).upper()

    def business_error(code: str, message: str):
        with state.lock:
            state.rejected.append({"code": code, "at": datetime.now(UTC).isoformat()})
        return 200, {"RequestId": request_id, "Code": code, "Message": message}, {}

    if fault == "throttle":
        return business_error("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控Permits:10")
    if fault == "no_credit":
        return business_error("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
    phones = params["PhoneNumbers"].split(",")
    if fault == "illegal" or not all(_CN_MOBILE.match(p) or (len(p) != 11 and _INTERNATIONAL.match(p))
                                     for p in phones):
        return business_error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    try:
        template_param = json.loads(params.get("TemplateParam") or "{}")
        if not isinstance(template_param, dict):
            raise ValueError
    except ValueError:
        return business_error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    if not all(isinstance(v, str) for v in template_param.values()):
        return business_error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    if not re.match(r"^SMS_\w+$", params["TemplateCode"]):
        return business_error("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
    biz_id = f"{int(time.time() * 1000)}^{secrets.randbelow(10**10)}"
    with state.lock:
        for phone in phones:
            state.messages.append({
                "phone": phone, "sign_name": params["SignName"], "template_code": params["TemplateCode"],
                "template_param": template_param, "out_id": params.get("OutId", ""), "biz_id": biz_id,
                "access_key_id": params["AccessKeyId"], "method": method,
                "received_at": datetime.now(UTC).isoformat(),
            })
    return 200, {"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": biz_id}, {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "oms-sms-sandbox/0.1"

    def log_message(self, format, *args):  # noqa: A002  (the stdlib's signature)
        pass  # the request line may carry a phone number in a GET query: never logged

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def _serve(self, method: str):
        state: SmsSandboxState = self.server.state
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers: dict = {}
        try:
            if parts.path.startswith("/_control/"):
                status, body = self._control(state, method, parts.path, raw)
            elif parts.path == "/":
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                if raw:
                    params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                result = handle_rpc(state, method, params)
                if result is None:
                    self.close_connection = True
                    return
                status, body, headers = result
            else:
                status, body = 404, {"Code": "InvalidAction.NotFound", "Message": f"no route {parts.path}"}
        except Exception as exc:  # a sandbox bug must show up as a 500, not a hung client
            logger.exception("sms sandbox error")
            status, body = 500, {"Code": "InternalError", "Message": f"sandbox error: {type(exc).__name__}"}
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    @staticmethod
    def _control(state: SmsSandboxState, method: str, path: str, raw: bytes) -> tuple[int, dict]:
        if path == "/_control/state" and method == "GET":
            return 200, state.summary()
        if method != "POST":
            return 405, {"error": "POST expected"}
        try:
            data = json.loads(raw.decode("utf-8") or "{}")
            if path == "/_control/accounts":
                state.add_account(data["access_key_id"], data["access_key_secret"])
                return 200, {"ok": True}
            if path == "/_control/faults":
                state.inject(data["kind"], int(data.get("count", 1)))
                return 200, {"ok": True}
            if path == "/_control/reset":
                state.reset()
                return 200, {"ok": True}
        except (KeyError, ValueError, TypeError) as exc:
            return 400, {"error": f"{type(exc).__name__}: {exc}"}
        return 404, {"error": f"no control endpoint {path}"}


class SmsSandboxServer(LoopbackServer):
    """    server = SmsSandboxServer().start(); server.state.add_account("id", "secret")
    SmsAccount.api_base_url = server.url + "/" ... server.stop()"""

    name = "sms-sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: SmsSandboxState | None = None):
        super().__init__(_Handler, state or SmsSandboxState(), host=host, port=port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"
