"""PDFs: a waybill label and a 200-order pick list render, and their text (pdftotext) holds the
Chinese address, the tracking number and the SKUs in bin order; platform strings are escaped."""

import shutil
import subprocess

import pytest

from logistics import documents
from logistics.models import Shipment
from tests import factories
from tests.factories_logistics import carrier

pytestmark = pytest.mark.django_db
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_pages(pdf: bytes, tmp_path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


@pytest.fixture
def labelled(tenant, warehouse):
    order = factories.OrderFactory(tenant=tenant, warehouse=warehouse, receiver_name="李<b>四</b>",
                                   receiver_phone="13912345678", receiver_province="广东省", receiver_city="深圳市",
                                   receiver_district="南山区", receiver_address="科技园南区深南大道 9988 号")
    sku = factories.SkuFactory(tenant=tenant, code="TS-RED-L", name="红色T恤 L")
    factories.OrderLineFactory(tenant=tenant, order=order, sku=sku, outer_sku_id="TS-RED-L", quantity=2, title="红色T恤")
    return Shipment.objects.create(tenant=tenant, order=order, warehouse=warehouse, carrier=carrier("SF"),
                                   service="express", tracking_number="SF1400000000123", status="labelled",
                                   weight_grams=1050)


@needs_poppler
def test_label_pdf_has_the_address_tracking_number_and_masked_phone(tenant, labelled, tmp_path):
    pdf = documents.labels_pdf(tenant_id=tenant.pk, shipment_ids=[labelled.pk])
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    flat = "".join(text.split())
    assert "SF1400000000123" in flat
    assert "广东省深圳市南山区" in flat and "科技园南区深南大道9988号" in flat
    assert "139****5678" in flat and "13912345678" not in flat
    assert "顺丰速运" in flat and "TS-RED-L×2" in flat and "1.05kg" in flat
    assert "杭州一号仓" not in flat and "仓管小王" in flat  # sender: the warehouse contact
    assert pdf_pages(pdf, tmp_path) == 1


def test_platform_strings_are_escaped_in_the_html(tenant, labelled):
    html = documents.documents_html(tenant_id=tenant.pk, shipments=[labelled], slip_orders=[labelled.order])
    assert "李&lt;b&gt;四&lt;/b&gt;" in html
    assert "李<b>四</b>" not in html
    assert "<svg" in html  # the barcode and QR are inline SVG


@needs_poppler
def test_a_200_order_pick_list_is_aggregated_by_sku_sorted_by_bin(tenant, warehouse, tmp_path):
    skus = []
    bins = ["C-03", "A-01", "B-12", ""] + [f"D-{i:02d}" for i in range(56)]
    for i, bin_location in enumerate(bins):
        sku = factories.SkuFactory(tenant=tenant, code=f"PK-{i}", name=f"拣货商品{i}号")
        factories.StockLevelFactory(tenant=tenant, warehouse=warehouse, sku=sku, bin_location=bin_location)
        skus.append(sku)
    orders = []
    for n in range(200):
        order = factories.OrderFactory(tenant=tenant, warehouse=warehouse, status="picking",
                                       receiver_address=f"文三路 {n} 号")
        factories.OrderLineFactory(tenant=tenant, order=order, sku=skus[n % 4], quantity=1 + n % 3)
        factories.OrderLineFactory(tenant=tenant, order=order, sku=skus[4 + n % 56], quantity=1)
        orders.append(order)
    rows, _numbers = documents.pick_rows(tenant.pk, orders)
    codes = [r.sku_code for r in rows]
    assert codes[:3] == ["PK-1", "PK-2", "PK-0"] and codes[-1] == "PK-3"  # A-01, B-12, C-03, ..., no bin last
    assert len(rows) == 60
    assert sum(r.quantity for r in rows) == sum(1 + n % 3 for n in range(200)) + 200
    assert len(rows[0].orders) == 50
    pdf = documents.pick_list_pdf(tenant_id=tenant.pk, order_ids=[o.pk for o in orders])
    text = pdf_text(pdf, tmp_path)
    flat = "".join(text.split())
    assert "拣货单" in flat and "拣货商品1号" in flat
    assert flat.index("A-01") < flat.index("B-12") < flat.index("C-03")
    assert orders[0].number in flat and orders[-1].number in flat
    assert pdf_pages(pdf, tmp_path) > 1


@needs_poppler
def test_packing_slip(tenant, labelled, tmp_path):
    labelled.order.buyer_note = "请不要放发票"
    labelled.order.save()
    pdf = documents.packing_slips_pdf(tenant_id=tenant.pk, order_ids=[labelled.order.pk])
    flat = "".join(pdf_text(pdf, tmp_path).split())
    assert "发货清单" in flat and labelled.order.number in flat and "红色T恤" in flat and "请不要放发票" in flat
    assert pdf_pages(pdf, tmp_path) == 1
