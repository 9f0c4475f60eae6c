"""Stock levels and reorder points by CSV: all-or-nothing, line numbers, idempotent, tenant-scoped."""

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile

from inventory import services
from inventory.models import MovementKind, ReorderPoint, StockLevel, StockMovement
from inventory.resources import StockLevelResource
from tests import factories
from tests.inventory.helpers import assert_levels_equal_ledger, level

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant, other_tenant):
    hz = factories.WarehouseFactory(tenant=tenant, code="HZ", name="杭州仓")
    gz = factories.WarehouseFactory(tenant=tenant, code="GZ", name="广州仓")
    a = factories.SkuFactory(tenant=tenant, code="A", name="短袖")
    b = factories.SkuFactory(tenant=tenant, code="B", name="长裤")
    factories.SkuFactory(tenant=other_tenant, code="THEIRS")
    factories.WarehouseFactory(tenant=other_tenant, code="XX")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=hz.pk, sku_id=a.pk, quantity=10)
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=1, lines=[{"line_id": 1, "sku_id": a.pk, "quantity": 4}])
    return hz, gz, a, b


def csv(text: str) -> tablib.Dataset:
    return tablib.Dataset().load(text.strip() + "\n", format="csv")


GOOD = """
warehouse,sku,on_hand,reorder_point
HZ,A,12,5
GZ,B,7,
HZ,B,0,2
"""


def test_a_good_file_is_applied_as_counts_through_the_ledger_and_a_rerun_changes_nothing(tenant, world):
    hz, gz, a, b = world
    result = StockLevelResource(tenant_id=tenant.pk).import_data(csv(GOOD))
    assert not result.has_errors() and not result.has_validation_errors()
    assert (level(hz, a).on_hand, level(hz, a).reserved, level(gz, b).on_hand, level(hz, b).on_hand) == (12, 4, 7, 0)
    adjusts = sorted(StockMovement.objects.filter(kind=MovementKind.ADJUST).values_list("sku__code", "on_hand_delta"))
    assert adjusts == [("A", 2), ("B", 7)]  # HZ/B: 0 counted, 0 on hand -> nothing written
    assert dict(ReorderPoint.objects.values_list("warehouse__code", "reorder_point").filter(sku=a)) == {"HZ": 5}
    assert ReorderPoint.objects.get(sku=b, warehouse=hz).reorder_point == 2
    movements = StockMovement.objects.count()

    again = StockLevelResource(tenant_id=tenant.pk).import_data(csv(GOOD))
    assert not again.has_errors() and not again.has_validation_errors()
    assert StockMovement.objects.count() == movements
    assert_levels_equal_ledger()


@pytest.mark.parametrize("bad_row, line, message", [
    ("HZ,NOPE,3,", 3, "未知 SKU 编码"),
    ("XX,A,3,", 3, "未知仓库编码"),              # another tenant's warehouse code
    ("HZ,THEIRS,3,", 3, "未知 SKU 编码"),        # another tenant's SKU code
    ("GZ,A,-1,", 3, "不能为负数"),
    ("GZ,A,2.5,", 3, "不是整数"),
    ("GZ,A,abc,", 3, "不是整数"),
    ("GZ,A,3,x", 3, "补货点"),
    ("HZ,A,3,", 3, "小于已占用 4"),             # below what is reserved
    ("GZ,B,1,", 3, "重复"),                     # the same level twice
])
def test_a_bad_row_is_reported_with_its_line_and_nothing_is_written(tenant, world, bad_row, line, message):
    text = "warehouse,sku,on_hand,reorder_point\nGZ,B,9,3\n" + bad_row + "\n"
    before = (StockMovement.objects.count(), list(StockLevel.objects.values_list("pk", "on_hand", "reserved")))
    result = StockLevelResource(tenant_id=tenant.pk).import_data(csv(text))
    assert result.has_validation_errors() or result.has_errors()
    errors = " ".join(str(e) for row in result.invalid_rows for e in row.error.messages)
    assert f"第 {line} 行" in errors and message in errors, errors
    assert (StockMovement.objects.count(), list(StockLevel.objects.values_list("pk", "on_hand", "reserved"))) == before
    assert not ReorderPoint.objects.exists()


def test_a_file_without_the_required_columns_is_refused(tenant, world):
    result = StockLevelResource(tenant_id=tenant.pk).import_data(csv("warehouse,on_hand\nHZ,3"))
    assert result.has_errors()
    assert level(world[0], world[2]).on_hand == 10


def test_export_shows_levels_with_available_and_reorder_point_of_the_tenant_only(tenant, other_tenant, world):
    hz, gz, a, b = world
    services.reorder_point_set(tenant_id=tenant.pk, sku_id=a.pk, warehouse_id=hz.pk, reorder_point=3)
    theirs = factories.StockLevelFactory(tenant=other_tenant)
    data = StockLevelResource(tenant_id=tenant.pk).export()
    assert data.headers == ["warehouse", "sku", "sku_name", "on_hand", "reserved", "available", "reorder_point"]
    assert [[str(v) for v in r] for r in data] == [["HZ", "A", "短袖", "10", "4", "6", "3"]]
    assert theirs.sku.code not in data.csv
    # the export, re-imported unchanged, changes nothing
    movements = StockMovement.objects.count()
    result = StockLevelResource(tenant_id=tenant.pk).import_data(csv(data.csv))
    assert not result.has_validation_errors() and not result.has_errors()
    assert StockMovement.objects.count() == movements


def test_admin_import_preview_and_confirm_and_export(tenant, owner_client, world):
    hz, gz, a, b = world
    upload = SimpleUploadedFile("count.csv", b"warehouse,sku,on_hand\nHZ,A,15\nGZ,B,3\n", content_type="text/csv")
    resp = owner_client.post("/admin/inventory/stocklevel/import/", {
        "resource": 0, "format": 0, "import_file": upload})
    assert resp.status_code == 200
    assert level(hz, a).on_hand == 10  # the preview writes nothing
    confirm = resp.context["confirm_form"]
    assert confirm is not None
    resp = owner_client.post("/admin/inventory/stocklevel/process_import/", {
        **confirm.initial, "resource": 0, "format": 0})
    assert resp.status_code == 302
    assert (level(hz, a).on_hand, level(gz, b).on_hand) == (15, 3)

    bad = SimpleUploadedFile("bad.csv", b"warehouse,sku,on_hand\nHZ,A,1\n", content_type="text/csv")
    resp = owner_client.post("/admin/inventory/stocklevel/import/", {"resource": 0, "format": 0, "import_file": bad})
    assert "小于已占用" in resp.content.decode() and resp.context.get("confirm_form") is None

    resp = owner_client.post("/admin/inventory/stocklevel/export/", {"format": 0, "resource": 0,
                                                                    **{f"stocklevelresource_{f}": "on" for f in (
                                                                        "warehouse", "sku", "on_hand", "available")}})
    assert resp.status_code == 200
    body = resp.content.decode("utf-8-sig")
    assert "HZ,A,15,11" in body.replace("\r", "")
