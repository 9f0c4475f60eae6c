"""Availability push: latency and coalescing, end to end.

A real Celery worker (threads pool, Redis broker) does the pushes; the fake Taobao marketplace
(channels.sandbox, in this process, over real HTTP on loopback) records each one with the time it
arrived. Stock changes go through inventory.services (stock_adjust, stock_reserve_orders), so
the path measured is the product's: commit -> stock_changed -> channels schedule (coalescing in
Redis, 1 s debounce) -> worker -> push_listing -> adapter -> HTTP -> platform.

    push_latency: p95 1.10 s; target: 2.0 s; ratio: 0.55; median 1.03 s, max 1.14 s over 60 pushes
    push_coalescing: 0.9 pushes/s per listing at 992 changes/s; target: 2; ratio: 0.45; 75 commits/s; final value: ok (...)

Latency: LATENCY_SKUS SKUs (one listing each) are changed at once, LATENCY_ROUNDS times; each
sample is the time from the change (clock started just before its transaction, so the commit is
included) to the platform receiving that SKU's new figure.
Coalescing: DRIVERS processes place orders for one SKU (listed in COALESCE_SHOPS shops) at RATE
orders/s in total for BURST_SECONDS, each order a reservation (a change of availability) through
stock_reserve_orders; a driver commits every 50 ms the orders that fell due since its previous
commit (a page, as the ingest does; each commit sends one stock_changed). Pushes per listing per
second are counted over the burst; when it is over, the last figure each listing received must
equal the SKU's availability.
The ratio is ours / target (below 1 is inside the target). Needs PostgreSQL and REDIS_URL.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

LATENCY_SKUS = 10
LATENCY_ROUNDS = 6
RATE = int(os.environ.get("BENCH_PUSH_RATE", "1000"))  # changes per second, all drivers together
BURST_SECONDS = float(os.environ.get("BENCH_PUSH_SECONDS", "10"))
DRIVERS = 4
TICK_S = 0.05  # a driver commits at most every TICK_S: a page of the orders due, as ingest pages are
COALESCE_SHOPS = 2
LATENCY_TARGET_S = 2.0
COALESCE_TARGET = 2.0
ON_HAND = 100_000


def _timed_state():
    from channels.sandbox.state import SandboxState

    class TimedState(SandboxState):
        """Records the arrival time (epoch seconds, sub-second) of every push."""

        def record_push(self, platform, account_key, **kwargs):
            with self.lock:
                super().record_push(platform, account_key, **kwargs)
                self.pushes[-1]["t"] = time.time()

    return TimedState()


def _world(sandbox):
    from channels.models import Listing, Shop
    from inventory import services as stock
    from inventory.models import Sku, Warehouse
    from oms.models import Tenant

    tenant = Tenant.objects.create(name="bench push", slug="bench-push")
    whs = [Warehouse.objects.create(tenant=tenant, code=f"W{i}", name=f"杭州{i}号仓", province="浙江省", priority=i)
           for i in range(2)]
    shops = []
    for i in range(COALESCE_SHOPS):
        creds = {"app_key": f"bench-app-{i}", "app_secret": f"bench-secret-{i}", "session": f"bench-session-{i}"}
        sandbox.state.add_account("taobao", creds)
        shops.append(Shop.objects.create(tenant=tenant, platform="taobao", name=f"淘宝店{i}", credentials=creds,
                                         api_base_url=sandbox.base_url("taobao")))
    skus = [Sku.objects.create(tenant=tenant, code=f"LAT-{i:02d}", name=f"延迟测试商品{i}")
            for i in range(LATENCY_SKUS)]
    hot = Sku.objects.create(tenant=tenant, code="HOT", name="爆款")
    listings = {}
    for sku in [*skus, hot]:
        for w in (whs if sku is hot else whs[:1]):
            stock.stock_receive(tenant_id=tenant.pk, warehouse_id=w.pk, sku_id=sku.pk, quantity=ON_HAND)
        for shop in (shops if sku is hot else shops[:1]):
            listing = Listing.objects.create(tenant=tenant, shop=shop, sku=sku, platform_item_id=f"6{sku.pk:011d}",
                                             platform_sku_id=f"5{shop.pk:03d}{sku.pk:08d}", outer_id=sku.code)
            listings.setdefault(sku.pk, []).append(listing)
    return tenant, whs, skus, hot, listings


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _pushes_for(sandbox, listing) -> list[dict]:
    with sandbox.state.lock:
        return [p for p in sandbox.state.pushes if p["sku_id"] == listing.platform_sku_id]


def _latency(sandbox, tenant, wh, skus, listings) -> list[float]:
    from channels import services as channel_services
    from inventory import services as stock

    samples = []
    rng = random.Random(7)
    time.sleep(1.5)  # let the set-up's own pushes land first
    for _round in range(LATENCY_ROUNDS):
        expected = {}
        for sku in skus:
            # the clock starts before the change's transaction (stock_adjust owns it and returns
            # after its on-commit receivers): a little pessimistic, never flattering
            committed = time.time()
            stock.stock_adjust(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, delta=-rng.randint(1, 5))
            listing = listings[sku.pk][0]
            qty = channel_services.sku_channel_availability(shop=listing.shop, sku_id=sku.pk).quantity
            expected[sku.pk] = (listing, qty, committed)
        for listing, qty, committed in expected.values():
            def arrived(listing=listing, qty=qty, committed=committed):
                return [p for p in _pushes_for(sandbox, listing) if p["quantity"] == qty and p["t"] >= committed]

            if not _wait(arrived, 30):
                raise RuntimeError(f"no push of {qty} for listing {listing.pk} within 30 s")
            samples.append(arrived()[0]["t"] - committed)
    return samples


def _drive(tenant_id: int, sku_id: int, idx: int, start_at: float, seconds: float, per_second: float,
           results) -> None:
    """One driver process: orders reserving the hot SKU at a steady pace, through
    inventory.services.stock_reserve_orders (the bulk ingest's path: a reservation and a ledger
    row per order). Every TICK_S (or later, when the machine is slower) one commit carries the
    orders that fell due since the previous one, as an ingest page does."""
    from django.db import connection

    from inventory import services as stock

    connection.close()
    rng = random.Random(idx)
    done = commits = 0
    last = 0.0
    total = int(seconds * per_second)
    try:
        while time.time() < start_at:
            time.sleep(0.001)
        while done < total:
            now = time.time()
            if commits and now < last + TICK_S:
                time.sleep(last + TICK_S - now)
                continue
            due = min(int((now - start_at) * per_second) + 1, total) - done
            if due <= 0:
                time.sleep(0.001)
                continue
            last = now
            base = (idx + 1) * 100_000_000 + done
            stock.stock_reserve_orders(tenant_id=tenant_id, orders=[
                {"order_id": base + k, "lines": [{"line_id": 1, "sku_id": sku_id, "quantity": rng.choice((1, 1, 2))}]}
                for k in range(due)])
            done += due
            commits += 1
        results.put((idx, done, commits, time.time() - start_at, ""))
    except BaseException as exc:  # reported to the parent
        results.put((idx, done, commits, time.time() - start_at, repr(exc)))
    finally:
        connection.close()


def _coalescing(sandbox, tenant, whs, hot, listings) -> tuple[float, float, float, bool, str]:
    import multiprocessing as mp

    from django.db import connections

    from channels import services as channel_services

    time.sleep(1.5)
    connections.close_all()
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [ctx.Process(target=_drive, args=(tenant.pk, hot.pk, i, start_at, BURST_SECONDS, RATE / DRIVERS,
                                              results)) for i in range(DRIVERS)]
    for p in procs:
        p.start()
    got = [results.get(timeout=BURST_SECONDS + 120) for _ in procs]
    for p in procs:
        p.join()
    errors = [err for *_rest, err in got if err]
    if os.environ.get("BENCH_VERBOSE"):
        print("drivers:", got, file=sys.stderr)
    if errors:
        raise RuntimeError(errors[0])
    changes = sum(n for _i, n, _c, _s, _e in got)
    commits = sum(c for _i, _n, c, _s, _e in got)
    elapsed = max(s for _i, _n, _c, s, _e in got)
    end_at = start_at + elapsed
    hot_listings = listings[hot.pk]
    final = {lst.pk: channel_services.sku_channel_availability(shop=lst.shop, sku_id=hot.pk).quantity
             for lst in hot_listings}

    def settled():
        return all((_pushes_for(sandbox, lst) or [{}])[-1].get("quantity") == final[lst.pk] for lst in hot_listings)

    ok = _wait(settled, 15)
    rates = [len([p for p in _pushes_for(sandbox, lst) if start_at <= p["t"] <= end_at]) / elapsed
             for lst in hot_listings]
    last = ", ".join(f"{(_pushes_for(sandbox, lst) or [{}])[-1].get('quantity')}/{final[lst.pk]}"
                     for lst in hot_listings)
    return max(rates), changes / elapsed, commits / elapsed, ok, last


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def run() -> list[str]:
    if not os.environ.get("REDIS_URL"):
        return ["push_latency: skipped (needs REDIS_URL: a real Celery worker and the coalescing keys)",
                "push_coalescing: skipped (needs REDIS_URL)"]
    with common.throwaway_database("push") as db_url:
        if db_url is None:
            return ["push_latency: skipped (needs PostgreSQL: set DATABASE_URL=postgres://...)",
                    "push_coalescing: skipped (needs PostgreSQL)"]
        from channels.sandbox import SandboxServer

        queue = f"oms-bench-push-{os.getpid()}"
        common.use_queue(queue)
        sandbox = SandboxServer(state=_timed_state()).start()
        worker = None
        try:
            tenant, whs, skus, hot, listings = _world(sandbox)
            worker = common.start_worker(database_url=db_url, queue=queue, concurrency=4, log_name="push-worker")
            samples = _latency(sandbox, tenant, whs[0], skus, listings)
            per_listing, rate, commit_rate, ok, last = _coalescing(sandbox, tenant, whs, hot, listings)
        finally:
            sandbox.stop()
            common.stop_worker(worker, purge_queue=queue)
    p95 = _p95(samples)
    return [
        f"push_latency: p95 {p95:.2f} s; target: {LATENCY_TARGET_S:.1f} s; ratio: {p95 / LATENCY_TARGET_S:.2f}; "
        f"median {sorted(samples)[len(samples) // 2]:.2f} s, max {max(samples):.2f} s over {len(samples)} pushes",
        f"push_coalescing: {per_listing:.1f} pushes/s per listing at {rate:.0f} changes/s; "
        f"target: {COALESCE_TARGET:.0f}; ratio: {per_listing / COALESCE_TARGET:.2f}; "
        f"{commit_rate:.0f} commits/s; "
        f"final value: {'ok' if ok else 'WRONG'} (pushed/available {last})",
    ]


if __name__ == "__main__":
    for text in run():
        print(text, flush=True)
