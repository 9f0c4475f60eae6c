"""HTTP machinery shared by the carrier adapters (the same pattern as channels/adapters/base.py):
one requests.Session per account, explicit timeouts, retries with exponential backoff and jitter
on connection errors, timeouts, 5xx, 429 and provider throttling (honouring Retry-After), and no
retry on errors that cannot succeed."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

import requests
from django.conf import settings

logger = logging.getLogger(__name__)


class CarrierError(Exception):
    """A provider call failed. `retryable` says whether trying again may succeed."""

    retryable = True

    def __init__(self, message: str, *, code: str = "", retryable: bool | None = None):
        super().__init__(message)
        self.code = code
        if retryable is not None:
            self.retryable = retryable


class AuthError(CarrierError):
    """Bad credentials, bad signature, no permission: ops must fix the account."""

    retryable = False


class BusinessError(CarrierError):
    """The provider refused this request (bad address, unknown number...): retrying cannot help."""

    retryable = False


class ThrottledError(CarrierError):
    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None):
        super().__init__(message, code=code, retryable=True)
        self.retry_after = retry_after


class MalformedResponse(CarrierError):
    """An answer we cannot parse (retryable: often a proxy hiccup)."""


@dataclass
class WaybillRequest:
    """What a waybill provider needs for one parcel. `ref` is our idempotency key."""

    ref: str
    cp_code: str
    service_code: str
    sender: dict  # name, mobile, province, city, district, detail
    recipient: dict  # name, mobile, province, city, district, detail
    items: list[dict]  # name, count
    weight_grams: int
    order_refs: list[str] = field(default_factory=list)


@dataclass
class WaybillResult:
    ref: str
    waybill_no: str = ""
    print_data: str = ""
    error: str = ""
    error_code: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.waybill_no)


@dataclass
class TrackEvent:
    occurred_at: datetime
    description: str
    location: str = ""
    raw_state: str = ""
    status: str = ""  # canonical ShipmentStatus value


@dataclass
class TrackResult:
    number: str
    status: str  # canonical ShipmentStatus value of the parcel as a whole ("" when unknown)
    events: list[TrackEvent]
    raw_state: str = ""


class HttpClient:
    provider: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    timeout: ClassVar[tuple[float, float]] = (5.0, 20.0)
    max_attempts: ClassVar[int] = 4
    backoff_base: ClassVar[float] = 0.5
    backoff_cap: ClassVar[float] = 20.0

    def __init__(self, account, *, session: requests.Session | None = None, sleep=time.sleep):
        self.account = account
        self.credentials: dict = dict(account.credentials or {})
        self.base_url = (account.api_base_url or self.default_base_url).rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "oms/0.1")
        self._sleep = sleep
        self.requests_made = 0

    def request(self, method: str, url: str, *, check=None, prepare=None, **kwargs) -> requests.Response:
        """One call with retries. `prepare()` returns fresh kwargs per attempt (timestamps and
        signatures are redone); `check(resp)` parses the answer and raises CarrierError subclasses."""
        kwargs.setdefault("timeout", self.timeout)
        last_exc: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            call_kwargs = prepare() if prepare else kwargs
            call_kwargs.setdefault("timeout", self.timeout)
            retry_after = None
            try:
                self.requests_made += 1
                resp = self.session.request(method, url, **call_kwargs)
                if resp.status_code == 429:
                    raise ThrottledError("HTTP 429", code="429", retry_after=_retry_after(resp))
                if resp.status_code >= 500:
                    retry_after = _retry_after(resp)
                    raise CarrierError(f"HTTP {resp.status_code} from {self.provider}", code=str(resp.status_code))
                if resp.status_code >= 400:
                    raise CarrierError(f"HTTP {resp.status_code} from {self.provider}", code=str(resp.status_code),
                                       retryable=False)
                if check is not None:
                    check(resp)
                return resp
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_exc = CarrierError(f"{type(exc).__name__}: {exc}", code="network")
            except ThrottledError as exc:
                last_exc = exc
                retry_after = exc.retry_after
            except CarrierError as exc:
                if not exc.retryable:
                    raise
                last_exc = exc
            if attempt == self.max_attempts:
                break
            base = getattr(settings, "LOGISTICS_BACKOFF_BASE", self.backoff_base)
            delay = retry_after if retry_after is not None else min(
                self.backoff_cap, base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            logger.info("tenant=%s account=%s %s retry %d after %.2fs: %s", self.account.tenant_id, self.account.pk,
                        self.provider, attempt, delay, last_exc)
            self._sleep(delay)
        assert last_exc is not None
        raise last_exc


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def json_body(resp: requests.Response) -> dict:
    try:
        data = resp.json()
    except ValueError:
        raise MalformedResponse(f"not JSON: {resp.text[:80]!r}", code="malformed")
    if not isinstance(data, dict):
        raise MalformedResponse("JSON object expected", code="malformed")
    return data
