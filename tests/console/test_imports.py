"""Imports: every kind of bad row is reported with line, column and message and nothing is
written; good files go through the services; a re-import changes nothing; encodings; XLSX;
background jobs with progress; templates in both languages."""

from __future__ import annotations

import io

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from channels.models import Listing, Shop
from inventory.models import Reservation, Sku, StockLevel, StockMovement
from oms.models import ImportJob
from orders.models import Order, OrderEvent, OrderLine
from orders.resources import import_run
from tests import factories

pytestmark = pytest.mark.django_db

HEADER_ZH = "订单号,下单时间,付款时间,买家昵称,收件人,收件人电话,省,市,区县,详细地址,SKU编码,商品名称,数量,单价,运费"
HEADER_EN = ("order_no,placed_at,paid_at,buyer_nick,receiver_name,receiver_phone,province,city,district,address,sku,"
             "title,quantity,unit_price,shipping")
GOOD_ROWS = [
    "WX1001,2024-05-01 10:00:00,2024-05-01 10:05:00,wx_buyer,张三,13800138000,浙江省,杭州市,西湖区,文三路 1 号,"
    "SKU-A,短袖,2,50.00,8",
    "WX1001,,,,,,,,,,SKU-B,长裤,1,120.00,",
    "WX1002,2024-05-02 09:00:00,,,李四,13912345678,广东省,深圳市,南山区,科技园 2 栋,SKU-A,短袖,1,50.00,0",
]


def orders_csv(rows=GOOD_ROWS, header=HEADER_ZH) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


@pytest.fixture
def skus(tenant, world):
    return world.a, world.b


def run(tenant, data: bytes, kind="orders", filename="orders.csv", dry_run=False):
    return import_run(tenant_id=tenant.pk, kind=kind, data=data, filename=filename, dry_run=dry_run)


def test_a_good_file_creates_orders_through_ingest_and_a_rerun_changes_nothing(tenant, skus, world):
    report = run(tenant, orders_csv())
    assert report.ok and report.applied, report.errors
    assert report.counts == {"created": 2, "updated": 0, "unchanged": 0}
    shop = Shop.objects.get(tenant=tenant, platform="manual")
    o1 = Order.objects.get(tenant=tenant, shop=shop, platform_order_id="WX1001")
    assert o1.platform == "manual" and o1.receiver_name == "张三" and o1.buyer_nick == "wx_buyer"
    assert sorted(o1.lines.values_list("outer_sku_id", "quantity")) == [("SKU-A", 2), ("SKU-B", 1)]
    assert str(o1.paid_amount) == "228.00" and str(o1.shipping_amount) == "8.00"  # 2*50 + 120 + 8
    assert OrderEvent.objects.filter(order=o1, type="created", actor_label="import").exists()
    # the ingest reserved stock for both lines
    assert Reservation.objects.filter(order_id=o1.pk, status="active").count() == 2
    o2 = Order.objects.get(tenant=tenant, platform_order_id="WX1002")
    assert o2.paid_at == o2.placed_at  # paid, no payment time given: the order time

    snapshot = (Order.objects.count(), OrderLine.objects.count(), OrderEvent.objects.count(),
                StockMovement.objects.count(), Reservation.objects.count())
    again = run(tenant, orders_csv())
    assert again.applied and again.counts == {"created": 0, "updated": 0, "unchanged": 2}
    assert (Order.objects.count(), OrderLine.objects.count(), OrderEvent.objects.count(),
            StockMovement.objects.count(), Reservation.objects.count()) == snapshot


def test_english_headers_are_accepted(tenant, skus):
    report = run(tenant, orders_csv(header=HEADER_EN))
    assert report.applied, report.errors
    assert Order.objects.filter(tenant=tenant, platform="manual").count() == 2


@pytest.mark.parametrize("bad_row, column, message", [
    ("WX2,2024-05-01 10:00,,,王五,12345,浙江省,杭州市,,地址 9 号,SKU-A,,1,10,", "收件人电话", "电话号码“12345”无效"),
    ("WX2,2024-05-01 10:00,,,王五,13800138000,浙江省,杭州市,,地址 9 号,NOPE,,1,10,", "SKU编码", "未知 SKU 编码“NOPE”"),
    ("WX2,2024-05-01 10:00,,,王五,13800138000,浙江省,杭州市,,地址 9 号,SKU-A,,-3,10,", "数量", "数量必须是正整数"),
    ("WX2,2024-05-01 10:00,,,王五,13800138000,浙江省,杭州市,,地址 9 号,SKU-A,,1,abc,", "单价", "“abc”不是有效的金额"),
    ("WX2,五月一日,,,王五,13800138000,浙江省,杭州市,,地址 9 号,SKU-A,,1,10,", "下单时间", "格式不正确"),
    ("WX1001,,,,,,,,,,SKU-A,短袖,5,50.00,", "SKU编码", "订单 WX1001 的这一行与第 2 行重复"),
    ("WX1002,2024-05-02 09:00:00,,,别人,,,,,,SKU-B,,1,10,", "收件人", "与订单 WX1002 第 4 行不一致"),
    ("WX2,2024-05-01 10:00,,,,13800138000,浙江省,杭州市,,地址 9 号,SKU-A,,1,10,", "收件人", "不能为空"),
])
def test_one_bad_row_is_reported_with_line_column_message_and_nothing_is_written(tenant, skus, bad_row, column, message):
    before = (Order.objects.count(), OrderLine.objects.count(), Shop.objects.count(), StockMovement.objects.count())
    report = run(tenant, orders_csv([*GOOD_ROWS, bad_row]))
    assert not report.applied
    assert [(e.line, e.column) for e in report.errors] == [(5, column)], report.errors
    assert message in report.errors[0].message
    assert (Order.objects.count(), OrderLine.objects.count(), Shop.objects.count(),
            StockMovement.objects.count()) == before


