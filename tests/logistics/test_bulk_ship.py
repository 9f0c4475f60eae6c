"""一键发货: waybills from the sandbox, shipped orders, stock consumed (levels and ledger), a failing
order left unshipped with its reason, re-runs skip what is done, one merged PDF."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Sum

from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
from logistics.models import BulkShipJob, CarrierRule, Shipment, ShipmentLine
from logistics.services import ShipmentError, bulk_ship_run, bulk_ship_start, shipment_prepare, shipment_ship
from oms import signals
from orders.models import OrderEvent
from tests.factories_logistics import carrier

pytestmark = pytest.mark.django_db


@pytest.fixture
def captured():
    got = []

    def receiver(sender, **kwargs):
        got.append(kwargs)

    signals.shipment_shipped.connect(receiver, dispatch_uid="test-capture")
    yield got
    signals.shipment_shipped.disconnect(dispatch_uid="test-capture")


def test_bulk_ship_with_one_failing_order(tenant, rates, accounts, sandbox, make_order, owner, captured,
                                          django_capture_on_commit_callbacks):
    CarrierRule.objects.create(tenant=tenant, name="加急订单", urgent=True, carrier=carrier("SF"), service="express")
    good = [make_order(qty=2), make_order(qty=1, urgent=True), make_order(qty=3)]
    bad = make_order(qty=1, receiver_name="拒收王")
    sandbox.state.rejected_names["cainiao"].add("拒收王")  # the fake refuses this receiver's waybill
    skus = {o.pk: o.lines.get().sku_id for o in good + [bad]}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = bulk_ship_start(tenant_id=tenant.pk, order_ids=[o.pk for o in good + [bad]], actor=owner)
    assert len(callbacks) == 1  # the Celery task is queued after commit
    job = bulk_ship_run(tenant_id=tenant.pk, job_id=job.pk)

    assert (job.status, job.total, job.done, job.failed) == ("done", 4, 3, 1)
    assert job.failures[0]["order_id"] == bad.pk
    assert job.failures[0]["platform_order_id"] == bad.platform_order_id
    assert "取号失败" in job.failures[0]["reason"] and "派送范围" in job.failures[0]["reason"]
    for order in good:
        order.refresh_from_db()
        assert order.status == "shipped"
        s = Shipment.objects.get(order=order)
        assert s.status == "shipped" and s.tracking_number and s.shipped_at and s.next_poll_at
        assert ShipmentLine.objects.filter(shipment=s).aggregate(q=Sum("quantity"))["q"] == order.lines.get().quantity
        # stock consumed: the level AND the ledger
        level = StockLevel.objects.get(tenant=tenant, sku_id=skus[order.pk])
        qty = order.lines.get().quantity
        assert (level.on_hand, level.reserved) == (100 - qty, 0)
        ship_rows = StockMovement.objects.filter(tenant=tenant, sku_id=skus[order.pk], kind=MovementKind.SHIP)
        assert [(m.on_hand_delta, m.reserved_delta, m.reference) for m in ship_rows] == [(-qty, -qty, f"shipment:{s.pk}")]
        ledger = StockMovement.objects.filter(tenant=tenant, sku_id=skus[order.pk]).aggregate(
            oh=Sum("on_hand_delta"), r=Sum("reserved_delta"))
        assert (ledger["oh"], ledger["r"]) == (level.on_hand, level.reserved)
        assert OrderEvent.objects.filter(order=order, type="waybill").count() == 1
    urgent = Shipment.objects.get(order=good[1])
    assert urgent.carrier.code == "SF" and urgent.tracking_number.startswith("SF")
    assert Shipment.objects.get(order=good[0]).carrier.code == "YTO"
    # the failed order: not shipped, no number, its stock still reserved
    bad.refresh_from_db()
    assert bad.status == "picking"
    bad_s = Shipment.objects.get(order=bad)
    assert bad_s.status == "created" and bad_s.tracking_number == "" and "派送范围" in bad_s.last_error
    assert Reservation.objects.get(order_id=bad.pk).status == "active"
    level = StockLevel.objects.get(tenant=tenant, sku_id=skus[bad.pk])
    assert (level.on_hand, level.reserved) == (100, 1)
    # the signal carried the documented payload
    assert sorted(c["order_id"] for c in captured) == sorted(o.pk for o in good)
    first = next(c for c in captured if c["order_id"] == good[0].pk)
    assert first["carrier_code"] == "YTO" and first["lines"] == [
        {"line_id": good[0].lines.get().pk, "sku_id": skus[good[0].pk], "quantity": 2}]
    # the merged PDF: 3 labels + the pick list
    path = Path(settings.MEDIA_ROOT) / job.pdf_path
    assert path.exists() and path.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        for order in good:
            assert Shipment.objects.get(order=order).tracking_number in text
        assert "拣货单" in text
        assert bad.number not in text

    # fix the cause and run again: the three are skipped, the fourth ships, still one number each
    sandbox.state.rejected_names["cainiao"].clear()
    numbers_before = {o.pk: Shipment.objects.get(order=o).tracking_number for o in good}
    requests_before = len(sandbox.state.requests)
    job = bulk_ship_run(tenant_id=tenant.pk, job_id=job.pk)
    assert (job.done, job.failed, job.failures) == (4, 0, [])
    assert {o.pk: Shipment.objects.get(order=o).tracking_number for o in good} == numbers_before
    assert len(sandbox.state.requests) == requests_before + 1  # only the fourth order's waybill
    bad.refresh_from_db()
    assert bad.status == "shipped"
    assert StockMovement.objects.filter(tenant=tenant, kind=MovementKind.SHIP).count() == 4


def test_a_lost_waybill_answer_never_yields_a_second_number(tenant, rates, accounts, sandbox, make_order):
    order = make_order()
    sandbox.state.inject("cainiao", "http500_after")
    job = bulk_ship_start(tenant_id=tenant.pk, order_ids=[order.pk])
    job = bulk_ship_run(tenant_id=tenant.pk, job_id=job.pk)
    assert job.done == 1
    assert len(sandbox.state.cainiao) == 1
    assert Shipment.objects.get(order=order).tracking_number == next(iter(sandbox.state.cainiao.values()))


def test_ship_is_refused_without_a_waybill(tenant, rates, make_order):
    order = make_order()
    s = shipment_prepare(tenant_id=tenant.pk, order_id=order.pk)
    with pytest.raises(ShipmentError, match="没有运单号"):
        shipment_ship(tenant_id=tenant.pk, shipment_id=s.pk)
    order.refresh_from_db()
    assert order.status == "picking"
    assert not ShipmentLine.objects.exists()
    assert not StockMovement.objects.filter(kind=MovementKind.SHIP).exists()


def test_missing_account_is_a_listed_failure(tenant, rates, make_order):
    order = make_order()
    job = bulk_ship_start(tenant_id=tenant.pk, order_ids=[order.pk])
    job = bulk_ship_run(tenant_id=tenant.pk, job_id=job.pk)
    assert job.failed == 1 and "没有配置菜鸟电子面单" in job.failures[0]["reason"]
    assert job.pdf_path == ""
    order.refresh_from_db()
    assert order.status == "picking"


def test_another_tenants_orders_are_ignored_when_starting(tenant, other_tenant, rates, make_order):
    from tests import factories

    theirs = factories.OrderFactory(tenant=other_tenant)
    with pytest.raises(ShipmentError):
        bulk_ship_start(tenant_id=tenant.pk, order_ids=[theirs.pk])
    mine = make_order()
    job = bulk_ship_start(tenant_id=tenant.pk, order_ids=[mine.pk, theirs.pk])
    assert job.order_ids == [mine.pk] and job.total == 1
    assert not BulkShipJob.objects.filter(tenant=other_tenant).exists()


def test_bulk_pages_progress_json_and_pdf(tenant, rates, accounts, make_order, owner_client):
    orders = [make_order(), make_order()]
    page = owner_client.get("/logistics/bulk-ship/")
    assert page.status_code == 200
    html = page.content.decode()
    for o in orders:
        assert f'value="{o.pk}"' in html and o.number in html
    resp = owner_client.post("/logistics/bulk-ship/", {"order": [o.pk for o in orders], "pick_list": "1"})
    job = BulkShipJob.objects.get(tenant=tenant)
    assert resp.status_code == 302 and resp["Location"] == f"/logistics/bulk-ship/{job.pk}/"
    status = owner_client.get(f"/logistics/bulk-ship/{job.pk}/status.json").json()
    assert status["status"] == "queued" and status["total"] == 2 and status["pdf_url"] == ""
    bulk_ship_run(tenant_id=tenant.pk, job_id=job.pk)
    status = owner_client.get(f"/logistics/bulk-ship/{job.pk}/status.json").json()
    assert (status["status"], status["done"], status["percent"]) == ("done", 2, 100)
    page = owner_client.get(f"/logistics/bulk-ship/{job.pk}/").content.decode()
    assert "<progress" in page and status["pdf_url"] in page
    pdf = owner_client.get(status["pdf_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
