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
