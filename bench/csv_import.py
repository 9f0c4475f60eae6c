"""CSV import of order lines: our importer against plain django-import-export, same file, same run.

The file is what a Chinese seller exports from another channel into our order template: GBK
(as Excel saves it), the template's Chinese headers, one row per order line, about 3 lines per
order, every order-level column repeated on each line (as platform exports do), real regions,
mobile numbers, notes with commas and quotes, a few urgent and discounted orders.

Ours: the ops console's path for a file this size (above BACKGROUND_ROWS): orders.resources.
import_job_create stores the file and queues the ImportJob; the task (run eagerly here, in this
process) is import_job_run: read, validate every row, then write every order through the ingest
service in one transaction (upsert, reservations, ledger, events).
Baseline: django-import-export's ModelResource importing the same bytes into a plain model with
one column per template column (a table of its own, created for the run), keyed like ours by
(order number, line number) so a re-import updates instead of duplicating, default options
otherwise (one transaction, row by row).

    csv_import: 3400 rows/s; django-import-export: 1100 rows/s; ratio: 3.09

Ours imports the whole ROWS-line file (100,000 by default). The baseline imports the same file,
or its first lines when all of it would not finish in BUDGET_S seconds on this machine (the
line says so). Needs PostgreSQL.
"""

from __future__ import annotations

import io
import os
import random
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

ROWS = int(os.environ.get("BENCH_CSV_ROWS", "100000"))
BUDGET_S = float(os.environ.get("BENCH_CSV_BUDGET", "150"))
SAMPLE = 500
SKUS = 300
TARGET = 3000
ENCODING = "gbk"

NOTES = ["请尽快发货，谢谢", "不要放快递柜，送货上门", '送人的，"不要"放价格单', "周末送货,工作日没人", "麻烦包装结实一点", ""]
TITLES = ["纯棉圆领T恤", "陶瓷马克杯 350ml", "帆布托特包", "中筒棉袜 5双装", "明前龙井茶 250g", "充电宝 10000mAh",
          "不锈钢保温杯", "真丝眼罩", "蓝牙耳机", "儿童雨靴"]


def make_csv(n_rows: int, seed: int = 42, prefix: str = "DD") -> bytes:
    """n_rows order lines in the order template (Chinese headers), GBK."""
    import csv

    from channels.sandbox import generator as gen
    from orders.resources import OrderImporter

    rng = random.Random(seed)
    header = OrderImporter().template_headers("zh")
    keys = [c.key for c in OrderImporter.columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    base = datetime(2024, 5, 1, 8, 0, 0)
    written = n_order = 0
    while written < n_rows:
        n_order += 1
        lines = min(rng.choice((1, 2, 3, 3, 4, 5)), n_rows - written)
        r = gen.receiver(rng)
        placed = base + timedelta(seconds=n_order * 7 + rng.randint(0, 5))
        order = {
            "order_no": f"{prefix}{placed:%Y%m%d}{n_order:07d}", "placed_at": f"{placed:%Y-%m-%d %H:%M:%S}",
            "paid_at": f"{placed + timedelta(minutes=rng.randint(0, 30)):%Y-%m-%d %H:%M:%S}", "state": "已付款",
            "buyer_nick": gen.buyer_nick("taobao", rng), "receiver_name": r["name"], "receiver_phone": r["phone"],
            "province": r["province"], "city": r["city"], "district": r["district"],
            "address": f"{r['town']}{r['address']}", "postcode": "", "shipping": rng.choice(("0", "0", "6", "10")),
            "discount": rng.choice(("0", "0", "0", "5", "10")), "paid_amount": "", "currency": "CNY",
            "buyer_note": rng.choice(NOTES), "seller_note": "", "urgent": "是" if rng.random() < 0.05 else "否",
            "modified_at": "",
        }
        for k, sku in enumerate(rng.sample(range(SKUS), lines), start=1):
            row = dict(order, line_no=str(k), sku=f"SP{sku:05d}", title=f"{TITLES[sku % len(TITLES)]} {sku}",
                       quantity=str(rng.choice((1, 1, 1, 2, 3))), unit_price=f"{Decimal(rng.randint(990, 29900)) / 100}")
            writer.writerow([row.get(k_, "") for k_ in keys])
        written += lines
    return out.getvalue().encode(ENCODING)


# --- ours -----------------------------------------------------------------------------------------
def _tenant(tag: str):
    from inventory import services as stock
    from inventory.models import Sku, Warehouse
    from oms.models import Tenant

    tenant = Tenant.objects.create(name=f"bench csv {tag}", slug=f"bench-csv-{tag}", auto_approve=True)
    wh = Warehouse.objects.create(tenant=tenant, code="W1", name="杭州仓", province="浙江省")
    skus = Sku.objects.bulk_create([Sku(tenant=tenant, code=f"SP{i:05d}", name=f"{TITLES[i % len(TITLES)]} {i}")
                                    for i in range(SKUS)])
    for sku in skus:
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=10**6)
    return tenant


