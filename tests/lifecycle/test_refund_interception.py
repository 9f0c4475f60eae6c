"""退款拦截: a refund request on an order that has not left the warehouse stops it at once, on
the pull and on push intake; the rest of its life (withdrawn, partly or fully refunded, the
printed parcel, the pick list, the bulk ship) through the real entry points."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from channels.push.tmc import TmcConsumer
from inventory.models import Reservation, ReservationStatus, StockLevel
from logistics import documents
from logistics import services as shipping
from logistics.models import Shipment
from orders import services
from orders.models import Hold, HoldReason, OrderEvent, ReturnRequest
from orders.worklists import BY_KEY, worklist_queryset
from tests import factories


def _allocated(world, *, seeds=(1,), **kw):
    """Paid orders on the platform, pulled, approved and allocated: their platform ids."""
    pids = [world.new_order(seed=seed, **kw) for seed in seeds]
    world.pull()
    for pid in pids:
        order = world.order(pid)
        assert order.status == "approved", list(order.holds.values_list("reason", "detail"))
        services.order_allocate(order=order)
        assert world.order(pid).status == "allocated"
    return pids[0] if len(pids) == 1 else pids


def _labelled(world, pid):
    """Picked and labelled, not shipped: what a bulk ship has done just before mark-shipped."""
    order = world.order(pid)
    parcel = shipping.shipment_prepare(tenant_id=world.tenant.pk, order_id=order.pk)
    assert shipping.waybill_request(tenant_id=world.tenant.pk, shipment_ids=[parcel.pk]) == {}
    parcel.refresh_from_db()
    assert parcel.status == "labelled" and parcel.tracking_number
    return parcel


def _in_tab(world, key, order):
    return worklist_queryset(world.tenant.pk, BY_KEY[key]).filter(pk=order.pk).exists()


def _reserved(world) -> int:
    return StockLevel.objects.filter(tenant=world.tenant).aggregate(r=Sum("reserved"))["r"]


@pytest.mark.django_db
def test_a_refund_request_on_the_pull_stops_an_allocated_order_and_shows_in_the_intercept_tab(world, client):
    pid = _allocated(world)
    order = world.order(pid)
    assert _in_tab(world, "to_ship", order)
    line = order.lines.first()
    world.modify(pid, line_refunds={line.platform_line_id: "requested"})
    world.pull()

    order = world.order(pid)
    hold = Hold.objects.get(order=order, reason=HoldReason.REFUND, resolved_at=None)
    assert line.outer_sku_id in hold.detail and "买家申请退款" in hold.detail
    assert order.status == "on_hold"
    assert not _in_tab(world, "to_ship", order) and _in_tab(world, "intercepted", order)
    assert Reservation.objects.filter(order_id=order.pk, status=ReservationStatus.ACTIVE).exists()  # may still ship
    client.force_login(factories.member(world.tenant, "ops"))
    page = client.get("/orders/work/intercepted/").content.decode()
    assert order.number in page and hold.detail in page and "退款拦截" in page


@pytest.mark.django_db
def test_a_withdrawn_refund_releases_the_hold_by_itself(world):
    pid = _allocated(world)
    line = world.order(pid).lines.first()
    world.modify(pid, line_refunds={line.platform_line_id: "requested"})
    world.pull()
    world.modify(pid, line_refunds={line.platform_line_id: ""})  # the buyer withdrew (or the seller refused)
    world.pull()
    order = world.order(pid)
    hold = Hold.objects.get(order=order, reason=HoldReason.REFUND)
    assert hold.resolved_at is not None and hold.auto_released
    assert order.status == "approved"
    assert not _in_tab(world, "intercepted", order)


@pytest.mark.django_db
def test_a_partial_refund_releases_only_those_lines_and_the_rest_ships(world):
    pid = _allocated(world, lines=2)
    order = world.order(pid)
    refunded, kept = order.lines.order_by("pk")
    reserved_before = _reserved(world)
    world.modify(pid, line_refunds={refunded.platform_line_id: "requested"})
    world.pull()
    world.modify(pid, line_refunds={refunded.platform_line_id: "refunded"})
    world.pull()

    order = world.order(pid)
    assert order.status == "approved"  # reviewed again, nothing left to stop it
    assert _reserved(world) == reserved_before - refunded.quantity
    assert not Reservation.objects.filter(order_id=order.pk, line_id=refunded.pk, status=ReservationStatus.ACTIVE).exists()
    assert Reservation.objects.filter(order_id=order.pk, line_id=kept.pk, status=ReservationStatus.ACTIVE).exists()
    services.order_allocate(order=order)
    parcel = _labelled(world, pid)
    shipping.shipment_ship(tenant_id=world.tenant.pk, shipment_id=parcel.pk)
    assert list(parcel.lines.values_list("order_line_id", flat=True)) == [kept.pk]


@pytest.mark.django_db
def test_a_partial_refund_of_a_parcel_being_picked_keeps_it_held_for_a_re_pick(world):
    pid = _allocated(world, lines=2)
    parcel = _labelled(world, pid)
    refunded = world.order(pid).lines.order_by("pk").first()
    world.modify(pid, line_refunds={refunded.platform_line_id: "requested"})
    world.pull()
    world.modify(pid, line_refunds={refunded.platform_line_id: "refunded"})
    world.pull()
    order = world.order(pid)
    hold = Hold.objects.get(order=order, reason=HoldReason.REFUND, resolved_at=None)
    assert "重新拣货" in hold.detail and order.status == "on_hold"
    with pytest.raises(shipping.ShipmentError, match="退款拦截"):
        shipping.shipment_ship(tenant_id=world.tenant.pk, shipment_id=parcel.pk)
    services.hold_resolve(hold=hold, note="已重新拣货")
    assert world.order(pid).status == "approved"


@pytest.mark.django_db
def test_a_completed_refund_cancels_the_order_and_gives_the_waybill_number_back(world, django_capture_on_commit_callbacks):
    pid = _allocated(world)
    parcel = _labelled(world, pid)
    reserved_before = _reserved(world)
    world.modify(pid, refund="requested")
    world.pull()
    with pytest.raises(shipping.ShipmentError, match="退款拦截"):  # printed, not yet marked shipped
        shipping.shipment_ship(tenant_id=world.tenant.pk, shipment_id=parcel.pk)
    world.modify(pid, refund="refunded")  # Taobao closes the trade: TRADE_CLOSED
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        world.pull()
    order = world.order(pid)
    assert order.status == "cancelled"
    assert _reserved(world) == reserved_before - sum(order.lines.values_list("quantity", flat=True))
    assert not Hold.objects.filter(order=order, resolved_at=None).exists()
    names = [getattr(getattr(cb, "func", None), "__self__", None) for cb in callbacks]
    assert any(getattr(n, "name", "") == "logistics.tasks.cancel_order_waybills" for n in names)
    # what the task does (a real worker runs it in test_refund_race_pg.py)
    assert shipping.waybills_cancel_for_order(tenant_id=world.tenant.pk, order_id=order.pk) == [parcel.pk]
    parcel.refresh_from_db()
    assert parcel.status == "cancelled"
    assert world.carriers.state.parcel(parcel.tracking_number).cancelled
    assert OrderEvent.objects.filter(order=order, type="waybill_cancelled").exists()


@pytest.mark.django_db
def test_a_bulk_ship_skips_an_intercepted_order_with_the_reason(world):
    held, fine = _allocated(world, seeds=(1, 2))
    world.modify(held, refund="requested")
    world.pull()
    ids = [world.order(held).pk, world.order(fine).pk]
    job = shipping.bulk_ship_start(tenant_id=world.tenant.pk, order_ids=ids)
    job = shipping.bulk_ship_run(tenant_id=world.tenant.pk, job_id=job.pk)
    assert (job.done, job.failed) == (1, 1)
    assert job.failures[0]["order_id"] == ids[0] and "退款拦截" in job.failures[0]["reason"]
    assert world.order(held).status == "on_hold" and world.order(fine).status == "shipped"
    assert not Shipment.objects.filter(order_id=ids[0]).exists()


@pytest.mark.django_db
def test_a_pick_list_printed_later_leaves_the_intercepted_order_out(world):
    held, fine = _allocated(world, seeds=(1, 2))
    world.modify(held, refund="requested")
    world.pull()
    held_order, fine_order = world.order(held), world.order(fine)
    html = documents.pick_list_html(tenant_id=world.tenant.pk, order_ids=[held_order.pk, fine_order.pk])
    rows = html[:html.index("未列入拣货的订单")]
    assert f"□ {fine_order.number}" in rows and f"□ {held_order.number}" not in rows
    assert f"{held_order.number}（{held}）：退款拦截" in html


@pytest.mark.django_db
def test_a_refund_after_shipping_opens_the_return_as_before(world):
    pid = _allocated(world)
    parcel = _labelled(world, pid)
    shipping.shipment_ship(tenant_id=world.tenant.pk, shipment_id=parcel.pk)
    world.modify(pid, status="shipped")
    world.pull()
    world.modify(pid, refund="requested")
    world.pull()
    order = world.order(pid)
    assert order.status == "shipped"
    assert ReturnRequest.objects.filter(order=order, source="platform", status="requested").exists()
    assert not Hold.objects.filter(order=order, reason=HoldReason.REFUND).exists()


@pytest.mark.django_db
def test_a_refund_message_on_push_intake_stops_the_order_before_any_pull(world):
    pid = _allocated(world)
    world.market.state.push.tmc_pending(world.account)  # the creation messages: already pulled
    consumer = TmcConsumer(world.shop, adapter=None)
    consumer.run_once()
    world.modify(pid, refund="requested")
    assert consumer.run_once()[0] >= 1  # taobao_trade_TradeChanged -> fetch the trade -> ingest
    order = world.order(pid)
    assert order.status == "on_hold"
    assert Hold.objects.filter(order=order, reason=HoldReason.REFUND, resolved_at=None).exists()


@pytest.mark.django_db
def test_a_new_order_arriving_with_a_refund_request_is_held_on_the_page_ingest_too(world):
    pid = world.new_order()
    world.modify(pid, refund="requested")
    run = world.pull()
    assert run.created == 1
    order = world.order(pid)
    assert order.status == "on_hold"
    hold = Hold.objects.get(order=order, reason=HoldReason.REFUND)
    assert hold.data["lines"] == list(order.lines.values_list("platform_line_id", flat=True))