def test_every_problem_of_a_file_is_listed_not_only_the_first(tenant, skus):
    rows = [*GOOD_ROWS,
            "WX3,2024-05-01 10:00,,,王五,12345,浙江省,杭州市,,地址,NOPE,,0,10,"]
    report = run(tenant, orders_csv(rows))
    assert {(e.line, e.column) for e in report.errors} == {(5, "收件人电话"), (5, "SKU编码"), (5, "数量")}
    assert Order.objects.count() == 0


def test_a_missing_column_is_reported_on_the_header_line(tenant, skus):
    header = HEADER_ZH.replace(",收件人电话", "")
    rows = [",".join(r.split(",")[:5] + r.split(",")[6:]) for r in GOOD_ROWS]
    report = run(tenant, orders_csv(rows, header=header))
    assert [(e.line, e.column) for e in report.errors] == [(1, "收件人电话")]
    assert "缺少必填列" in report.errors[0].message
    assert Order.objects.count() == 0


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_utf8_bom_and_gbk_files_are_detected(tenant, skus, encoding):
    data = ("\n".join([HEADER_ZH, *GOOD_ROWS]) + "\n").encode(encoding)
    report = run(tenant, data)
    assert report.applied, report.errors
    assert Order.objects.get(platform_order_id="WX1001").receiver_name == "张三"


def test_a_file_in_a_wrong_encoding_is_refused_and_nothing_is_written(tenant, skus):
    data = ("\n".join([HEADER_ZH, *GOOD_ROWS]) + "\n").encode("utf-16")
    report = run(tenant, data)
    assert not report.applied and report.errors[0].line == 0
    assert "编码" in report.errors[0].message
    assert Order.objects.count() == 0


def test_xlsx_files_are_read(tenant, skus):
    ds = tablib.Dataset(headers=HEADER_ZH.split(","))
    for row in GOOD_ROWS:
        ds.append(row.split(","))
    report = run(tenant, ds.export("xlsx"), filename="orders.xlsx")
    assert report.applied, report.errors
    assert Order.objects.filter(platform="manual").count() == 2


def test_a_dry_run_writes_nothing(tenant, skus):
    report = run(tenant, orders_csv(), dry_run=True)
    assert report.ok and not report.applied
    assert Order.objects.count() == 0 and not Shop.objects.filter(platform="manual").exists()


def test_skus_import_creates_updates_and_reruns_as_no_op(tenant, other_tenant):
    factories.SkuFactory(tenant=other_tenant, code="X1", name="别人的")
    data = "商家编码,名称,条码,参考价,重量(克)\nX1,围巾,690001,59.90,200\nX2,帽子,,39,\n".encode()
    report = run(tenant, data, kind="skus")
    assert report.applied and report.counts == {"created": 2, "updated": 0, "unchanged": 0}
    assert Sku.objects.get(tenant=tenant, code="X1").name == "围巾"
    assert Sku.objects.get(tenant=other_tenant, code="X1").name == "别人的"
    assert run(tenant, data, kind="skus").counts == {"created": 0, "updated": 0, "unchanged": 2}
    bad = "code,name\nX3,\nX3,重复\n".encode()
    report = run(tenant, bad, kind="skus")
    assert [(e.line, e.column) for e in report.errors] == [(2, "名称"), (3, "商家编码")]
    assert not Sku.objects.filter(code="X3").exists()


def test_listing_import_maps_skus_to_shops_and_refuses_foreign_shops(tenant, other_tenant, world):
    factories.ShopFactory(tenant=other_tenant, name="别人的店")
    data = "店铺,平台商品ID,平台SKU ID,SKU编码\n天猫旗舰店,600100,800100,SKU-A\n".encode()
    report = run(tenant, data, kind="listings")
    assert report.applied, report.errors
    listing = Listing.objects.get(tenant=tenant, platform_item_id="600100")
    assert (listing.shop, listing.sku) == (world.shop, world.a)
    assert run(tenant, data, kind="listings").counts == {"created": 0, "updated": 0, "unchanged": 1}
    report = run(tenant, "shop,platform_item_id,sku\n别人的店,1,SKU-A\n".encode(), kind="listings")
    assert [(e.line, e.column) for e in report.errors] == [(2, "店铺")]


