"""Memory: peak RSS of a real Celery worker pulling 20k orders from the sandbox marketplace, and
its resident size after each of several such pulls (flat = nothing kept between pulls).

The fake Taobao marketplace runs in this process (over real HTTP on loopback), with PULLS
accounts of ORDERS paid orders each (spread over the last day); one shop per account. The first
pull is always ORDERS orders; when this machine is too slow to pull them all again within
BENCH_MEMORY_BUDGET seconds, the later pulls are smaller (the line then gives their sizes).
A worker process (`celery worker -P solo`, so the task runs in the process we measure) runs
channels.tasks.pull_shop for each shop in turn: archive, normalise, ingest, reserve, ledger, with
the production settings (DEBUG off). After each pull we read the worker's VmRSS, and at the end
its VmHWM (the kernel's high-water mark of the resident set).

    memory: peak RSS 212 MB pulling 20000 orders; target: 300 MB; ratio: 0.71; after pulls: 205/209/210 MB

Needs PostgreSQL and REDIS_URL (the worker's broker). Linux only (/proc).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

ORDERS = int(os.environ.get("BENCH_MEMORY_ORDERS", "20000"))
PULLS = int(os.environ.get("BENCH_MEMORY_PULLS", "3"))
TARGET_MB = 300
PULL_TIMEOUT_S = 600
BUDGET_S = float(os.environ.get("BENCH_MEMORY_BUDGET", "150"))  # seconds for all the pulls together


def _proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process, in kB."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for row in fh:
            key, _sep, value = row.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def _world(sandbox):
    from channels.models import Listing, Shop
    from channels.sandbox.generator import DEFAULT_SKUS
    from inventory import services as stock
    from inventory.models import Sku, Warehouse
    from oms.models import Tenant

    tenant = Tenant.objects.create(name="bench memory", slug="bench-memory", auto_approve=True)
    wh = Warehouse.objects.create(tenant=tenant, code="W1", name="杭州仓", province="浙江省")
    skus = {}
    for outer, _item, _sku, title, price in DEFAULT_SKUS:
        skus[outer] = Sku.objects.create(tenant=tenant, code=outer, name=title, reference_price=price)
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=skus[outer].pk, quantity=10**7)
    shops = []
    for i in range(PULLS):
        creds = {"app_key": f"mem-app-{i}", "app_secret": f"mem-secret-{i}", "session": f"mem-session-{i}"}
        sandbox.state.add_account("taobao", creds)
        shop = Shop.objects.create(tenant=tenant, platform="taobao", name=f"淘宝店{i}", credentials=creds,
                                   api_base_url=sandbox.base_url("taobao"))
        for outer, item, sku_id, _title, _price in DEFAULT_SKUS:
            Listing.objects.create(tenant=tenant, shop=shop, sku=skus[outer], platform_item_id=item,
                                   platform_sku_id=sku_id, outer_id=outer)
        shops.append(shop)
    return tenant, shops


def run() -> list[str]:
    if not os.environ.get("REDIS_URL"):
        return ["memory: skipped (needs REDIS_URL: the pulls run in a real Celery worker)"]
    if not Path("/proc/self/status").exists():
        return ["memory: skipped (needs Linux /proc)"]
    with common.throwaway_database("memory") as db_url:
        if db_url is None:
            return ["memory: skipped (needs PostgreSQL: set DATABASE_URL=postgres://...)"]
        from channels.sandbox import SandboxServer
        from channels.sandbox.generator import CN_TZ
        from orders.models import Order

        queue = f"oms-bench-memory-{os.getpid()}"
        common.use_queue(queue)
        end = datetime.now(CN_TZ).replace(microsecond=0) - timedelta(minutes=10)
        sandbox = SandboxServer().start()
        worker = None
        try:
            tenant, shops = _world(sandbox)
            worker = common.start_worker(database_url=db_url, queue=queue, pool="solo", concurrency=1,
                                         log_name="memory-worker",
                                         extra_env={"DEBUG": os.environ.get("BENCH_WORKER_DEBUG", "0")})
            from channels import tasks

            idle = _proc_status(worker.pid)["VmRSS"]
            after, sizes, seconds = [], [], []
            started = time.perf_counter()
            for i, shop in enumerate(shops):
                n = ORDERS
                if i:  # later pulls only show whether anything stays behind: shrink them to the budget
                    left = BUDGET_S - (time.perf_counter() - started)
                    n = max(1000, min(ORDERS, int(ORDERS / seconds[0] * left / (PULLS - i)) // 1000 * 1000))
                sandbox.state.generate_orders("taobao", shop.credentials["app_key"], n, start=end - timedelta(hours=20),
                                              end=end, seed=1000 + i, status="paid")
                t0 = time.perf_counter()
                result = tasks.pull_shop.delay(tenant.pk, shop.pk).get(timeout=PULL_TIMEOUT_S)
                seconds.append(time.perf_counter() - t0)
                if result.get("status") != "ok" or result.get("created") != n:
                    raise RuntimeError(f"pull of shop {shop.pk} did not create {n} orders: {result}")
                after.append(_proc_status(worker.pid)["VmRSS"])
                sizes.append(n)
            peak = _proc_status(worker.pid)["VmHWM"]
            pulled = Order.objects.filter(tenant=tenant).count()
            if pulled != sum(sizes):
                raise RuntimeError(f"{pulled} orders in the database after the pulls, expected {sum(sizes)}")
        finally:
            sandbox.stop()
            common.stop_worker(worker, purge_queue=queue)
    mb = peak / 1024
    rate = sum(sizes) / sum(seconds)
    shrunk = f" (of {'/'.join(str(n) for n in sizes)} orders)" if any(n != ORDERS for n in sizes) else ""
    return [f"memory: peak RSS {mb:.0f} MB pulling {ORDERS} orders; target: {TARGET_MB} MB; "
            f"ratio: {mb / TARGET_MB:.2f}; after pulls: {'/'.join(f'{a / 1024:.0f}' for a in after)} MB{shrunk}; "
            f"idle worker {idle / 1024:.0f} MB; {rate:.0f} orders/s pulled"]


if __name__ == "__main__":
    for text in run():
        print(text, flush=True)
