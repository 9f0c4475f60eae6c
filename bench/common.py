"""Shared set-up of the benchmarks: a dedicated PostgreSQL database, Django configured for it.

The benchmarks never run in the test suite. They print `name: ours; baseline: theirs; ratio: r`
lines, the baseline measured in the same run on the same machine.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oms_bench")
_ready = False


def setup() -> None:
    """Point Django at the benchmark database (created and migrated on first use)."""
    global _ready
    if _ready:
        return
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = BENCH_DB_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    os.environ.setdefault("OMS_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("DEBUG", "0")  # production settings: no per-query debug recording
    import psycopg

    dbname = BENCH_DB_URL.rsplit("/", 1)[1]
    admin_url = BENCH_DB_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            conn.execute(f'CREATE DATABASE "{dbname}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _ready = True


@contextmanager
def timer():
    box = {}
    t0 = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - t0


def line(name: str, ours: float, unit: str, base_name: str, base: float, extra: str = "") -> str:
    ratio = ours / base if base else float("nan")
    text = f"{name}: {ours:.0f} {unit}; {base_name}: {base:.0f} {unit.split(' ')[-1]}; ratio: {ratio:.2f}"
    return text + (f"; {extra}" if extra else "")


@contextmanager
def throwaway_database(name: str):
    """Django configured for a fresh PostgreSQL database `<BENCH_DB_PREFIX><name>` (default prefix
    oms_bench_), created and migrated through Django's test-database utilities and dropped at the
    end. The server comes from BENCH_DATABASE_URL, else DATABASE_URL, else the default bench server. Yields the database's URL
    (for worker processes), or None when the server is not PostgreSQL."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
                                  or BENCH_DB_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    os.environ.setdefault("OMS_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("DEBUG", "0")  # production settings: no per-query debug recording
    import django

    django.setup()
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        yield None
        return
    db_name = os.environ.get("BENCH_DB_PREFIX", "oms_bench_") + name
    db.setdefault("TEST", {})["NAME"] = db_name
    from urllib.parse import quote

    from django.test.utils import setup_databases, teardown_databases

    old = setup_databases(verbosity=0, interactive=False, serialized_aliases=())  # no test-case rollbacks here
    url = (f"postgres://{quote(db['USER'] or '')}{':' + quote(db['PASSWORD']) if db['PASSWORD'] else ''}"
           f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db_name}")
    try:
        yield url
    finally:
        from django.db import connections

        connections.close_all()
        teardown_databases(old, verbosity=0)


def start_worker(*, database_url: str, queue: str, concurrency: int = 4, pool: str = "threads",
                 extra_env: dict | None = None, log_name: str = "worker"):
    """A real Celery worker process for a benchmark, consuming `queue` (through REDIS_URL) and
    working on `database_url`; returns the Popen once it answers a ping. Stop it with stop_worker."""
    import shutil
    import socket
    import subprocess

    from oms.celery import app

    var = Path(os.environ["OMS_VAR_DIR"])
    var.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", "DEBUG": "0",
           "DJANGO_SETTINGS_MODULE": "bench.settings", "BENCH_QUEUE": queue, **(extra_env or {})}
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    name = f"bench-{queue}@{socket.gethostname()}"
    log = var / f"{log_name}-{os.getpid()}.log"
    proc = subprocess.Popen([celery, "-A", "oms", "worker", "-P", pool, "-c", str(concurrency), "-Q", queue,
                             "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat",
                             "-n", name], cwd=str(ROOT), env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited: {log.read_text()[-2000:]}")
        if app.control.ping(timeout=0.5, destination=[name]):
            return proc
    stop_worker(proc)
    raise RuntimeError("celery worker did not answer a ping within 60 s")


def stop_worker(proc, *, purge_queue: str | None = None) -> None:
    """Stop a worker from start_worker (if it started) and, given its queue, drop what it left
    queued, so the next benchmark starts from an empty queue."""
    import subprocess

    if proc is not None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if purge_queue:
        from oms.celery import app

        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(purge_queue)


def use_queue(queue: str) -> None:
    """Send this process's tasks to `queue` and prefix its cache keys with it, as the workers
    started by start_worker do (bench/settings.py)."""
    from django.conf import settings
    from django.core.cache import caches

    from oms.celery import app

    app.conf.task_default_queue = queue
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        settings.CACHES["default"]["KEY_PREFIX"] = queue
        caches["default"].key_prefix = queue
