"""Errors and the HTTP machinery shared by message providers.

The retry loop is oms.http.RetryingHttp, shared with every other adapter (explicit timeouts,
retries with exponential backoff and jitter on connection errors, timeouts, 5xx and 429
honouring Retry-After, no retry on errors that cannot succeed). A provider's
business error (HTTP 200 with an error code) is never retried inside the call: the outbox
decides, with minutes of backoff, from `retryable`.
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

import requests

from oms.http import RetryingHttp, retry_after_seconds

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


class HttpClient(RetryingHttp):
    """One provider account's HTTP session; the retry loop is oms.http.RetryingHttp."""

    timeout: ClassVar[tuple[float, float]] = (5.0, 15.0)  # connect, read
    max_attempts: ClassVar[int] = 3
    backoff_base: ClassVar[float] = 0.5
    backoff_cap: ClassVar[float] = 10.0
    name: ClassVar[str] = "provider"

    def __init__(self, *, session: requests.Session | None = None, sleep=time.sleep, log_ref: str = ""):
        self.init_http(session=session, sleep=sleep)
        self.log_ref = log_ref  # "tenant=1 notification=2": what a log line may name

    def network_error(self, exc: Exception) -> Exception:
        return TransientError(f"{type(exc).__name__} talking to {self.name}", code="network")

    def status_error(self, resp: requests.Response) -> Exception | None:
        if resp.status_code == 429 or resp.status_code >= 500:
            return TransientError(f"HTTP {resp.status_code} from {self.name}", code=str(resp.status_code),
                                  retry_after=retry_after_seconds(resp))
        return None

    def should_retry(self, exc: Exception) -> bool:
        # transport-level trouble is retried in the call; a provider's business-level transient
        # error (throttling by code) is left to the outbox, which backs off for minutes
        return isinstance(exc, TransientError) and (exc.code == "network" or exc.code.isdigit())

    def log_retry(self, attempt: int, delay: float, exc: Exception) -> None:
        # never the phone number or the message: only the reference and the error code
        logger.info("%s %s retry %d after %.2fs: %s", self.log_ref, self.name, attempt, delay,
                    getattr(exc, "code", ""))
