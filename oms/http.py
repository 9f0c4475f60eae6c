"""The outbound HTTP machinery every adapter shares (marketplaces, carriers, SMS): one
requests.Session per account, explicit timeouts, retries with exponential backoff and jitter on
connection errors, timeouts, 5xx, 429 and provider throttling (honouring Retry-After), and no
retry on errors that cannot succeed.

Each app keeps its own error classes (what the rest of that app catches); it tells the loop how
to turn a transport failure or an HTTP status into one of them, and which of them are worth
another try.
"""

from __future__ import annotations

import logging
import random
import time
from typing import ClassVar

import requests

logger = logging.getLogger(__name__)


def retry_after_seconds(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class RetryingHttp:
    """Mix into an adapter that sets `self.session` and `self._sleep` (see init_http)."""

    timeout: ClassVar[tuple[float, float]] = (5.0, 30.0)  # connect, read
    max_attempts: ClassVar[int] = 5
    backoff_base: ClassVar[float] = 0.5
    backoff_cap: ClassVar[float] = 30.0

    def init_http(self, *, session: requests.Session | None = None, sleep=time.sleep) -> None:
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "oms/0.1")
        self._sleep = sleep
        self.requests_made = 0
        self.delays: list[float] = []

    # ---- what each app decides ------------------------------------------------------------
    def network_error(self, exc: Exception) -> Exception:
        """A connection error or timeout, as the app's (retryable) error."""
        raise NotImplementedError

    def status_error(self, resp: requests.Response) -> Exception | None:
        """The app's error for an HTTP status that is not a success (None: let `check` read it)."""
        raise NotImplementedError

    def should_retry(self, exc: Exception) -> bool:
        return bool(getattr(exc, "retryable", False))

    def log_retry(self, attempt: int, delay: float, exc: Exception) -> None:
        logger.info("retry %d after %.2fs: %s", attempt, delay, getattr(exc, "code", "") or type(exc).__name__)

    def current_backoff_base(self) -> float:
        return self.backoff_base

    # ---- the loop -----------------------------------------------------------------------------
    def request(self, method: str, url: str, *, check=None, prepare=None, **kwargs) -> requests.Response:
        """One call with retries. `prepare()` returns fresh request kwargs per attempt (signatures
        with timestamps or nonces are redone); `check(resp)` reads the answer and raises the app's
        errors; errors that `should_retry` refuses propagate at once."""
        last_exc: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            call_kwargs = prepare() if prepare else dict(kwargs)
            call_kwargs.setdefault("timeout", self.timeout)
            try:
                self.requests_made += 1
                resp = self.session.request(method, url, **call_kwargs)
                error = self.status_error(resp)
                if error is not None:
                    raise error
                if check is not None:
                    check(resp)
                return resp
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_exc = self.network_error(exc)
            except Exception as exc:
                if not self.should_retry(exc):
                    raise
                last_exc = exc
            if attempt == self.max_attempts:
                break
            retry_after = getattr(last_exc, "retry_after", None)
            delay = retry_after if retry_after is not None else min(
                self.backoff_cap, self.current_backoff_base() * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            self.delays.append(delay)
            self.log_retry(attempt, delay, last_exc)
            self._sleep(delay)
        assert last_exc is not None
        raise last_exc
