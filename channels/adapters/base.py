"""The adapter interface every platform module implements, and the HTTP machinery they share.

An adapter is mostly its protocol: how to sign, what to call, how to read the answer. The pull
loop (windows, high-water mark, archive, ingest), retries and the push scheduling live once, in
channels.services / this module, never in an adapter.

Interface (a handful of methods):
    fetch_orders(start, end)  -> Iterator[list[dict]]   raw platform orders, page by page
    order_id(raw)             -> str                    the platform order id of a raw order
    normalize(raw)            -> CanonicalOrder         platform-free
    push_stock(listing, quantity)                       absolute available quantity
    confirm_shipment(order, carrier_code, tracking_number)
and the class attributes max_window (longest legal query window), lag (how far behind "now"
a window must end) and overlap (how far before the high-water mark a pull starts again).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

import requests

if TYPE_CHECKING:
    from orders.canonical import CanonicalOrder

logger = logging.getLogger(__name__)

REGISTRY: dict[str, type[Adapter]] = {}


class AdapterError(Exception):
    """A platform call failed. `retryable` says whether trying again may succeed."""

    retryable = True

    def __init__(self, message: str, *, code: str = "", retryable: bool | None = None):
        super().__init__(message)
        self.code = code
        if retryable is not None:
            self.retryable = retryable


class AuthError(AdapterError):
    """Bad or expired credentials, missing permission: ops must act; never retried blindly."""

    retryable = False


class InvalidRequest(AdapterError):
    """Invalid parameters: retrying the same call cannot succeed."""

    retryable = False


class ThrottledError(AdapterError):
    """Rate limited; retry after `retry_after` seconds."""

    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None):
        super().__init__(message, code=code, retryable=True)
        self.retry_after = retry_after


class MalformedResponse(AdapterError):
    """The platform answered something we cannot parse (retryable: often a proxy hiccup)."""


class NormalizeError(ValueError):
    """A raw order that cannot be turned into a CanonicalOrder (kept in the archive with this)."""


def register(cls: type[Adapter]) -> type[Adapter]:
    REGISTRY[cls.platform] = cls
    return cls


def get_adapter(shop, **kwargs) -> Adapter:
    from . import load_all  # noqa: F401  (import side effect: registers every platform module)

    try:
        cls = REGISTRY[shop.platform]
    except KeyError:
        raise AdapterError(f"no adapter for platform {shop.platform!r}", retryable=False)
    return cls(shop, **kwargs)


class Adapter:
    platform: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    max_window: ClassVar[timedelta] = timedelta(minutes=30)
    lag: ClassVar[timedelta] = timedelta(seconds=0)
    overlap: ClassVar[timedelta] = timedelta(minutes=5)
    page_size: ClassVar[int] = 100
    timeout: ClassVar[tuple[float, float]] = (5.0, 30.0)  # connect, read
    max_attempts: ClassVar[int] = 5
    backoff_base: ClassVar[float] = 0.5
    backoff_cap: ClassVar[float] = 30.0

    def __init__(self, shop, *, session: requests.Session | None = None, sleep=time.sleep):
        self.shop = shop
        self.credentials: dict = dict(shop.credentials or {})
        self.base_url = (shop.api_base_url or self.default_base_url).rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "oms/0.1")
        self._sleep = sleep
        self.requests_made = 0

    # ---- the interface --------------------------------------------------------------
    def fetch_orders(self, start, end) -> Iterator[list[dict]]:
        raise NotImplementedError

    def order_id(self, raw: dict) -> str:
        raise NotImplementedError

    def normalize(self, raw: dict) -> CanonicalOrder:
        raise NotImplementedError

    def push_stock(self, listing, quantity: int) -> None:
        raise NotImplementedError

    def confirm_shipment(self, *, order, carrier_code: str, tracking_number: str) -> None:
        raise NotImplementedError

    def split_page(self, payload: dict) -> list[dict]:
        """Raw orders inside one list-response page as the platform returns it (for
        `manage.py ingest_payload`); a single raw order is returned as [payload]."""
        raise NotImplementedError

    # ---- shared HTTP machinery ---------------------------------------------------------
    def request(self, method: str, url: str, *, check=None, **kwargs) -> requests.Response:
        """One HTTP call with explicit timeouts and retries with exponential backoff + jitter
        on connection errors, timeouts, 5xx, 429 and platform throttling (honouring
        Retry-After). `check(response)` parses the answer and raises AdapterError subclasses;
        non-retryable errors propagate at once. Signing that depends on a timestamp must be
        redone per attempt, so callers pass `prepare` returning fresh kwargs when needed."""
        prepare = kwargs.pop("prepare", None)
        kwargs.setdefault("timeout", self.timeout)
        last_exc: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            call_kwargs = prepare() if prepare else kwargs
            if prepare:
                call_kwargs.setdefault("timeout", self.timeout)
            retry_after = None
            try:
                self.requests_made += 1
                resp = self.session.request(method, url, **call_kwargs)
                if resp.status_code == 429 or resp.status_code >= 500:
                    retry_after = _retry_after(resp)
                    raise ThrottledError(f"HTTP {resp.status_code}", code=str(resp.status_code),
                                         retry_after=retry_after) if resp.status_code == 429 else AdapterError(
                        f"HTTP {resp.status_code} from {self.platform}", code=str(resp.status_code))
                if check is not None:
                    check(resp)
                return resp
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_exc = AdapterError(f"{type(exc).__name__}: {exc}", code="network")
            except ThrottledError as exc:
                last_exc = exc
                retry_after = exc.retry_after
            except AdapterError as exc:
                if not exc.retryable:
                    raise
                last_exc = exc
            if attempt == self.max_attempts:
                break
            delay = retry_after if retry_after is not None else min(
                self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            logger.info("shop=%s %s retry %d after %.2fs: %s", self.shop.pk, self.platform, attempt, delay, last_exc)
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


def windows(start, end, size: timedelta):
    """Split [start, end) into consecutive slices no longer than `size`."""
    cur = start
    while cur < end:
        nxt = min(end, cur + size)
        yield cur, nxt
        cur = nxt
