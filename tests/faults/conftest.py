"""Fault injection: what the tests here share -- the books check run after every fault, the
marketplace sandbox, and real Celery worker processes that a test can SIGKILL and start again,
against the test Redis or a private redis-server the test may kill and restart."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.db.models import Sum

from inventory.models import Reservation, ReservationStatus, StockLevel
from inventory.services import stock_reconcile
from orders.models import OrderLine
from tests.channels.conftest import sandbox  # noqa: F401  (the marketplace sandbox, for the tests here)
from tests.helpers import database_url, free_port, stop_process, venv_bin


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll until `predicate()` is true; fail with `what` after `timeout` seconds (a bound, never a speed claim)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"gave up after {timeout:.0f} s waiting for: {what}")


def assert_books_balance(tenant_id: int) -> None:
    """No reservation doubled, none lost: every level equals its ledger, the reserved figure of
    every level equals its active reservations, and no order line holds more than it ordered."""
    drifts = stock_reconcile(tenant_id=tenant_id)
    assert drifts == [], f"stock levels drift from the ledger: {drifts}"
    active = {(r["warehouse_id"], r["sku_id"]): r["q"] for r in Reservation.objects.filter(
        tenant_id=tenant_id, status=ReservationStatus.ACTIVE).values("warehouse_id", "sku_id").annotate(q=Sum("quantity"))}
    reserved = {(lv.warehouse_id, lv.sku_id): lv.reserved
                for lv in StockLevel.objects.filter(tenant_id=tenant_id, reserved__gt=0)}
    assert reserved == active, "reserved stock differs from the active reservations"
    held: dict[int, int] = defaultdict(int)
    for r in Reservation.objects.filter(tenant_id=tenant_id).exclude(status=ReservationStatus.RELEASED):
        held[r.line_id] += r.quantity
    ordered = dict(OrderLine.objects.filter(tenant_id=tenant_id, pk__in=list(held)).values_list("pk", "quantity"))
    doubled = {line: (qty, ordered.get(line)) for line, qty in held.items() if qty > (ordered.get(line) or 0)}
    assert not doubled, f"order lines holding more than they ordered (held, ordered): {doubled}"


class RedisServer:
    """A private redis-server on a free loopback port, with its data in `folder` (append-only
    file, fsync always): killing and restarting it is a real Redis restart that keeps what a
    production Redis with AOF keeps. Never the machine's Redis."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (needed for the Redis restart test)")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        def up():
            try:
                return redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
            except redis.RedisError:
                return False

        wait_for(up, timeout=20, what=f"private redis-server on port {self.port} to answer")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.proc, timeout=10)


class Worker:
    """A real `celery worker` process (threads pool) on the test database and the given Redis,
    consuming the test queue. `kill()` is a SIGKILL: no shutdown, no acknowledgement, no cleanup."""

    count = 0

    def __init__(self, settings, *, redis_url: str):
        Worker.count += 1
        self.settings = settings
        self.redis_url = redis_url
        self.queue = settings.CELERY_TASK_DEFAULT_QUEUE
        self.name = f"faults-{os.getpid()}-{Worker.count}@{socket.gethostname()}"
        self.log = Path(settings.VAR_DIR) / f"faults-worker-{os.getpid()}-{Worker.count}.log"
        # a client of the same broker, for sending tasks and pinging (the test process's own
        # Celery app stays as configured)
        self.client = Celery("oms-faults-client", broker=redis_url, backend=redis_url, set_as_current=False)
        self.client.conf.update(task_default_queue=self.queue, task_serializer="json", accept_content=["json"],
                                result_serializer="json", broker_connection_retry_on_startup=True)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        env = dict(os.environ, DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="oms.settings_test",
                   OMS_VAR_DIR=str(self.settings.VAR_DIR), REDIS_URL=self.redis_url, PYTHONUNBUFFERED="1")
        celery = venv_bin("celery")
        self.proc = subprocess.Popen(
            [celery, "-A", "oms", "worker", "-P", "threads", "-c", "2", "-Q", self.queue, "-l", "info",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", self.name],
            env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)

        def answers():
            if self.proc.poll() is not None:
                pytest.fail(f"celery worker exited: {self.log.read_text()[-2000:]}")
            try:
                return bool(self.client.control.ping(timeout=0.5, destination=[self.name]))
            except Exception:  # noqa: BLE001  (a broker that just restarted: ask again)
                return False

        wait_for(answers, timeout=60, what="the celery worker to answer a ping")
        return self

    def send(self, task: str, *args):
        return self.client.send_task(task, args=list(args), queue=self.queue)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.proc)
        if os.environ.get("OMS_SHOW_WORKER_LOG"):
            print(self.log.read_text())

    def tail(self) -> str:
        return self.log.read_text()[-3000:]


@pytest.fixture
def workers(transactional_db, settings):
    """Start real workers with `workers(redis_url=...)` (default: the test Redis); every one
    still alive at the end is stopped."""
    from django.conf import settings as django_settings

    if connection.vendor != "postgresql" or not django_settings.REDIS_URL:
        pytest.fail("a real worker needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)")
    started: list[Worker] = []

    def start(*, redis_url: str | None = None) -> Worker:
        worker = Worker(settings, redis_url=redis_url or django_settings.REDIS_URL)
        if not started:
            worker.client.control.purge()
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
        worker.client.close()
