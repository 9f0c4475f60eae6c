"""Pieces the REST-style sandbox fakes (Amazon, Shopify, WooCommerce, Douyin) share: the request
object the server hands them, issued access tokens, and a server-side rate limiter on the
sandbox's clock. Written independently of the adapters they test."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime


class Request(dict):
    """The query parameters (a dict, so the request log records them) plus the HTTP details."""

    def __init__(self, query: dict, *, method: str, path: str, headers: dict, body: bytes):
        super().__init__(query)
        self.method = method
        self.path = path  # below the platform prefix, e.g. "/orders/v0/orders"
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def json(self):
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


def issue_token(state, platform: str, account_key: str, ttl: int) -> str:
    token = f"{platform[:2]}-{secrets.token_hex(12)}"
    with state.lock:
        state.extra.setdefault("tokens", {})[token] = (platform, account_key, state.clock() + ttl)
    return token


def token_owner(state, platform: str, token: str) -> tuple[str | None, bool]:
    """(account_key, expired) of an access token; (None, False) for an unknown token."""
    with state.lock:
        entry = state.extra.get("tokens", {}).get(token)
    if entry is None or entry[0] != platform:
        return None, False
    return entry[1], state.clock() >= entry[2]


def expire_tokens(state, platform: str, account_key: str | None = None) -> int:
    """Expire every issued token of `platform` (of one account if given): the next API call with
    one of them is answered "expired"."""
    n = 0
    with state.lock:
        tokens = state.extra.get("tokens", {})
        for token, (p, acc, _exp) in list(tokens.items()):
            if p == platform and account_key in (None, acc):
                tokens[token] = (p, acc, state.clock() - 1)
                n += 1
    return n


class Limiter:
    """Server-side token bucket on the sandbox's clock: what the real platform's usage plan does."""

    def __init__(self, rate: float, burst: int, now: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = float(burst), now

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1 - 1e-9:
            self.tokens -= 1
            return True
        return False


def limiter(state, key, rate: float, burst: int) -> Limiter:
    with state.lock:
        limiters = state.extra.setdefault("limiters", {})
        if key not in limiters:
            limiters[key] = Limiter(rate, burst, state.clock())
        return limiters[key]


def iso_z(dt: datetime | None) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else ""


def parse_iso(value: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else None
