"""A real Celery worker SIGKILLed mid-bulk-ship (no shutdown, no acknowledgement) between two
waybill calls: the orders shipped stay shipped once, the stuck job is detected and re-queued by
the reaper, and the re-run ships the rest -- each order once, each with its one waybill."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Count

from inventory.models import MovementKind, StockMovement
from logistics import services as logistics_services
from logistics.models import BulkShipJob, Shipment, ShipmentLine
from orders.models import Order
from tests.faults.conftest import assert_books_balance, wait_for
from tests.logistics.conftest import accounts, make_order, rates, sandbox, shop, warehouse  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(autouse=True)
def _carriers(transactional_db):
    """Another transactional test may have flushed the carrier reference rows the migrations seed."""
    from importlib import import_module

    from django.apps import apps

    from logistics.models import Carrier

    if not Carrier.objects.exists():
        import_module("logistics.migrations.0002_seed_carriers").seed(apps, None)


def test_a_worker_killed_mid_bulk_ship_is_requeued_and_the_rerun_ships_each_order_once_with_its_waybill(
        workers, tenant, sandbox, rates, accounts, make_order):  # noqa: F811  (the logistics fixtures)
    orders = [make_order(qty=1) for _ in range(15)]  # one carrier: one waybill call per chunk of 10
    # the first waybill call is answered; the second is held -- and answered by the carrier
    # only after the worker is dead, so those numbers exist but never reached us
    gate = sandbox.state.hold_call("cainiao", after=1)
    job = logistics_services.bulk_ship_start(tenant_id=tenant.pk, order_ids=[o.pk for o in orders],
                                               include_pick_list=False)
    worker = workers()
    worker.send("logistics.tasks.bulk_ship", tenant.pk, job.pk)
    try:
        assert gate.wait_reached(60), f"the job never asked for its second waybill chunk; log:\n{worker.tail()}"
        worker.kill()
        issued_before = len(sandbox.state.cainiao)
    finally:
        gate.release()
    wait_for(lambda: len(sandbox.state.cainiao) > issued_before, timeout=30,
             what="the carrier to issue the held call's numbers after the worker died")

    job.refresh_from_db()
    assert job.status == BulkShipJob.Status.RUNNING  # what ops would see: stuck
    shipped_before = set(Shipment.objects.filter(tenant=tenant, status="shipped").values_list("order_id", flat=True))
    assert 0 < len(shipped_before) < len(orders)
    assert_books_balance(tenant.pk)
    assert logistics_services.bulk_ship_reap() == []  # the claim is alive: it may still be working

    workers()  # a fresh worker is running when the reaper re-queues the job
    later = job.started_at + logistics_services.JOB_LEASE + timedelta(seconds=1)
    assert logistics_services.bulk_ship_reap(now=later) == [job.pk]
    assert BulkShipJob.objects.get(pk=job.pk).error  # marked, with the reason, until the re-run claims it
    wait_for(lambda: BulkShipJob.objects.get(pk=job.pk).status == BulkShipJob.Status.DONE, timeout=90,
             what="the re-queued bulk-ship job to finish")

    job.refresh_from_db()
    assert (job.done, job.failed) == (len(orders), 0), job.failures
    assert Order.objects.filter(pk__in=[o.pk for o in orders], status="shipped").count() == len(orders)
    live = Shipment.objects.filter(tenant=tenant).exclude(status="cancelled")
    assert live.count() == len(orders)
    assert not live.values("order_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not live.filter(tracking_number="").exists()  # never shipped without a waybill
    assert len(sandbox.state.cainiao) == len(orders)  # and never a second number for a parcel
    assert set(live.values_list("tracking_number", flat=True)) == set(sandbox.state.cainiao.values())
    assert ShipmentLine.objects.filter(tenant=tenant).count() == len(orders)
    assert StockMovement.objects.filter(tenant=tenant, kind=MovementKind.SHIP).count() == len(orders)
    assert_books_balance(tenant.pk)
