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

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

import requests

from oms.http import RetryingHttp, retry_after_seconds

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


class Adapter(RetryingHttp):
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
        self.init_http(session=session, sleep=sleep)

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

    def fetch_order(self, platform_order_id: str) -> dict:
        """One raw order, re-read from the platform by its id (push intake: a message only names
        the order that changed). Same shape as the raw orders fetch_orders yields."""
        raise NotImplementedError(f"{self.platform}: fetch_order is not implemented")

    # ---- shared HTTP machinery (oms.http.RetryingHttp): how platform answers become errors ----
    def network_error(self, exc: Exception) -> Exception:
        return AdapterError(f"{type(exc).__name__}: {exc}", code="network")

    def status_error(self, resp: requests.Response) -> Exception | None:
        if resp.status_code == 429:
            return ThrottledError("HTTP 429", code="429", retry_after=retry_after_seconds(resp))
        if resp.status_code >= 500:
            error = AdapterError(f"HTTP {resp.status_code} from {self.platform}", code=str(resp.status_code))
            error.retry_after = retry_after_seconds(resp)
            return error
        return None  # 4xx: the platform's error body says what went wrong; `check` reads it

    def should_retry(self, exc: Exception) -> bool:
        return isinstance(exc, AdapterError) and exc.retryable

    def log_retry(self, attempt: int, delay: float, exc: Exception) -> None:
        logger.info("shop=%s %s retry %d after %.2fs: %s", self.shop.pk, self.platform, attempt, delay, exc)


def json_object(resp: requests.Response, what: str) -> dict:
    """The answer's JSON object; anything else is a MalformedResponse (retryable)."""
    try:
        body = json.loads(resp.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponse(f"{what}: non-JSON answer (HTTP {resp.status_code})", code="json")
    if not isinstance(body, dict):
        raise MalformedResponse(f"{what}: answer is not an object", code="json")
    return body


def windows(start, end, size: timedelta):
    """Split [start, end) into consecutive slices no longer than `size`."""
    cur = start
    while cur < end:
        nxt = min(end, cur + size)
        yield cur, nxt
        cur = nxt


# ---- shared helpers added for Channels II ---------------------------------------------------------

def read_backwards(fetch_page, *, total_pages, first: int = 1):
    """Page through a list sorted by modified time DESCENDING without skipping a row that is
    modified while we page: read the first page to learn the page count, then read from the last
    page back to the first. A row modified meanwhile leaves the window (its new modified time is
    after the window end) and shifts only the rows already read. `fetch_page(n)` returns a page
    body, `total_pages(body)` the page count it announces; pages are numbered from `first`."""
    body = fetch_page(first)
    pages = total_pages(body)
    if pages <= 1:
        yield body
        return
    for number in range(first + pages - 1, first - 1, -1):
        yield fetch_page(number)


def unique_orders(pages, key):
    """Drop repeats (same id and modified time) that page shifting can produce; skip empty pages."""
    seen: set = set()
    for page in pages:
        out = []
        for raw in page:
            k = key(raw)
            if k not in seen:
                seen.add(k)
                out.append(raw)
        if out:
            yield out


class TokenBucket:
    """A token bucket (rate tokens per second, up to `burst`) that callers `take()` from before
    a request; it sleeps (the injected `sleep`) until a token is there. `clock` and `sleep` are
    injectable so tests run on a fake clock.

    Scope: per process. Buckets are kept in a process-wide registry keyed by (platform, account,
    operation), so every adapter instance of one seller account in a worker process shares one
    bucket; two worker processes each hold their own bucket (the platform's 429 + back-off covers
    the difference). Documented in docs/platforms-channels2.md."""

    _registry: ClassVar[dict] = {}
    _registry_lock = threading.Lock()

    def __init__(self, rate: float, burst: int, *, clock=time.monotonic, sleep=time.sleep):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst = float(rate), int(burst)
        self.clock, self.sleep = clock, sleep
        self.tokens = float(burst)
        self.updated = clock()
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, key, rate: float, burst: int, *, clock=time.monotonic, sleep=time.sleep) -> TokenBucket:
        with cls._registry_lock:
            bucket = cls._registry.get(key)
            if bucket is None or bucket.clock != clock:
                bucket = cls._registry[key] = cls(rate, burst, clock=clock, sleep=sleep)
            bucket.sleep = sleep
            return bucket

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self) -> float:
        """Take one token, waiting for it; returns the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                self._refill()
                if self.tokens >= 1:
                    self.tokens -= 1
                    return waited
                delay = (1 - self.tokens) / self.rate
                self.sleep(delay)
                waited += delay

    def drain(self) -> None:
        """The platform said 429: assume the bucket is empty now."""
        with self._lock:
            self._refill()
            self.tokens = min(self.tokens, 0.0)


def token_cache_key(platform: str, *parts) -> str:
    """Cache key of an access token: per platform and credential, never the secret itself."""
    import hashlib

    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]
    return f"oms:token:{platform}:{digest}"
