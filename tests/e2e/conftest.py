"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server.

Skipped with the reason when playwright or /usr/bin/chromium is missing; with
OMS_REQUIRE_SERVICES=1 that is a failure instead (CI must run them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import factories
from tests.logistics.conftest import (  # noqa: F401  (the carrier sandbox and allocated orders, reused)
    _fast_backoff,
    accounts,
    make_order,
    rates,
    sandbox,
    warehouse,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]


def _missing() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; no browser download needed)"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return ""


@pytest.fixture(scope="session")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("OMS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"OMS_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                  base_url=live_server.url)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


@pytest.fixture
def shots():
    folder = Path(os.environ.get("CI_SCREENSHOTS", "test-artifacts/screenshots"))
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str):
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shot


@pytest.fixture
def shop(tenant, warehouse):  # noqa: F811
    """A hand-made-orders shop: no marketplace to confirm shipments to (eager tasks stay offline)."""
    return factories.ShopFactory(tenant=tenant, name="线下渠道", platform="manual")


@pytest.fixture(autouse=True)
def _carriers(transactional_db):
    """Another transactional test may have flushed the carrier reference rows the migrations seed."""
    from importlib import import_module

    from django.apps import apps

    from logistics.models import Carrier

    if not Carrier.objects.exists():
        import_module("logistics.migrations.0002_seed_carriers").seed(apps, None)
