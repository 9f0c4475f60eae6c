"""Errors and the HTTP machinery shared by message providers.

The same pattern as channels.adapters.base (explicit timeouts, retries with exponential backoff
and jitter on connection errors, timeouts, 5xx and 429 honouring Retry-After, no retry on errors
that cannot succeed), kept here because notifications may not import channels. A provider's
business error (HTTP 200 with an error code) is never retried inside the call: the outbox
decides, with minutes of backoff, from `retryable`.
"""

from __future__ import annotations

import logging
import random
import time
from typing import ClassVar

import requests

logger = logging.getLogger(__name__)


class SendError(Exception):
    """A message could not be sent. `retryable`: trying again later may succeed."""

    retryable = True

    def __init__(self, message: str, *, code: str = "", retryable: bool | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable


class PermanentError(SendError):
    """Retrying the same message cannot succeed (illegal number, bad template, bad credentials)."""

    retryable = False


class TransientError(SendError):
    """5xx, timeouts, throttling: try again later."""

    retryable = True


class HttpClient:
    """One provider account's HTTP session with the retry loop."""

    timeout: ClassVar[tuple[float, float]] = (5.0, 15.0)  # connect, read
    max_attempts: ClassVar[int] = 3
    backoff_base: ClassVar[float] = 0.5
    backoff_cap: ClassVar[float] = 10.0
    name: ClassVar[str] = "provider"

    def __init__(self, *, session: requests.Session | None = None, sleep=time.sleep, log_ref: str = ""):
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "oms/0.1")
        self._sleep = sleep
        self.log_ref = log_ref  # "tenant=1 notification=2": what a log line may name
        self.requests_made = 0
        self.delays: list[float] = []

    def request(self, method: str, url: str, *, prepare, check) -> requests.Response:
        """`prepare()` returns fresh request kwargs per attempt (a new nonce and timestamp are
        signed each time); `check(response)` raises SendError subclasses for business errors."""
        last_exc: SendError | None = None
        for attempt in range(1, self.max_attempts + 1):
            call_kwargs = prepare()
            call_kwargs.setdefault("timeout", self.timeout)
            retry_after = None
            try:
                self.requests_made += 1
                resp = self.session.request(method, url, **call_kwargs)
                if resp.status_code == 429 or resp.status_code >= 500:
                    retry_after = _retry_after(resp)
                    raise TransientError(f"HTTP {resp.status_code} from {self.name}", code=str(resp.status_code),
                                         retry_after=retry_after)
                check(resp)
                return resp
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_exc = TransientError(f"{type(exc).__name__} talking to {self.name}", code="network")
            except TransientError as exc:
                if exc.code in ("network",) or exc.code.isdigit():
                    last_exc = exc
                    retry_after = exc.retry_after
                else:  # a business-level transient error: the outbox backs off (minutes, not seconds)
                    raise
            if attempt == self.max_attempts:
                break
            delay = retry_after if retry_after is not None else min(
                self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            self.delays.append(delay)
            logger.info("%s %s retry %d after %.2fs: %s", self.log_ref, self.name, attempt, delay, last_exc.code)
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
