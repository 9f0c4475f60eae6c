"""HTTP machinery shared by the carrier adapters (the same pattern as channels/adapters/base.py):
one requests.Session per account, explicit timeouts, retries with exponential backoff and jitter
on connection errors, timeouts, 5xx, 429 and provider throttling (honouring Retry-After), and no
retry on errors that cannot succeed."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

import requests
from django.conf import settings

from oms.http import RetryingHttp, retry_after_seconds

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


class HttpClient(RetryingHttp):
    """One carrier account's session; the retry loop is oms.http.RetryingHttp."""

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
        self.init_http(session=session, sleep=sleep)

    def network_error(self, exc: Exception) -> Exception:
        return CarrierError(f"{type(exc).__name__}: {exc}", code="network")

    def status_error(self, resp: requests.Response) -> Exception | None:
        if resp.status_code == 429:
            return ThrottledError("HTTP 429", code="429", retry_after=retry_after_seconds(resp))
        if resp.status_code >= 500:
            error = CarrierError(f"HTTP {resp.status_code} from {self.provider}", code=str(resp.status_code))
            error.retry_after = retry_after_seconds(resp)
            return error
        if resp.status_code >= 400:
            return CarrierError(f"HTTP {resp.status_code} from {self.provider}", code=str(resp.status_code),
                                retryable=False)
        return None

    def should_retry(self, exc: Exception) -> bool:
        return isinstance(exc, CarrierError) and exc.retryable

    def current_backoff_base(self) -> float:
        return getattr(settings, "LOGISTICS_BACKOFF_BASE", self.backoff_base)

    def log_retry(self, attempt: int, delay: float, exc: Exception) -> None:
        logger.info("tenant=%s account=%s %s retry %d after %.2fs: %s", self.account.tenant_id, self.account.pk,
                    self.provider, attempt, delay, exc)


def json_body(resp: requests.Response) -> dict:
    try:
        data = resp.json()
    except ValueError:
        raise MalformedResponse(f"not JSON: {resp.text[:80]!r}", code="malformed")
    if not isinstance(data, dict):
        raise MalformedResponse("JSON object expected", code="malformed")
    return data
