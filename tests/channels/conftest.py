"""Fixtures for the channel adapter tests: a live sandbox on loopback and adapters pointed at it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels.adapters.base import get_adapter
from channels.models import Shop
from channels.sandbox import SandboxServer

CN_TZ = ZoneInfo("Asia/Shanghai")

CREDENTIALS = {
    "taobao": {"app_key": "tb-app-1", "app_secret": "tb-secret-1", "session": "tb-session-1"},
    "jd": {"app_key": "jd-app-1", "app_secret": "jd-secret-1", "access_token": "jd-token-1"},
    "pdd": {"client_id": "pdd-client-1", "client_secret": "pdd-secret-1", "access_token": "pdd-token-1"},
}
ACCOUNT_KEYS = {"taobao": "tb-app-1", "jd": "jd-app-1", "pdd": "pdd-client-1"}


@pytest.fixture
def sandbox():
    server = SandboxServer().start()
    for platform, creds in CREDENTIALS.items():
        server.state.add_account(platform, creds)
    try:
        yield server
    finally:
        server.stop()


class SleepRecorder:
    """Stands in for time.sleep: records the delays the adapter asked for, sleeps not at all."""

    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def make_adapter(sandbox):
    def make(platform: str, *, credentials: dict | None = None, page_size: int | None = None, **kwargs):
        shop = Shop(platform=platform, name=f"{platform} test shop",
                    credentials=credentials or dict(CREDENTIALS[platform]),
                    api_base_url=f"{sandbox.url}/{platform}")
        adapter = get_adapter(shop, sleep=kwargs.pop("sleep", None) or SleepRecorder(), **kwargs)
        if page_size:
            adapter.page_size = page_size
        return adapter

    return make


@pytest.fixture
def window():
    """A 50-minute window that ended 5 minutes ago (PDD lists nothing newer than now - 3 min)."""
    end = datetime.now(CN_TZ).replace(microsecond=0) - timedelta(minutes=5)
    return end - timedelta(minutes=50), end
