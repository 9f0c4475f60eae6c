"""Ingestion: orders/s through archive + normalise + upsert + reserve + ledger on PostgreSQL,
3 lines per order, payloads pre-generated (Taobao trades as the platform returns them), next to
a COPY of the very rows that ingestion wrote, measured in the same run.

    ingest: 2410 orders/s; COPY: 5120 orders/s; ratio: 0.47
"""

from __future__ import annotations

import io
import os
import random
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

N = int(os.environ.get("BENCH_INGEST_ORDERS", "20000"))
PAGE = 100


def _payloads(n: int, skus, seed: int = 42):
    from channels.sandbox import generator as gen
    from channels.sandbox import taobao as fake

    rng = random.Random(seed)
    end = gen.truncate(gen.datetime.now(gen.CN_TZ)) - timedelta(minutes=5)
    start = end - timedelta(days=1)
    out = []
    for i in range(n):
        order = gen.make_order("taobao", "bench", str(4_000_000_000_000 + i * 10), rng, start=start, end=end,
                               skus=skus, status=gen.PAID)
        chosen = rng.sample(skus, 3)
        order.lines = [gen.SandboxLine(line_id=str(4_000_000_000_000 + i * 10 + k + 1), item_id=s[1], sku_id=s[2],
                                       outer_id=s[0], title=s[3], price=s[4], quantity=rng.choice((1, 1, 2)))
                       for k, s in enumerate(chosen)]
        order.discount = Decimal("0")
        out.append(fake.render(order))
    return out


def _world(tag: str, skus):
    from channels.models import Listing, Shop
    from inventory import services as stock
    from inventory.models import Sku, Warehouse
    from oms.models import Tenant

    tenant = Tenant.objects.create(name=f"bench {tag}", slug=f"bench-{tag}", auto_approve=True)
    shop = Shop.objects.create(tenant=tenant, platform="taobao", name="bench")
    whs = [Warehouse.objects.create(tenant=tenant, code=f"W{i}", name=f"仓{i}", province="浙江省", priority=i)
           for i in range(2)]
    for outer, item, sku_id, title, price in skus:
        sku = Sku.objects.create(tenant=tenant, code=outer, name=title, reference_price=price)
        for wh in whs:
            stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=10**7)
        Listing.objects.create(tenant=tenant, shop=shop, sku=sku, platform_item_id=item, platform_sku_id=sku_id,
                               outer_id=outer)
    return tenant, shop


TABLES = ["channels_raworder", "orders_order", "orders_orderline", "orders_orderevent", "inventory_reservation",
          "inventory_stockmovement"]


def _copy_baseline(tenant, shop, copy_tenant, copy_shop) -> float:
    """COPY the rows ingestion wrote (all six tables) into the same tables for another tenant."""
    from django.db import connection

    buffers = {}
    with connection.cursor() as cur:
        raw = cur.connection
        for table in TABLES:
            cols = [c.name for c in connection.introspection.get_table_description(cur, table) if c.name != "id"]
            buf = io.BytesIO()
            select = ", ".join(
                "%s" % (copy_tenant.pk if c == "tenant_id" else copy_shop.pk if c == "shop_id" else f'"{c}"')
                for c in cols)
            with raw.cursor().copy(
                    f"COPY (SELECT {select} FROM {table} WHERE tenant_id = {tenant.pk}) TO STDOUT") as cp:
                for chunk in cp:
                    buf.write(chunk)
            buffers[table] = (cols, buf.getvalue())
        import time

        t0 = time.perf_counter()
        with raw.transaction():
            rc = raw.cursor()
            for table in TABLES:
                cols, data = buffers[table]
                collist = ", ".join(f'"{c}"' for c in cols)
                with rc.copy(f"COPY {table} ({collist}) FROM STDIN") as cp:
                    cp.write(data)
        seconds = time.perf_counter() - t0
        with raw.transaction():  # clean up (not timed)
            for table in reversed(TABLES):
                raw.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [copy_tenant.pk])
    return seconds


def run() -> list[str]:
    common.setup()
    from channels import services
    from channels.adapters import get_adapter
    from channels.sandbox.generator import DEFAULT_SKUS

    skus = [tuple(s) for s in DEFAULT_SKUS]
    tag = os.urandom(3).hex()
    tenant, shop = _world(tag, skus)
    copy_tenant, copy_shop = _world(tag + "c", skus)
    payloads = _payloads(N, skus)
    adapter = get_adapter(shop)
    with common.timer() as t:
        for i in range(0, N, PAGE):
            services.raw_receive_page(shop=shop, payloads=payloads[i:i + PAGE], adapter=adapter, source="bench")
    ours = N / t["seconds"]
    from orders.models import Order

    assert Order.objects.filter(tenant=tenant).count() == N, "ingestion lost orders"
    copy_seconds = _copy_baseline(tenant, shop, copy_tenant, copy_shop)
    copy_rate = N / copy_seconds
    return [common.line("ingest", ours, "orders/s", "COPY", copy_rate)]


if __name__ == "__main__":
    for text in run():
        print(text, flush=True)
