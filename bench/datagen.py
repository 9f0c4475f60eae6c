"""A million-order PostgreSQL database for the worklist and lookup benchmarks (issues 8 and 9).

    python bench/datagen.py            # builds it once; later runs see the marker and skip
    python bench/datagen.py --force    # drops the database and builds it again

Reproducible (fixed seed, fixed "now"): 20 tenants of very different sizes (the biggest holds a
fifth of all orders), each with shops, warehouses, SKUs and an ops + a customer-service login
created through the ORM; then 1,000,000 orders, ~2 lines each, holds (open ones on the 异常
orders, resolved ones in the history), shipments with carrier-shaped tracking numbers and
after-sales requests written with PostgreSQL COPY. Statuses are spread like a live shop's:
most orders are history (delivered / cancelled), a few percent sit in each worklist tab.
Buyers come back (about three orders per customer), so a phone finds several orders.

Everything is written in ONE transaction that ends with a marker tenant (slug `bench1m-ready`,
its name the spec): the database holds all of it or none of it. Secondary indexes of the bulk
tables are dropped for the load and rebuilt from their own definitions (pg_indexes), then
VACUUM ANALYZE (statistics and the visibility map, as autovacuum would leave a live database).
Not generated (the benchmarked pages do not read them): order events, reservations, stock
levels, listings, shipment lines, tracking events.

Database: env BENCH_1M_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/oms_bench_1m),
created and migrated on first use. BENCH_1M_ORDERS changes the size (for a quick trial).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_1M_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oms_bench_1m")
TOTAL_ORDERS = int(os.environ.get("BENCH_1M_ORDERS", "1000000"))
TENANTS = 20
SEED = 20250618
MARKER_SLUG = "bench1m-ready"
SPEC = f"bench1m v1 seed={SEED} orders={TOTAL_ORDERS} tenants={TENANTS}"
TZ = ZoneInfo("Asia/Shanghai")
#: "now" of the generated world (fixed, so the data is the same on every machine): 618 evening
ANCHOR = datetime(2025, 6, 18, 20, 0, tzinfo=TZ)
SKUS_PER_TENANT = 150
PASSWORD = "bench1m-pass"

#: status -> (weight, min age days, max age days): history is old, queues are fresh
STATUS_MIX = {
    "pending_payment": (0.005, 0.0, 0.2),
    "pending_review": (0.04, 0.0, 1.5),
    "on_hold": (0.02, 0.0, 7.0),
    "approved": (0.015, 0.0, 1.0),
    "allocated": (0.025, 0.0, 2.0),
    "picking": (0.015, 0.0, 1.0),
    "shipped": (0.06, 1.0, 6.0),
    "delivered": (0.75, 3.0, 365.0),
    "cancelled": (0.06, 0.0, 365.0),
    "returned": (0.01, 10.0, 365.0),
}
HOLD_REASONS = [("out_of_stock", 30), ("unmapped_sku", 12), ("address", 10), ("phone", 6), ("note", 20),
                ("high_value", 8), ("blacklist", 2), ("duplicate", 6), ("amount", 3), ("manual", 3)]
HOLD_DETAILS = {
    "out_of_stock": "{sku} 可用库存不足", "unmapped_sku": "平台商家编码 {sku} 未匹配 SKU",
    "address": "详细地址过短", "phone": "收件人电话无效", "note": "买家留言：{note}", "high_value": "实付超过 2000 元",
    "blacklist": "买家在黑名单中", "duplicate": "30 分钟内同一收件人重复下单", "amount": "实付与商品金额不一致",
    "manual": "客服要求暂缓发货",
}
#: carrier code -> (weight, tracking number shape)
CARRIERS = {"ZTO": (24, "7{d13}"), "YTO": (20, "YT{d13}"), "YUNDA": (16, "43{d13}"), "JT": (14, "JT{d13}"),
            "STO": (10, "77{d13}"), "SF": (10, "SF{d13}"), "JD": (4, "JDV{d12}"), "EMS": (2, "98{d11}")}
PLATFORMS = [("taobao", "天猫旗舰店"), ("jd", "京东自营专区"), ("pdd", "拼多多店"), ("douyin", "抖音小店"),
             ("taobao", "淘宝企业店"), ("shopify", "Shopify 海外站")]
WAREHOUSES = [("浙江省", "杭州市", "杭州主仓"), ("广东省", "广州市", "华南仓"), ("北京市", "北京市", "华北仓"),
              ("四川省", "成都市", "西南仓")]
PRODUCTS = [("T恤", Decimal("59.00")), ("卫衣", Decimal("139.00")), ("牛仔裤", Decimal("169.00")),
            ("运动鞋", Decimal("299.00")), ("马克杯", Decimal("29.90")), ("保温杯", Decimal("89.00")),
            ("帆布包", Decimal("45.50")), ("棉袜5双装", Decimal("19.99")), ("龙井茶250g", Decimal("168.00")),
            ("充电宝", Decimal("99.00")), ("数据线", Decimal("25.00")), ("蓝牙耳机", Decimal("199.00")),
            ("洗面奶", Decimal("79.00")), ("面膜10片", Decimal("99.00")), ("坚果礼盒", Decimal("128.00"))]
COLORS = ["黑色", "白色", "红色", "藏青", "灰色"]
SIZES = ["S", "M", "L", "XL", "均码"]
BULK_TABLES = ["orders_order", "orders_orderline", "orders_hold", "logistics_shipment", "orders_returnrequest"]


# --- the database ---------------------------------------------------------------------------------
def _admin_url() -> str:
    return DB_URL.rsplit("/", 1)[0] + "/postgres"


def _dbname() -> str:
    return DB_URL.rsplit("/", 1)[1].split("?", 1)[0]


def is_ready() -> bool:
    """Does the target database hold the complete data set of this spec (the marker tenant)?"""
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [_dbname()]).fetchone():
            return False
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        if not conn.execute("SELECT to_regclass('oms_tenant')").fetchone()[0]:
            return False
        row = conn.execute("SELECT name FROM oms_tenant WHERE slug = %s", [MARKER_SLUG]).fetchone()
    return bool(row) and row[0] == SPEC


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_dbname()}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{_dbname()}"')
        conn.execute(f'ALTER DATABASE "{_dbname()}" SET random_page_cost = 1.1')


_ready = False


def setup() -> None:
    """Point Django at the million-order database (created and migrated on first use). Production
    settings (DEBUG=0): no per-query recording unless a benchmark asks for it."""
    global _ready
    if _ready:
        return
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    os.environ.setdefault("OMS_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("DEBUG", "0")
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [_dbname()]).fetchone():
            conn.execute(f'CREATE DATABASE "{_dbname()}"')
        # the planner setting docker-compose.yml gives production PostgreSQL (SSD: random reads are cheap)
        conn.execute(f'ALTER DATABASE "{_dbname()}" SET random_page_cost = 1.1')
    import django

    django.setup()
    from django.conf import settings

    if settings.DATABASES["default"]["NAME"] != _dbname():
        raise RuntimeError(f"Django is already configured for {settings.DATABASES['default']['NAME']!r}; "
                           f"run the million-order benchmark in its own process")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _ready = True


def ensure(*, force: bool = False, log=print) -> float | None:
    """Build the data set unless it is there already. Returns the seconds the build took (None: skipped)."""
    if not force and is_ready():
        log(f"datagen: {_dbname()} already holds {SPEC}; skipped (--force rebuilds)")
        return None
    if _ready:
        raise RuntimeError("the data set must be (re)built before Django connects to it")
    _recreate_database()
    t0 = time.perf_counter()
    setup()
    generate(log=log)
    seconds = time.perf_counter() - t0
    log(f"datagen: built {SPEC} in {seconds:.0f} s")
    return seconds


# --- the small world, through the ORM -------------------------------------------------------------------
def tenant_sizes(total: int, tenants: int) -> list[int]:
    """A long tail: tenant 0 is the biggest (~a fifth of everything), the smallest a few thousand."""
    weights = [1 / (i + 1) ** 0.85 for i in range(tenants)]
    scale = total / sum(weights)
    sizes = [int(w * scale) for w in weights]
    sizes[0] += total - sum(sizes)
    return sizes


def _world(i: int, rng: random.Random, password_hash: str):
    from django.contrib.auth import get_user_model

    from channels.models import Shop
    from inventory.models import Sku, Warehouse
    from oms.models import Membership, Tenant

    tenant = Tenant.objects.create(name=f"压测商家{i + 1:02d}", slug=f"bench1m-{i:02d}", auto_approve=True)
    shops = [Shop.objects.create(tenant=tenant, platform=platform, name=f"{tenant.name}{label}", enabled=False,
                                 platform_shop_id=str(10_000_000 + i * 100 + k))
             for k, (platform, label) in enumerate(PLATFORMS[: 2 + i % 4])]
    warehouses = [Warehouse.objects.create(tenant=tenant, code=f"WH{k + 1}", name=name, province=province, city=city,
                                           priority=k + 1, regions=[province])
                  for k, (province, city, name) in enumerate(WAREHOUSES[: 2 + i % 3])]
    products = [PRODUCTS[j % len(PRODUCTS)] for j in range(SKUS_PER_TENANT)]
    skus = Sku.objects.bulk_create([
        Sku(tenant=tenant, code=f"T{i:02d}-{j:04d}", name=f"{p} {rng.choice(COLORS)} {rng.choice(SIZES)}",
            reference_price=price, weight_grams=rng.choice((150, 300, 500, 800)))
        for j, (p, price) in enumerate(products)])
    User = get_user_model()
    for role in ("ops", "cs"):
        user = User.objects.create(username=f"bench1m-{role}-{i:02d}", password=password_hash)
        Membership.objects.create(tenant=tenant, user=user, role=role)
    return tenant, shops, warehouses, skus


# --- the bulk rows, through COPY -----------------------------------------------------------------------
class Table:
    """COPY into a model's table: the columns we give, every other column filled from the field's
    default (so a field added later with a default does not break the generator)."""

    def __init__(self, model, given: list[str], connection):
        self.model = model
        self.name = model._meta.db_table
        fields = {f.column: f for f in model._meta.concrete_fields}
        unknown = [c for c in given if c not in fields]
        if unknown:
            raise RuntimeError(f"{self.name}: no columns {unknown}")
        rest = [f for c, f in fields.items() if c not in given]
        self.columns = list(given) + [f.column for f in rest]
        self.fill = tuple(self._default(f, connection) for f in rest)

    def _default(self, f, connection):
        if f.has_default():
            return f.get_db_prep_save(f.get_default(), connection)
        if f.null:
            return None
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            return ANCHOR
        if f.get_internal_type() in ("CharField", "TextField", "SlugField"):
            return ""
        raise RuntimeError(f"{self.name}.{f.column}: no value and no default")

    def copy(self, raw, rows) -> int:
        n = 0
        cols = ", ".join(f'"{c}"' for c in self.columns)
        fill = self.fill
        with raw.cursor() as cur, cur.copy(f'COPY "{self.name}" ({cols}) FROM STDIN') as cp:
            for row in rows:
                cp.write_row(row + fill)
                n += 1
        return n


def _next_id(raw, table: str) -> int:
    return raw.execute(f'SELECT COALESCE(MAX(id), 0) + 1 FROM "{table}"').fetchone()[0]


def _digits(rng: random.Random, shape: str) -> str:
    head, _, rest = shape.partition("{d")
    n = int(rest.rstrip("}"))
    return head + f"{rng.randrange(10 ** n):0{n}d}"


def _platform_order_id(platform: str, seq: int, placed: datetime, rng: random.Random) -> str:
    if platform == "taobao":
        return f"{3_800_000_000_000_000_000 + seq * 1_000 + rng.randrange(1000)}"
    if platform == "jd":
        return f"{280_000_000_000 + seq * 10 + rng.randrange(10)}"
    if platform == "pdd":
        return f"{placed:%y%m%d}-{seq:015d}"
    if platform == "douyin":
        return f"{6_920_000_000_000_000_000 + seq * 100 + rng.randrange(100)}"
    return f"{5_100_000_000_000 + seq}"


def _customers(n: int, rng: random.Random) -> list[tuple]:
    from oms import demo_data as demo

    out = []
    for _ in range(n):
        person = demo.name(rng)
        province, city, district, detail = demo.address(rng)
        nick = person + str(rng.randint(1, 9999)) if rng.random() < 0.6 else f"{rng.choice('abcdefghjkmnpqrstwxyz')}" \
            f"{rng.choice(('xiao', 'ai', 'da', 'le', 'mi'))}_{rng.randrange(10**6):06d}"
        out.append((nick, person, demo.mobile(rng), province, city, district, detail, f"{rng.randint(100000, 850000)}"))
    return out


def _load_tenant(raw, tables: dict, ids: dict, world, n_orders: int, rng: random.Random, carrier_ids: dict,
                 log) -> dict:
    """Generate and COPY one tenant's orders, lines, holds, shipments and after-sales requests."""
    from oms import demo_data as demo

    tenant, shops, warehouses, skus = world
    t = tenant.pk
    customers = _customers(max(1, n_orders // 3), rng)
    statuses = list(STATUS_MIX)
    status_weights = [STATUS_MIX[s][0] for s in statuses]
    sku_rows = [(s.pk, s.code, s.name, s.reference_price) for s in skus]
    sku_weights = [1 / (k + 1) ** 0.7 for k in range(len(sku_rows))]  # a few best sellers
    hold_names, hold_weights = zip(*HOLD_REASONS, strict=True)
    carrier_codes = list(CARRIERS)
    carrier_weights = [CARRIERS[c][0] for c in carrier_codes]
    orders, lines, holds, shipments, returns = [], [], [], [], []
    oid, lid, hid, sid, rid = ids["orders_order"], ids["orders_orderline"], ids["orders_hold"], \
        ids["logistics_shipment"], ids["orders_returnrequest"]
    status_list = rng.choices(statuses, status_weights, k=n_orders)
    seq0 = t * 10_000_000
    for k in range(n_orders):
        status = status_list[k]
        _w, lo, hi = STATUS_MIX[status]
        placed = ANCHOR - timedelta(days=lo + (hi - lo) * rng.random())
        paid = None if status == "pending_payment" else placed + timedelta(seconds=rng.randint(5, 1800))
        created = (paid or placed) + timedelta(seconds=rng.randint(30, 600))
        shop = shops[0] if rng.random() < 0.45 else rng.choice(shops)
        nick, person, phone, province, city, district, detail, postcode = rng.choice(customers)
        urgent = rng.random() < 0.02
        wh = rng.choice(warehouses).pk if status in ("allocated", "picking", "shipped", "delivered", "returned") else None
        note = rng.choice(demo.NOTES) if rng.random() < 0.08 else ""
        goods = Decimal("0")
        first_sku = None
        n_lines = rng.choices((1, 2, 3), (35, 35, 30))[0]
        for j, (sku_id, code, title, price) in enumerate(rng.choices(sku_rows, sku_weights, k=n_lines)):
            qty = rng.choices((1, 2, 3), (75, 18, 7))[0]
            amount = price * qty
            goods += amount
            first_sku = first_sku or code
            lines.append((lid, t, oid, f"{seq0 + k}{j + 1:02d}", f"{6_000_000_000 + sku_id}", f"{7_000_000_000 + sku_id}",
                          code, title, sku_id, qty, price, amount, "", False))
            lid += 1
        shipping = Decimal("0") if goods >= 99 else Decimal("8.00")
        discount = Decimal(rng.choice((0, 0, 0, 5, 10, 20))) if goods > 50 else Decimal("0")
        paid_amount = goods + shipping - discount
        platform = shop.platform
        orders.append((oid, t, shop.pk, platform, _platform_order_id(platform, seq0 + k, placed, rng),
                       "TRADE_FINISHED" if status == "delivered" else "", status, nick, person, phone, "CN", province,
                       city, district, detail, postcode, "CNY", goods, shipping, discount, paid_amount, placed, paid,
                       created, urgent, note, "", False, wh, "normal", created, created + timedelta(minutes=rng.randint(1, 600))))
        if status == "on_hold":
            for reason in dict.fromkeys(rng.choices(hold_names, hold_weights, k=rng.choices((1, 2), (80, 20))[0])):
                holds.append((hid, t, oid, reason, HOLD_DETAILS[reason].format(sku=first_sku, note=note or "请尽快发货"),
                              None, created, None, "", False))
                hid += 1
        elif status in ("delivered", "shipped") and rng.random() < 0.04:
            reason = rng.choice(("note", "address", "high_value", "out_of_stock"))
            holds.append((hid, t, oid, reason, HOLD_DETAILS[reason].format(sku=first_sku, note=note or "请尽快发货"),
                          None, created, created + timedelta(hours=rng.randint(1, 30)), "已核实，放行",
                          reason == "out_of_stock"))
            hid += 1
        if status in ("picking", "shipped", "delivered", "returned"):
            code = rng.choices(carrier_codes, carrier_weights)[0]
            shipped_at = None if status == "picking" else created + timedelta(hours=rng.randint(2, 30))
            if status == "picking":
                s_status = "labelled"
            elif status == "shipped":
                s_status = rng.choice(("shipped", "in_transit", "in_transit", "out_for_delivery"))
            else:
                s_status = "delivered"
            delivered_at = shipped_at + timedelta(hours=rng.randint(20, 96)) if s_status == "delivered" else None
            shipments.append((sid, t, oid, wh, carrier_ids[code], "standard", _digits(rng, CARRIERS[code][1]), s_status,
                              rng.randint(200, 3000), "快递规则：默认", created + timedelta(hours=1), shipped_at,
                              delivered_at, "sf" if code == "SF" else "cainiao"))
            sid += 1
            if status == "returned" or (status == "delivered" and rng.random() < 0.008):
                r_status = "restocked" if status == "returned" else rng.choice(("requested", "received", "inspected"))
                r_at = (delivered_at or created) + timedelta(days=rng.randint(1, 7))
                returns.append((rid, t, oid, "return", r_status, rng.choice(("尺码不合适", "质量问题", "七天无理由", "发错货")),
                                "platform" if rng.random() < 0.5 else "manual", paid_amount, "CNY", wh, r_at, r_at))
                rid += 1
        oid += 1
    counts = {}
    for key, rows in (("orders_order", orders), ("orders_orderline", lines), ("orders_hold", holds),
                      ("logistics_shipment", shipments), ("orders_returnrequest", returns)):
        counts[key] = tables[key].copy(raw, rows)
    ids.update(orders_order=oid, orders_orderline=lid, orders_hold=hid, logistics_shipment=sid,
               orders_returnrequest=rid)
    return counts


ORDER_COLUMNS = ["id", "tenant_id", "shop_id", "platform", "platform_order_id", "platform_status", "status", "buyer_nick",
                 "receiver_name", "receiver_phone", "receiver_country", "receiver_province", "receiver_city",
                 "receiver_district", "receiver_address", "receiver_postcode", "currency", "goods_amount",
                 "shipping_amount", "discount_amount", "paid_amount", "placed_at", "paid_at", "platform_modified_at",
                 "urgent", "buyer_note", "seller_note", "fulfilled_by_platform", "warehouse_id", "kind", "created_at",
                 "updated_at"]
LINE_COLUMNS = ["id", "tenant_id", "order_id", "platform_line_id", "platform_item_id", "platform_sku_id", "outer_sku_id",
                "title", "sku_id", "quantity", "unit_price", "amount", "refund_status", "is_gift"]
HOLD_COLUMNS = ["id", "tenant_id", "order_id", "reason", "detail", "until", "created_at", "resolved_at",
                "resolution_note", "auto_released"]
SHIPMENT_COLUMNS = ["id", "tenant_id", "order_id", "warehouse_id", "carrier_id", "service", "tracking_number", "status",
                    "weight_grams", "choice_explanation", "created_at", "shipped_at", "delivered_at", "waybill_provider"]
RETURN_COLUMNS = ["id", "tenant_id", "order_id", "kind", "status", "reason", "source", "refund_amount", "currency",
                  "warehouse_id", "created_at", "updated_at"]


def _secondary_indexes(raw, tables: list[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX ...) of the plain indexes of the tables: not those behind a constraint."""
    return raw.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
             AND i.indexdef NOT LIKE 'CREATE UNIQUE%%'
           ORDER BY i.tablename, i.indexname""", [tables]).fetchall()


def generate(*, log=print) -> dict:
    from django.db import connection, transaction

    from logistics.models import Carrier, Shipment
    from oms.models import Tenant
    from orders.models import Hold, Order, OrderLine, ReturnRequest

    rng = random.Random(SEED)
    sizes = tenant_sizes(TOTAL_ORDERS, TENANTS)
    carrier_ids = dict(Carrier.objects.values_list("code", "id"))
    missing = set(CARRIERS) - set(carrier_ids)
    if missing:
        raise RuntimeError(f"carriers not seeded: {sorted(missing)}")
    totals: dict[str, int] = {}
    with transaction.atomic():
        connection.ensure_connection()
        raw = connection.connection
        raw.execute("SET LOCAL maintenance_work_mem = '512MB'")
        raw.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no million-row deferred-trigger queue
        tables = {
            "orders_order": Table(Order, ORDER_COLUMNS, connection),
            "orders_orderline": Table(OrderLine, LINE_COLUMNS, connection),
            "orders_hold": Table(Hold, HOLD_COLUMNS, connection),
            "logistics_shipment": Table(Shipment, SHIPMENT_COLUMNS, connection),
            "orders_returnrequest": Table(ReturnRequest, RETURN_COLUMNS, connection),
        }
        from django.contrib.auth.hashers import make_password

        password_hash = make_password(PASSWORD)  # hashed once: the logins are for looking around
        worlds = [_world(i, rng, password_hash) for i in range(TENANTS)]
        dropped = _secondary_indexes(raw, BULK_TABLES)
        for name, _ddl in dropped:
            raw.execute(f'DROP INDEX "{name}"')
        ids = {name: _next_id(raw, name) for name in BULK_TABLES}
        t0 = time.perf_counter()
        for i, (world, n) in enumerate(zip(worlds, sizes, strict=True)):
            counts = _load_tenant(raw, tables, ids, world, n, rng, carrier_ids, log)
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
            if i % 5 == 4 or i == TENANTS - 1:
                log(f"datagen: {i + 1}/{TENANTS} tenants, {totals['orders_order']} orders "
                    f"({time.perf_counter() - t0:.0f} s)")
        t1 = time.perf_counter()
        for _name, ddl in dropped:
            raw.execute(ddl)
        log(f"datagen: rebuilt {len(dropped)} indexes in {time.perf_counter() - t1:.0f} s")
        for name in BULK_TABLES:
            raw.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT MAX(id) FROM \"{name}\"))")
        Tenant.objects.create(slug=MARKER_SLUG, name=SPEC)
    t2 = time.perf_counter()
    with connection.cursor() as cur:  # the steady state autovacuum would reach: statistics, visibility map
        cur.execute("VACUUM (ANALYZE)")
    log(f"datagen: VACUUM ANALYZE in {time.perf_counter() - t2:.0f} s; rows: "
        + ", ".join(f"{k} {v}" for k, v in totals.items()))
    return totals


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="drop the database and build it again")
    args = parser.parse_args(argv)
    ensure(force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
