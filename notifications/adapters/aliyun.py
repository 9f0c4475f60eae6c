"""Aliyun SMS (dysmsapi) SendSms over the RPC protocol, signed with HMAC-SHA1.

Facts (../shared/platforms.md): Action=SendSms, Version=2017-05-25, PhoneNumbers, SignName,
TemplateCode, TemplateParam (a JSON string), AccessKeyId, Format=JSON, RegionId,
SignatureMethod=HMAC-SHA1, SignatureVersion=1.0, SignatureNonce, Timestamp (UTC
yyyy-MM-ddTHH:mm:ssZ). Signature: sort the parameters, RFC 3986 percent-encode names and values,
join k=v with &, string-to-sign = METHOD + "&%2F&" + percent-encode(that),
base64(HMAC-SHA1(secret + "&", string-to-sign)).

We POST the form (the SDK's choice too) rather than GET: the phone number then travels in the
body, never in a URL that proxies and urllib3's debug log would write down.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import quote

import requests
from django.utils.translation import gettext as _

from .base import HttpClient, PermanentError, TransientError

DEFAULT_BASE_URL = "https://dysmsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"
HTTP_METHOD = "POST"

#: business codes (HTTP 200, Code != "OK") that trying again later can cure
TRANSIENT_CODES = {
    "isv.BUSINESS_LIMIT_CONTROL",  # per-number frequency control (1/min, 5/h, 10/day)
    "isv.AMOUNT_NOT_ENOUGH",  # the account ran out of credit: ops may top up within the retry window
    "isp.SYSTEM_ERROR",
    "isp.RAM_PERMISSION_DENY",
    "Throttling",
    "Throttling.User",
    "Throttling.Api",
    "ServiceUnavailable",
    "InternalError",
}


def percent_encode(value: str) -> str:
    """RFC 3986: unreserved characters A-Z a-z 0-9 - _ . ~ stay, everything else %XX (UTF-8);
    space -> %20, * -> %2A."""
    return quote(str(value), safe="~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                         for k, v in sorted(params.items()) if k != "Signature")
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(method: str, params: dict[str, str], access_key_secret: str) -> str:
    digest = hmac.new((access_key_secret + "&").encode("utf-8"),
                      string_to_sign(method, params).encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def utc_timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AliyunSms(HttpClient):
    name: ClassVar[str] = "aliyun-sms"

    def __init__(self, *, access_key_id: str, access_key_secret: str, sign_name: str, base_url: str = "",
                 region_id: str = "cn-hangzhou", **kwargs):
        super().__init__(**kwargs)
        if not access_key_id or not access_key_secret:
            raise PermanentError(_("短信账号缺少 AccessKeyId/AccessKeySecret"), code="credentials")
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.base_url = base_url or DEFAULT_BASE_URL
        self.region_id = region_id or "cn-hangzhou"

    def signed_params(self, business: dict[str, str], *, now: datetime | None = None,
                      nonce: str | None = None) -> dict[str, str]:
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self.region_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": utc_timestamp(now),
            "Version": API_VERSION,
            **business,
        }
        params["Signature"] = sign(HTTP_METHOD, params, self._secret)
        return params

    def send(self, *, phone: str, template_code: str, params: dict, out_id: str = "") -> str:
        """Send one SMS; returns Aliyun's BizId. Raises PermanentError / TransientError."""
        if not template_code:
            raise PermanentError(_("缺少短信模板编码"), code="template")
        business = {
            "PhoneNumbers": phone,
            "SignName": self.sign_name,
            "TemplateCode": template_code,
            "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":")),
        }
        if out_id:
            business["OutId"] = out_id
        resp = self.request(
            HTTP_METHOD, self.base_url,
            prepare=lambda: {"data": self.signed_params(business),
                             "headers": {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}},
            check=_check,
        )
        return str(resp.json().get("BizId") or "")


_LONG_NUMBER = re.compile(r"\d{7,}")


def scrub(message: str) -> str:
    """A provider message fit for the error column and logs: Aliyun quotes its string-to-sign
    (which holds the phone number) on SignatureDoesNotMatch, and may echo a number elsewhere."""
    message = re.split(r"(?i)string to sign", message)[0]
    return _LONG_NUMBER.sub("***", message).strip()[:200]


def _check(resp: requests.Response) -> None:
    try:
        data = resp.json()
    except ValueError:
        raise TransientError(f"aliyun-sms answered non-JSON (HTTP {resp.status_code})", code="malformed")
    code = str(data.get("Code") or "")
    if resp.status_code == 200 and code == "OK":
        return
    text = f"{code or resp.status_code}: {scrub(str(data.get('Message') or ''))}"
    if code in TRANSIENT_CODES or code.startswith("isp.") or code.startswith("Throttling"):
        raise TransientError(text, code=code)
    raise PermanentError(text, code=code or str(resp.status_code))
