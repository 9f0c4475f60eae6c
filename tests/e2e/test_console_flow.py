"""The ops console in a real browser: log in, filter a worklist, approve, bulk ship with the
progress bar (fake carriers of logistics.sandbox), open the PDF, CS lookup, import a CSV with
one bad row (error shown, nothing imported), and the buyer's tracking page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from orders.canonical import CanonicalLine
from orders.models import Order
from orders.services import order_ingest
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager():
    from oms.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def test_ops_and_customer_service_flow(page, shots, live_server, tenant, owner, shop, warehouse, make_order,
                                       rates, accounts, sandbox, eager):
    # two allocated orders ready to ship, and one order waiting for review
    to_ship = [make_order(qty=1, receiver_name="发货甲"), make_order(qty=2, receiver_name="发货乙")]
    tenant.auto_approve = False
    tenant.save(update_fields=["auto_approve"])
    sku = to_ship[0].lines.get().sku
    c = factories.canonical("REVIEW-1", lines=[CanonicalLine("1", 1, Decimal("59.00"), outer_sku_id=sku.code)],
                            receiver_name="审核丙", receiver_phone="13712345678")
    c.paid_amount = Decimal("59.00")
    review = Order.objects.get(pk=order_ingest(tenant=tenant, shop=shop, canonical=c).order_id)
    assert review.status == "pending_review"

    # log in
    page.goto("/admin/login/?next=/orders/work/")
    page.fill("#id_username", owner.username)
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/orders/work/pending_review/"))
    shots(page, "01-worklist-pending-review")

    # filter the worklist
    page.fill("#id_q", "REVIEW-1")
    page.click("#filter-submit")
    page.wait_for_url(re.compile(r"q=REVIEW-1"))
    assert page.locator("table.list tbody tr").count() == 1
    assert review.number in page.locator("table.list").inner_text()

    # approve it
    page.check(f"input[name=pk][value='{review.pk}']")
    page.select_option("select[name=action]", "approve")
    page.click("#bulk-submit")
    page.wait_for_selector("#bulk-outcome")
    assert "成功 1 条，失败 0 条" in page.inner_text("#bulk-outcome")
    shots(page, "02-worklist-approved")
    review.refresh_from_db()
    assert review.status == "approved"

    # bulk ship the allocated orders with the progress bar
    page.click("#tab-to_ship")
    page.wait_for_url(re.compile(r"/orders/work/to_ship/"))
    shots(page, "03-worklist-to-ship")
    page.check("#check-page")
    page.select_option("select[name=action]", "bulk_ship")
    page.click("#bulk-submit")
    page.wait_for_selector("#confirm-ship")
    page.click("#confirm-ship")
    page.wait_for_url(re.compile(r"/logistics/bulk-ship/\d+/"))
    page.wait_for_function("document.getElementById('done').textContent === '2'", timeout=60_000)
    page.wait_for_selector("#pdf a", timeout=60_000)
    shots(page, "04-bulk-ship-progress")
    pdf_url = page.get_attribute("#pdf a", "href")
    pdf = page.request.get(pdf_url)
    assert pdf.status == 200 and pdf.body()[:4] == b"%PDF"
    for o in to_ship:
        o.refresh_from_db()
        assert o.status == "shipped"

    # customer-service lookup by phone, open the order
    page.goto("/orders/lookup/")
    page.fill("input[name=q]", "13712345678")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("#lookup-results")
    shots(page, "05-lookup")
    page.click(f"#lookup-results a:has-text('{review.number}')")
    page.wait_for_url(re.compile(rf"/orders/{review.pk}/$"))
    assert review.number in page.inner_text("h1")

    # import a CSV with one bad row: the error is shown, nothing is imported
    csv_text = ("订单号,下单时间,收件人,收件人电话,省,市,详细地址,SKU编码,数量,单价\n"
                f"IMP-1,2024-05-01 10:00,赵六,13800138000,浙江省,杭州市,文一路 1 号,{sku.code},1,10\n"
                f"IMP-2,2024-05-01 11:00,钱七,12345,浙江省,杭州市,文一路 2 号,{sku.code},1,10\n")
    page.goto("/orders/import/?kind=orders")
    page.set_input_files("input[name=file]", files=[{"name": "orders.csv", "mimeType": "text/csv",
                                                      "buffer": csv_text.encode()}])
    page.click("#import-btn")
    page.wait_for_selector("#import-errors")
    errors = page.inner_text("#import-errors")
    assert "3" in errors and "收件人电话" in errors and "12345" in errors
    shots(page, "06-import-error")
    assert not Order.objects.filter(platform_order_id__startswith="IMP-").exists()

    # reports
    page.goto("/orders/reports/sales/")
    page.wait_for_selector("#report-table")
    shots(page, "07-report-sales")

    # the buyer's tracking page
    shipped = to_ship[0]
    page.goto("/logistics/track/")
    page.fill("#number", shipped.number)
    page.fill("#phone", shipped.receiver_phone[-4:])
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()
    shots(page, "08-buyer-tracking")
    assert "已发货" in page.content()
