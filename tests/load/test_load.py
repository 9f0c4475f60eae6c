"""Load: 50 concurrent logged-in ops users against gunicorn + PostgreSQL on loopback.

The data is committed (transactional_db) in the test database, gunicorn serves it from a
subprocess on a free loopback port, and locust (headless, its own process) runs 50 users for
LOAD_SECONDS. Asserted: no failed request (every page 200, the right order on its page, no other
tenant's order anywhere) and every user logged in and saw its own tenant's orders. The p95 is
printed and written to test-artifacts/load.txt -- reported, never asserted (a shared CI machine)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

from tests import factories
from tests.helpers import database_url, free_port, stop_process, venv_bin

pytestmark = pytest.mark.postgres

USERS = 50
TENANTS = 5
ORDERS_PER_TENANT = 60
SECONDS = int(os.environ.get("LOAD_SECONDS", "25"))
STATUSES = ["pending_review", "on_hold", "approved", "allocated", "shipped", "cancelled"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _data(tmp_path: Path) -> Path:
    users = []
    for t in range(1, TENANTS + 1):
        tenant = factories.TenantFactory(name=f"压测租户{t}", slug=f"load-{t}")
        shop = factories.ShopFactory(tenant=tenant, name=f"压测店铺{t}")
        orders = [factories.OrderFactory(tenant=tenant, shop=shop, platform_order_id=f"LT{t}-{n:05d}",
                                         status=STATUSES[n % len(STATUSES)])
                  for n in range(ORDERS_PER_TENANT)]
        for o in orders[:20]:
            factories.OrderLineFactory(tenant=tenant, order=o)
        for u in range(USERS // TENANTS):
            user = factories.member(tenant, "ops", username=f"load{t}-ops{u}")
            users.append({"username": user.username, "password": "pw-123456", "marker": t,
                          "orders": [[o.pk, o.platform_order_id] for o in orders]})
    path = tmp_path / "users.json"
    path.write_text(json.dumps(users))
    return path


@pytest.fixture
def gunicorn(transactional_db, settings, tmp_path):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="oms.settings_test",
               OMS_VAR_DIR=str(settings.VAR_DIR), DEBUG="0", ALLOWED_HOSTS="127.0.0.1",
               SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0",
               SECURE_HSTS_SECONDS="0", PYTHONUNBUFFERED="1")
    log = tmp_path / "gunicorn.log"
    proc = subprocess.Popen(
        [venv_bin("gunicorn"), "oms.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--worker-class", "gthread", "--threads", "4", "--timeout", "60", "--access-logfile", "-"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log.read_text()[-3000:]}")
            try:
                with urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer within 60 s: {log.read_text()[-3000:]}") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


def _stats(prefix: Path) -> list[dict]:
    with open(f"{prefix}_stats.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_fifty_ops_users_browse_worklists_and_orders_without_errors(gunicorn, tmp_path):
    users_file = _data(tmp_path)
    result_file = tmp_path / "seen.json"
    prefix = tmp_path / "load"
    env = dict(os.environ, LOAD_USERS_FILE=str(users_file), LOAD_RESULT_FILE=str(result_file))
    locustfile = Path(__file__).with_name("locustfile.py")
    run = subprocess.run(
        [venv_bin("locust"), "-f", str(locustfile), "--headless", "--host", gunicorn, "--users", str(USERS),
         "--spawn-rate", "25", "--run-time", f"{SECONDS}s", "--stop-timeout", "5", "--csv", str(prefix),
         "--only-summary", "--loglevel", "WARNING"],
        env=env, capture_output=True, text=True, timeout=SECONDS + 120)

    rows = _stats(prefix)
    total = next(r for r in rows if r["Name"] == "Aggregated")
    lines = [f"load: {USERS} users, {TENANTS} tenants, {SECONDS} s against gunicorn (2 workers x 4 threads) "
             f"+ PostgreSQL on loopback",
             f"{'page':<24}{'requests':>9}{'failures':>9}{'median ms':>10}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"]
    for r in rows:
        lines.append(f"{r['Name']:<24}{r['Request Count']:>9}{r['Failure Count']:>9}{r['Median Response Time']:>10}"
                     f"{r['95%']:>8}{r['99%']:>8}{float(r['Max Response Time']):>8.0f}")
    lines.append(f"load: {float(total['Requests/s']):.1f} requests/s; p95 {total['95%']} ms; "
                 f"failures {total['Failure Count']}; machine load average {os.getloadavg()[0]:.1f} "
                 f"on {os.cpu_count()} CPUs (locust and gunicorn share them; test settings: tab counts not cached)")
    report = "\n".join(lines)
    print("\n" + report)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.txt").write_text(report + "\n")

    failures = Path(f"{prefix}_failures.csv").read_text() if Path(f"{prefix}_failures.csv").exists() else ""
    assert int(total["Failure Count"]) == 0, failures + run.stderr[-3000:]
    assert run.returncode == 0, run.stderr[-3000:]
    assert int(total["Request Count"]) > USERS * 5

    seen = json.loads(result_file.read_text())
    assert len(seen) == USERS, f"only {len(seen)} of {USERS} users started"
    for username, s in seen.items():
        assert s["logged_in"], username
        assert s["own_orders"] > 0, f"{username} saw none of its tenant's orders: {s}"
        assert s["foreign_orders"] == 0, f"{username} saw another tenant's orders: {s}"