def test_stock_import_reuses_the_inventory_resource_all_or_nothing(tenant, world):
    data = "仓库编码,SKU编码,在库数量\nHZ,SKU-A,1200\nHZ,SKU-B,-1\n".encode()
    movements = StockMovement.objects.count()
    report = run(tenant, data, kind="stock")
    assert not report.applied
    assert [(e.line, e.column) for e in report.errors] == [(3, "在库数量")]
    assert StockMovement.objects.count() == movements
    report = run(tenant, b"warehouse,sku,on_hand\nHZ,SKU-A,1200\n", kind="stock")
    assert report.applied, report.errors
    assert StockLevel.objects.get(warehouse=world.wh, sku=world.a).on_hand == 1200


def test_the_page_previews_then_imports_and_shows_each_problem(tenant, skus, owner_client):
    page = reverse("orders:import")
    bad = orders_csv([*GOOD_ROWS, "WX9,2024-05-01 10:00,,,王五,12345,浙江省,杭州市,,地址,SKU-A,,1,10,"])
    html = owner_client.post(page, {"kind": "orders", "mode": "preview",
                                    "file": SimpleUploadedFile("o.csv", bad)}).content.decode()
    assert "发现问题，未导入任何数据" in html and "电话号码“12345”无效" in html and "<td>5</td>" in html
    resp = owner_client.post(page, {"kind": "orders", "mode": "preview", "file": SimpleUploadedFile("o.csv", orders_csv())})
    token = resp.context["token"]
    assert Order.objects.count() == 0
    html = owner_client.post(page, {"kind": "orders", "mode": "import", "token": token}).content.decode()
    assert "新建 2，更新 0，无变化 0" in html
    assert Order.objects.filter(platform="manual").count() == 2


def test_another_users_preview_token_is_a_404(tenant, skus, owner_client, client):
    resp = owner_client.post(reverse("orders:import"), {"kind": "orders", "mode": "preview",
                                                        "file": SimpleUploadedFile("o.csv", orders_csv())})
    client.force_login(factories.member(tenant, "ops"))
    resp = client.post(reverse("orders:import"), {"kind": "orders", "mode": "import", "token": resp.context["token"]})
    assert resp.status_code == 404
    assert Order.objects.count() == 0


@pytest.fixture
def eager():
    from oms.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def test_big_files_run_as_a_background_job_with_progress(tenant, skus, owner_client, eager, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    monkeypatch.setattr("orders.resources.BACKGROUND_ROWS", 2)
    with django_capture_on_commit_callbacks(execute=True):
        resp = owner_client.post(reverse("orders:import"), {"kind": "orders", "mode": "import",
                                                            "file": SimpleUploadedFile("o.csv", orders_csv())})
    job = ImportJob.objects.get(tenant=tenant)
    assert resp.status_code == 302 and resp["Location"] == reverse("orders:import_job", args=[job.pk])
    assert job.status == "done" and job.total_rows == 3
    assert job.result["created"] == 2
    status = owner_client.get(reverse("orders:import_job_status", args=[job.pk])).json()
    assert status["percent"] == 100 and status["finished"]
    assert "新建 2，更新 0，无变化 0" in owner_client.get(resp["Location"]).content.decode()

    bad = orders_csv([*GOOD_ROWS, "WX9,2024-05-01 10:00,,,王五,12345,浙江省,杭州市,,地址,SKU-A,,1,10,"])
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("orders:import"), {"kind": "orders", "mode": "import",
                                                     "file": SimpleUploadedFile("b.csv", bad)})
    job = ImportJob.objects.filter(tenant=tenant).order_by("-pk").first()
    assert job.status == "invalid" and job.errors[0]["line"] == 5
    assert Order.objects.count() == 2


def test_import_jobs_of_another_tenant_are_404(tenant, other_tenant, owner_client):
    theirs = ImportJob.objects.create(tenant=other_tenant, kind="orders", file_path="x.csv")
    assert owner_client.get(reverse("orders:import_job", args=[theirs.pk])).status_code == 404
    assert owner_client.get(reverse("orders:import_job_status", args=[theirs.pk])).status_code == 404


@pytest.mark.parametrize("lang, first", [("zh", "订单号"), ("en", "order_no")])
def test_templates_download_with_chinese_or_english_headers_and_import_back(tenant, owner_client, lang, first):
    resp = owner_client.get(reverse("orders:import_template", args=["orders", "csv"]), {"lang": lang})
    text = resp.content.decode("utf-8-sig")
    assert text.split(",")[0] == first
    resp = owner_client.get(reverse("orders:import_template", args=["skus", "xlsx"]), {"lang": lang})
    headers = tablib.Dataset().load(io.BytesIO(resp.content), format="xlsx").headers
    assert headers[0] == ("商家编码" if lang == "zh" else "code")