def _ours(data: bytes, tag: str) -> tuple[float, int]:
    """Seconds for the console's background import of `data` (job created, run to the end)."""
    from oms.celery import app
    from oms.models import ImportJob
    from orders.models import OrderLine
    from orders.resources import import_job_create

    tenant = _tenant(tag)
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the job's task runs here, on commit, as a worker would run it
    try:
        t0 = time.perf_counter()
        job = import_job_create(tenant_id=tenant.pk, kind="orders", data=data, filename="订单导入.csv")
        seconds = time.perf_counter() - t0
    finally:
        app.conf.task_always_eager = eager
    job.refresh_from_db()
    from django.conf import settings

    (Path(settings.MEDIA_ROOT) / job.file_path).unlink(missing_ok=True)
    if job.status != ImportJob.Status.DONE:
        raise RuntimeError(f"import job ended {job.status}: {job.errors[:3]}")
    return seconds, OrderLine.objects.filter(tenant=tenant).count()


# --- the baseline: plain django-import-export --------------------------------------------------------
def _plain_model():
    from django.db import connection, models

    class BenchImportLine(models.Model):
        order_no = models.CharField(max_length=64)
        line_no = models.CharField(max_length=64, blank=True)
        placed_at = models.DateTimeField()
        paid_at = models.DateTimeField(null=True, blank=True)
        state = models.CharField(max_length=20, blank=True)
        buyer_nick = models.CharField(max_length=100, blank=True)
        receiver_name = models.CharField(max_length=100)
        receiver_phone = models.CharField(max_length=40)
        province = models.CharField(max_length=40)
        city = models.CharField(max_length=40)
        district = models.CharField(max_length=40, blank=True)
        address = models.CharField(max_length=255)
        postcode = models.CharField(max_length=20, blank=True)
        sku = models.CharField(max_length=64)
        title = models.CharField(max_length=255, blank=True)
        quantity = models.PositiveIntegerField()
        unit_price = models.DecimalField(max_digits=12, decimal_places=2)
        shipping = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
        discount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
        paid_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
        currency = models.CharField(max_length=3, blank=True)
        buyer_note = models.TextField(blank=True)
        seller_note = models.TextField(blank=True)
        urgent = models.BooleanField(default=False)
        modified_at = models.DateTimeField(null=True, blank=True)

        class Meta:
            app_label = "orders"  # an installed app (the table is the bench's own)
            db_table = "bench_csv_importline"
            unique_together = [("order_no", "line_no")]

    with connection.schema_editor() as editor:
        editor.create_model(BenchImportLine)
    return BenchImportLine


