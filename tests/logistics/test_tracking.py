"""Tracking: sandbox timelines into TrackingEvents, state mapping, back-off while quiet, stop at
a final state, order delivered, shipment_status_changed on commit, the dispatcher."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from logistics import services, tasks
from logistics.adapters.base import TrackEvent, TrackResult
from logistics.models import Shipment, TrackingEvent
from logistics.services import next_poll_delay, tracking_poll, tracking_record
from oms import signals
from orders.models import OrderEvent

pytestmark = pytest.mark.django_db
CN = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def status_changes():
    got = []

    def receiver(sender, **kwargs):
        got.append(kwargs)

    signals.shipment_status_changed.connect(receiver, dispatch_uid="test-status")
    yield got
    signals.shipment_status_changed.disconnect(dispatch_uid="test-status")


@pytest.fixture
def shipped(tenant, rates, accounts, make_order):
    order = make_order()
    job = services.bulk_ship_start(tenant_id=tenant.pk, order_ids=[order.pk])
    services.bulk_ship_run(tenant_id=tenant.pk, job_id=job.pk)
    return Shipment.objects.select_related("carrier").get(order=order)


def test_back_off_doubles_from_two_hours_and_caps_at_a_day():
    assert [next_poll_delay(n) for n in range(6)] == [timedelta(hours=h) for h in (2, 4, 8, 16, 24, 24)]


def test_polling_follows_the_parcel_to_delivery(tenant, shipped, sandbox, status_changes,
                                                django_capture_on_commit_callbacks):
    assert shipped.carrier.code == "YTO" and shipped.status == "shipped"
    now = timezone.now()
    s = tracking_poll(tenant_id=tenant.pk, shipment_id=shipped.pk, now=now)  # nothing yet
    assert s.status == "shipped" and s.poll_count == 1 and s.quiet_polls == 1
    assert s.next_poll_at == now + timedelta(hours=4)

    sandbox.state.advance(13)
    with django_capture_on_commit_callbacks(execute=True):
        s = tracking_poll(tenant_id=tenant.pk, shipment_id=shipped.pk, now=now)
    assert s.status == "in_transit" and s.quiet_polls == 0 and s.next_poll_at == now + timedelta(hours=2)
    assert TrackingEvent.objects.filter(shipment=s).count() == 3
    assert status_changes == [{"signal": signals.shipment_status_changed, "tenant_id": tenant.pk,
                               "shipment_id": s.pk, "order_id": s.order_id, "status": "in_transit"}]

    # the same answer again: nothing new, no duplicate rows, poll later, no signal
    with django_capture_on_commit_callbacks(execute=True):
        s = tracking_poll(tenant_id=tenant.pk, shipment_id=shipped.pk, now=now)
        s = tracking_poll(tenant_id=tenant.pk, shipment_id=shipped.pk, now=now)
    assert TrackingEvent.objects.filter(shipment=s).count() == 3
    assert s.quiet_polls == 2 and s.next_poll_at == now + timedelta(hours=8)
    assert len(status_changes) == 1

    sandbox.state.advance(27)
    with django_capture_on_commit_callbacks(execute=True):
        s = tracking_poll(tenant_id=tenant.pk, shipment_id=shipped.pk, now=now)
    assert s.status == "delivered" and s.delivered_at and s.next_poll_at is None
    assert [e.status for e in TrackingEvent.objects.filter(shipment=s)][-2:] == ["out_for_delivery", "delivered"]
    assert [c["status"] for c in status_changes] == ["in_transit", "delivered"]
    s.order.refresh_from_db()
    assert s.order.status == "delivered"
    assert OrderEvent.objects.filter(order=s.order, type="shipment_status").count() == 2
    # final: further polls do nothing
    count = s.poll_count
    s = tracking_poll(tenant_id=tenant.pk, shipment_id=shipped.pk, now=now)
    assert s.poll_count == count


def test_returned_is_final_without_delivering_the_order(tenant, shipped, sandbox):
    sandbox.state.set_scenario(shipped.tracking_number, "returned")
    sandbox.state.advance(31)
    s = tracking_poll(tenant_id=tenant.pk, shipment_id=shipped.pk)
    assert s.status == "problem" and s.next_poll_at is not None  # being returned: still moving
    sandbox.state.advance(40)
    s = tracking_poll(tenant_id=tenant.pk, shipment_id=shipped.pk)
    assert s.status == "returned" and s.next_poll_at is None
    s.order.refresh_from_db()
    assert s.order.status == "shipped"


def test_carrier_errors_back_off_and_are_recorded(tenant, shipped, sandbox):
    sandbox.state.inject("kuaidi100", "http500", count=10)
    now = timezone.now()
    s = tracking_poll(tenant_id=tenant.pk, shipment_id=shipped.pk, now=now)
    assert "HTTP 500" in s.last_error and s.quiet_polls == 1 and s.next_poll_at == now + timedelta(hours=4)


def test_sf_parcels_use_sf_routes(tenant, rates, accounts, make_order, sandbox):
    from logistics.models import CarrierRule
    from tests.factories_logistics import carrier

    CarrierRule.objects.create(tenant=tenant, name="全部顺丰", carrier=carrier("SF"))
    order = make_order()
    job = services.bulk_ship_start(tenant_id=tenant.pk, order_ids=[order.pk])
    services.bulk_ship_run(tenant_id=tenant.pk, job_id=job.pk)
    s = Shipment.objects.get(order=order)
    sandbox.state.advance(27)
    before = len(sandbox.state.requests)
    s = tracking_poll(tenant_id=tenant.pk, shipment_id=s.pk)
    assert s.status == "out_for_delivery"
    assert sandbox.state.requests[before:] == [("sf", "EXP_RECE_SEARCH_ROUTES")]
    assert TrackingEvent.objects.filter(shipment=s, raw_state="50").exists()


def test_record_dedupes_and_maps(tenant, shipped):
    t0 = datetime(2026, 5, 1, 10, 0, tzinfo=CN)
    events = [TrackEvent(t0, "已揽收", "杭州", "1", "in_transit"),
              TrackEvent(t0 + timedelta(hours=20), "派件异常：电话无法接通", "上海", "2", "problem")]
    s = tracking_record(tenant_id=tenant.pk, shipment_id=shipped.pk, result=TrackResult("x", "problem", events, "2"))
    s = tracking_record(tenant_id=tenant.pk, shipment_id=shipped.pk, result=TrackResult("x", "problem", events, "2"))
    assert s.status == "problem"
    assert list(TrackingEvent.objects.filter(shipment=s).values_list("status", flat=True)) == ["in_transit", "problem"]


def test_dispatcher_queues_due_shipments_once(tenant, shipped, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.poll_shipment, "delay", lambda *a: queued.append(a))
    Shipment.objects.filter(pk=shipped.pk).update(next_poll_at=timezone.now() - timedelta(minutes=1))
    assert tasks.dispatch_tracking_polls() == 1
    assert queued == [(tenant.pk, shipped.pk)]
    assert tasks.dispatch_tracking_polls() == 0  # leased: not queued twice while waiting
    Shipment.objects.filter(pk=shipped.pk).update(status="delivered", next_poll_at=timezone.now() - timedelta(hours=1))
    assert tasks.dispatch_tracking_polls() == 0


def test_beat_runs_the_dispatcher():
    from django.conf import settings

    entries = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "logistics.tasks.dispatch_tracking_polls" in entries
