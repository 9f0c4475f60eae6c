"""Shared fixtures and helpers of the Channels II tests (Amazon, Shopify, WooCommerce, Douyin, push)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels.adapters.base import get_adapter
from channels.models import Shop
from channels.sandbox import SandboxServer
from tests.helpers import clear_cache

from .conftest import CREDENTIALS as CREDENTIALS1
from .conftest import SleepRecorder

CN_TZ = ZoneInfo("Asia/Shanghai")
CREDENTIALS2 = {
    "amazon": {"client_id": "amzn-client-1", "client_secret": "amzn-secret-1", "refresh_token": "Atzr|refresh-1",
               "seller_id": "A1SELLER", "marketplace_ids": "ATVPDKIKX0DER"},
    "shopify": {"shop_domain": "oms-test.myshopify.com", "access_token": "shpat_test_1",
                "webhook_secret": "shp-webhook-secret-1"},
    "woocommerce": {"consumer_key": "ck_test_1", "consumer_secret": "cs_test_1"},
    "douyin": {"app_key": "dy-app-1", "app_secret": "dy-secret-1", "shop_id": "7000001"},
}
ACCOUNT_KEYS2 = {"amazon": "amzn-client-1", "shopify": "oms-test.myshopify.com", "woocommerce": "ck_test_1",
                 "douyin": "dy-app-1"}
PLATFORMS2 = ("amazon", "shopify", "woocommerce", "douyin")


class FakeClock:
    """A clock that only moves when someone sleeps: shared by the adapter's token bucket, its
    sleep and the sandbox (which stamps its request log with it)."""

    def __init__(self, start: float | None = None):
        self.now = start if start is not None else time.time()
        self.lock = threading.Lock()
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)


@pytest.fixture
def sandbox2():
    clear_cache()
    server = SandboxServer().start()
    for platform, creds in {**CREDENTIALS1, **CREDENTIALS2}.items():
        server.state.add_account(platform, creds)
    try:
        yield server
    finally:
        server.stop()
        clear_cache()


def adapter_for(sandbox, platform: str, *, credentials: dict | None = None, page_size: int | None = None,
                shop: Shop | None = None, **kwargs):
    creds = credentials or dict({**CREDENTIALS1, **CREDENTIALS2}[platform])
    if platform == "pdd":
        creds.setdefault("message_url", sandbox.ws_url)
    shop = shop or Shop(platform=platform, name=f"{platform} test shop", credentials=creds,
                        api_base_url=f"{sandbox.url}/{platform}")
    if platform == "shopify" and "sleep" not in kwargs:  # the fake's leaky bucket leaks on the adapter's time
        fake = getattr(sandbox, "fake_clock", None) or FakeClock()
        sandbox.fake_clock = fake
        sandbox.state.clock = fake.time
        recorder = SleepRecorder()

        def sleep(seconds):
            fake.sleep(seconds)
            recorder(seconds)

        adapter = get_adapter(shop, sleep=sleep, **kwargs)
        adapter._sleep.calls = recorder.calls
    elif platform == "amazon" and "clock" not in kwargs:  # its token bucket must not wait for real time
        fake = getattr(sandbox, "fake_clock", None) or FakeClock()
        sandbox.fake_clock = fake
        sandbox.state.clock = fake.time  # the fake's usage-plan buckets run on the same clock
        kwargs["clock"] = fake.time
        recorder = kwargs.pop("sleep", None) or SleepRecorder()

        def sleep(seconds):
            fake.sleep(seconds)
            recorder(seconds)

        adapter = get_adapter(shop, sleep=sleep, **kwargs)
        adapter._sleep.calls = recorder.calls if hasattr(recorder, "calls") else []
    else:
        adapter = get_adapter(shop, sleep=kwargs.pop("sleep", None) or SleepRecorder(), **kwargs)
    if page_size:
        adapter.page_size = page_size
    return adapter


def window(minutes: int = 50, lag: int = 5):
    end = datetime.now(CN_TZ).replace(microsecond=0) - timedelta(minutes=lag)
    return end - timedelta(minutes=minutes), end


def fetch_all(adapter, start, end) -> list[dict]:
    return [o for page in adapter.fetch_orders(start, end) for o in page]