def _plain_resource(model):
    from import_export import fields, resources, widgets

    from orders.resources import OrderImporter

    class YesNoWidget(widgets.BooleanWidget):  # the file says 是/否
        TRUE_VALUES = ["是", *widgets.BooleanWidget.TRUE_VALUES]
        FALSE_VALUES = ["否", *widgets.BooleanWidget.FALSE_VALUES]

    widget_for = {"placed_at": widgets.DateTimeWidget("%Y-%m-%d %H:%M:%S"),
                  "paid_at": widgets.DateTimeWidget("%Y-%m-%d %H:%M:%S"),
                  "modified_at": widgets.DateTimeWidget("%Y-%m-%d %H:%M:%S"),
                  "quantity": widgets.IntegerWidget(), "unit_price": widgets.DecimalWidget(),
                  "shipping": widgets.DecimalWidget(), "discount": widgets.DecimalWidget(),
                  "paid_amount": widgets.DecimalWidget(), "urgent": YesNoWidget()}
    attrs = {c.key: fields.Field(attribute=c.key, column_name=c.zh, widget=widget_for.get(c.key))
             for c in OrderImporter.columns}

    class Meta:
        pass

    Meta.model = model
    Meta.import_id_fields = ("order_no", "line_no")
    Meta.fields = tuple(attrs)
    return type("BenchImportLineResource", (resources.ModelResource,), {**attrs, "Meta": Meta})()


def _baseline(data: bytes, model, resource) -> float:
    import tablib

    model.objects.all().delete()
    t0 = time.perf_counter()
    dataset = tablib.Dataset().load(data.decode(ENCODING), format="csv")
    result = resource.import_data(dataset, dry_run=False, raise_errors=True)
    seconds = time.perf_counter() - t0
    if result.has_errors() or result.has_validation_errors():
        raise RuntimeError("django-import-export reported errors")
    if model.objects.count() != len(dataset):
        raise RuntimeError(f"django-import-export wrote {model.objects.count()} of {len(dataset)} rows")
    return seconds


def run() -> list[str]:
    with common.throwaway_database("csv_import") as db_url:
        if db_url is None:
            return ["csv_import: skipped (needs PostgreSQL: set DATABASE_URL=postgres://...)"]
        model = _plain_model()
        try:
            return _measure(model, _plain_resource(model))
        finally:  # the plain model is this run's only: forget it (it lives in no migration)
            from django.apps import apps

            apps.all_models[model._meta.app_label].pop(model._meta.model_name, None)
            apps.clear_cache()


def _head(data: bytes, rows: int) -> bytes:
    """The header and the first `rows` lines of the same file (one record per CRLF line)."""
    return b"\r\n".join(data.split(b"\r\n")[: rows + 1]) + b"\r\n"


def _measure(model, resource) -> list[str]:
    """Ours always imports the whole ROWS-line file. The baseline imports the same file, or, when
    that would not fit in BUDGET_S on this machine (a 500-line sample of it is timed first), the
    first lines of the very same file: its rate is rows per second either way, and the line says so."""
    note = ""
    started = time.perf_counter()
    sample = make_csv(SAMPLE, seed=1, prefix="S")
    ours_s, _n = _ours(sample, "sample")
    base_s = _baseline(sample, model, resource)
    budget = BUDGET_S - (time.perf_counter() - started) - ours_s * ROWS / SAMPLE
    if os.environ.get("BENCH_VERBOSE"):
        print(f"sample of {SAMPLE}: ours {SAMPLE / ours_s:.0f} rows/s, baseline {SAMPLE / base_s:.0f} rows/s",
              file=sys.stderr)
    data = make_csv(ROWS)
    ours_s, lines = _ours(data, "run")
    if lines != ROWS:
        raise RuntimeError(f"our import wrote {lines} of {ROWS} order lines")
    base_rows = ROWS
    projected = base_s * ROWS / SAMPLE
    if projected > budget:
        base_rows = max(1000, int(max(budget, 0) / projected * ROWS) // 1000 * 1000)
        note = (f"; baseline on the first {base_rows} of the {ROWS} rows (all of them would take it "
                f"~{projected:.0f} s here: BENCH_CSV_BUDGET={BUDGET_S:.0f})")
    base_s = _baseline(_head(data, base_rows) if base_rows < ROWS else data, model, resource)
    ours, base = ROWS / ours_s, base_rows / base_s
    return [f"csv_import: {ours:.0f} rows/s on {ROWS} rows; django-import-export: {base:.0f} rows/s; "
            f"ratio: {ours / base:.2f}; target: {TARGET} rows/s{note}"]


if __name__ == "__main__":
    for text in run():
        print(text, flush=True)
