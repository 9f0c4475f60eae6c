"""Benchmark: one hot SKU hammered by 8 worker processes on PostgreSQL.

Compares inventory.services.stock_reserve_order (the real path: conditional UPDATE, reservation
row, ledger row, on-commit stock_changed with its receivers) against a bare conditional
`UPDATE ... SET reserved = reserved + 1 WHERE id=%s AND on_hand - reserved >= 1` loop with the
same concurrency, in the same run, each racing until the stock is gone (or a time cap).
Prints one line: `hot_sku: N reservations/s; raw UPDATE: M/s; ratio: R; oversold: K`.

Needs DATABASE_URL=postgres://...; works in its own throw-away database oms_bench_hot_sku (created and
dropped through Django's test-database utilities). Not part of the test run.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

THREADS = 8
SERVICE_STOCK = 2500
RAW_STOCK = 8000
TIME_CAP_S = 20.0

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
os.environ.setdefault("DEBUG", "0")  # production settings: no per-query debug recording


def _worker_main(worker, idx: int, barrier, deadline, results) -> None:
    from django.db import connection

    connection.close()  # never share the parent's socket: open our own
    count = 0
    try:
        barrier.wait()
        while time.time() < deadline.value and worker(idx, count):
            count += 1
        results.put((idx, count, ""))
    except BaseException as exc:  # reported to the parent
        results.put((idx, count, repr(exc)))
    finally:
        connection.close()


def _race(worker, n_workers: int) -> tuple[int, float]:
    """Start n worker processes at once (processes, not threads: the GIL would otherwise stretch
    the time a row lock is held); each calls worker(idx, n) until it returns False or the time
    cap. -> (successes, seconds)."""
    import multiprocessing as mp

    from django.db import connections

    connections.close_all()
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(n_workers + 1)
    deadline = ctx.Value("d", time.time() + 3600)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker_main, args=(worker, i, barrier, deadline, results)) for i in range(n_workers)]
    for p in procs:
        p.start()
    deadline.value = time.time() + TIME_CAP_S
    start = time.monotonic()
    barrier.wait()
    got = [results.get(timeout=TIME_CAP_S + 60) for _ in procs]
    elapsed = time.monotonic() - start
    for p in procs:
        p.join()
    failures = [err for _i, _n, err in got if err]
    if failures:
        raise RuntimeError(failures[0])
    return sum(n for _i, n, _e in got), elapsed


def _measure() -> str:
    from django.db import connection

    from inventory import services
    from inventory.models import Sku, StockLevel, Warehouse
    from oms.models import Tenant

    tenant = Tenant.objects.create(name="bench", slug="bench-hot-sku")
    wh = Warehouse.objects.create(tenant=tenant, code="B1", name="bench", province="浙江省")
    hot = Sku.objects.create(tenant=tenant, code="HOT", name="hot")
    raw = Sku.objects.create(tenant=tenant, code="RAW", name="raw")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=hot.pk, quantity=SERVICE_STOCK)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=raw.pk, quantity=RAW_STOCK)
    raw_level_id = StockLevel.objects.get(sku=raw).pk
    connection.close()

    def reserve(idx: int, n: int) -> bool:
        order_id = (idx + 1) * 10_000_000 + n
        return services.stock_reserve_order(tenant_id=tenant.pk, order_id=order_id,
                                            lines=[{"line_id": 1, "sku_id": hot.pk, "quantity": 1}])

    def raw_update(idx: int, n: int) -> bool:
        with connection.cursor() as cur:
            cur.execute("UPDATE inventory_stocklevel SET reserved = reserved + 1 "
                        "WHERE id = %s AND on_hand - reserved >= 1", [raw_level_id])
            return cur.rowcount == 1

    done, secs = _race(reserve, THREADS)
    raw_done, raw_secs = _race(raw_update, THREADS)

    hot_level = StockLevel.objects.get(sku=hot)
    raw_level = StockLevel.objects.get(pk=raw_level_id)
    oversold = max(0, hot_level.reserved - hot_level.on_hand) + max(0, raw_level.reserved - raw_level.on_hand)
    oversold += abs(hot_level.reserved - done)  # every success is a reserved unit, no more, no less
    logging.disable(logging.WARNING)  # the raw loop bypasses the ledger on purpose: do not log that drift
    try:
        drift = [d for d in services.stock_reconcile(tenant_id=tenant.pk) if d.sku_id == hot.pk]
    finally:
        logging.disable(logging.NOTSET)
    rate, raw_rate = done / secs, raw_done / raw_secs
    line = (f"hot_sku: {rate:.0f} reservations/s; raw UPDATE: {raw_rate:.0f}/s; "
            f"ratio: {rate / raw_rate:.2f}; oversold: {oversold}")
    if drift:
        line += f"; ledger drift: {len(drift)}"
    return line


def run() -> list[str]:
    import django

    django.setup()
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return ["hot_sku: skipped (needs PostgreSQL: set DATABASE_URL=postgres://...)"]
    db.setdefault("TEST", {})["NAME"] = "oms_bench_hot_sku"
    db["CONN_MAX_AGE"] = 0

    from django.test.utils import setup_databases, teardown_databases

    old = setup_databases(verbosity=0, interactive=False)
    try:
        return [_measure()]
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    for out in run():
        print(out)
