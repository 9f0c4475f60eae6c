"""The race the issue names: a bulk-ship job in a real Celery worker has taken the waybill number
(the carrier call is in flight) when the platform's refund request arrives; mark-shipped runs
after it, inside its own transaction, and must refuse. When the refund completes, the number is
given back to the carrier by the worker."""

from __future__ import annotations

import pytest

from logistics import services as shipping
from logistics.models import BulkShipJob, Shipment
from orders import services
from orders.models import Hold, HoldReason
from tests.faults.conftest import assert_books_balance, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(autouse=True)
def _carrier_rows(transactional_db):
    """Another transactional test may have flushed the carrier reference rows the migrations seed."""
    from importlib import import_module

    from django.apps import apps

    from logistics.models import Carrier

    if not Carrier.objects.exists():
        import_module("logistics.migrations.0002_seed_carriers").seed(apps, None)


def test_a_refund_arriving_between_waybill_and_mark_shipped_stops_the_parcel_and_its_number_is_given_back(
        celery_worker_process, world):
    pids = [world.new_order(seed=seed) for seed in (1, 2)]
    world.pull()
    for pid in pids:
        services.order_allocate(order=world.order(pid))
    refunded, fine = (world.order(pid) for pid in pids)
    gate = world.carriers.state.hold_call("cainiao", after=0)  # the job's waybill call waits at the carrier
    job = shipping.bulk_ship_start(tenant_id=world.tenant.pk, order_ids=[refunded.pk, fine.pk],
                                   include_pick_list=False)  # queued on commit: the worker runs it
    try:
        assert gate.wait_reached(60), "the job never asked the carrier for its waybill numbers"
        world.modify(refunded.platform_order_id, refund="requested")  # the buyer asks for a refund ...
        world.pull()  # ... and the platform's message lands while the number is being issued
        assert Hold.objects.filter(order=refunded, reason=HoldReason.REFUND, resolved_at=None).exists()
    finally:
        gate.release()
    wait_for(lambda: BulkShipJob.objects.get(pk=job.pk).status == BulkShipJob.Status.DONE, timeout=60,
             what="the bulk-ship job to finish")

    job.refresh_from_db()
    assert (job.done, job.failed) == (1, 1), job.failures
    assert job.failures[0]["order_id"] == refunded.pk and "退款拦截" in job.failures[0]["reason"]
    parcel = Shipment.objects.get(order=refunded)
    assert parcel.status == "labelled" and parcel.tracking_number  # printed, never marked shipped
    assert world.order(refunded.platform_order_id).status == "on_hold"
    assert world.order(fine.platform_order_id).status == "shipped"
    wait_for(lambda: world.market.state.shipments, timeout=60, what="the platform to hear of the shipped parcel")
    assert [s["order_id"] for s in world.market.state.shipments] == [fine.platform_order_id]  # only that one

    world.modify(refunded.platform_order_id, refund="refunded")  # the refund completes: trade closed
    world.pull()
    assert world.order(refunded.platform_order_id).status == "cancelled"
    wait_for(lambda: Shipment.objects.get(pk=parcel.pk).status == "cancelled", timeout=60,
             what="the worker to give the waybill number back")
    assert world.carriers.state.parcel(parcel.tracking_number).cancelled
    assert_books_balance(world.tenant.pk)
