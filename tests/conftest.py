"""Shared fixtures. Tests that need PostgreSQL or Redis are marked; without those services
they are skipped with the reason, and with OMS_REQUIRE_SERVICES=1 such a skip is a failure."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from tests import factories


def _postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def _redis_ok() -> bool:
    if not settings.REDIS_URL:
        return False
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


def _require(reason: str) -> None:
    if settings.OMS_REQUIRE_SERVICES:
        pytest.fail(f"OMS_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _services(request):
    if request.node.get_closest_marker("postgres") and not _postgres():
        _require("needs PostgreSQL: set DATABASE_URL=postgres://... (running on SQLite)")
    if request.node.get_closest_marker("redis") and not _redis_ok():
        _require("needs Redis: set REDIS_URL=redis://... and start redis-server")


def pytest_sessionfinish(session, exitstatus):
    # In CI nothing may be skipped: a skip there hides a missing service.
    if os.environ.get("OMS_REQUIRE_SERVICES") == "1":
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
        if skipped and session.exitstatus == 0:
            session.exitstatus = 1
            if reporter:
                reporter.write_line(f"OMS_REQUIRE_SERVICES=1: {skipped} test(s) skipped -> failing the run", red=True)


@pytest.fixture
def tenant(db):
    return factories.TenantFactory(name="一个服装店", slug="shop-a")


@pytest.fixture
def other_tenant(db):
    return factories.TenantFactory(name="另一个租户", slug="shop-b")


@pytest.fixture
def owner(tenant):
    return factories.member(tenant, "owner")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client
