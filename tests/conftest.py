"""Shared fixtures. Tests that need PostgreSQL or Redis are marked; without those services
they are skipped with the reason, and with OMS_REQUIRE_SERVICES=1 such a skip is a failure."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from oms import rls
from tests import factories
from tests.helpers import database_url, stop_process, venv_bin


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


# --- PostgreSQL row-level security (docs/rls.md) ---------------------------------------------------
# With DATABASE_OWNER_URL the test database is created and migrated as the owner and the tests
# then run connected as the application role (DATABASE_URL), exactly as production does. The test
# process starts in the system scope (factories write any tenant's rows); requests through the
# test client and tasks in a real worker are scoped like production.
rls.set_default_scope(rls.SYSTEM)


def _owner_swap() -> dict | None:
    """Connect the default alias as the owner; returns the application role's settings, or None."""
    from django.db import connection

    owner = rls.owner_settings()
    if connection.vendor != "postgresql" or owner is None or owner["USER"] == connection.settings_dict["USER"]:
        return None
    app = {k: connection.settings_dict.get(k) for k in owner}
    connection.close()
    connection.settings_dict.update(owner)
    return app


def _reconnect(creds: dict) -> None:
    from django.db import connection

    connection.close()
    connection.settings_dict.update(creds)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings):
    """Runs before pytest-django creates the test database: create and migrate it as the owner."""
    return _owner_swap()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_modify_db_settings, django_db_blocker):
    app = django_db_modify_db_settings
    if app is None:
        yield
        return
    from django.db import connection

    with django_db_blocker.unblock():
        rls.grant_app_role(app["USER"], password=app["PASSWORD"] or "")
        with connection.cursor() as cur:  # tests only: transactional tests empty the tables with TRUNCATE
            cur.execute(f"GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO {connection.ops.quote_name(app['USER'])}")
        owner = {k: connection.settings_dict.get(k) for k in app}
        _reconnect(app)
    yield
    with django_db_blocker.unblock():
        _reconnect(owner)  # pytest-django drops the test database next: the owner's job


@pytest.fixture(autouse=True)
def _default_language():
    """A request in English must not leave the thread in English for the next test."""
    from django.utils import translation

    yield
    translation.activate(settings.LANGUAGE_CODE)


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


@pytest.fixture
def celery_worker_process(transactional_db, settings):
    """A real Celery worker process (threads pool) consuming the test queue through Redis and
    working on the test database (PostgreSQL). Tests marked postgres + redis only."""
    import subprocess
    import time
    from pathlib import Path

    from django.db import connection

    from oms.celery import app

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        _require("a real worker needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)")
    env = dict(os.environ, DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="oms.settings_test",
               OMS_VAR_DIR=str(settings.VAR_DIR), REDIS_URL=settings.REDIS_URL, PYTHONUNBUFFERED="1")
    app.control.purge()
    celery = venv_bin("celery")
    name = f"test-{os.getpid()}@%h"
    log = Path(settings.VAR_DIR) / f"worker-{os.getpid()}.log"
    proc = subprocess.Popen(
        [celery, "-A", "oms", "worker", "-P", "threads", "-c", "4", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE,
         "-l", "info", "--without-gossip", "--without-mingle", "-n", name],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited: {log.read_text()[-2000:]}")
            if app.control.ping(timeout=0.5, destination=[name.replace("%h", __import__("socket").gethostname())]):
                break
        else:
            raise RuntimeError("celery worker did not answer a ping within 60 s")
        yield proc
    finally:
        stop_process(proc)
        if os.environ.get("OMS_SHOW_WORKER_LOG"):
            print(log.read_text())
