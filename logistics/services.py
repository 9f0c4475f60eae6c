"""Every state-changing operation of logistics. Each owns its transaction, returns early on a
no-op (a retried task is harmless) and writes OrderEvents where an order changes. Carrier calls
(waybills, tracking) and PDF rendering happen outside transactions.

    shipment_prepare      choose the carrier (rules / cheapest), create the parcel, order -> picking
    shipment_override     ops pick another carrier or service before the waybill
    waybill_request       electronic waybill numbers, batched, idempotent per parcel
    waybill_cancel        give a number back to the carrier
    shipment_ship         waybill present -> lines, shipped, order -> shipped, signal shipment_shipped
    bulk_ship_start/run   一键发货 as a background job with progress and a merged PDF
    tracking_poll/record  pull the timeline, map states, back off while quiet, stop when final
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import selectors as stock_selectors
from oms import signals
from orders.merge import receiver_is_platforms
from orders.models import Order, OrderEvent
from orders.selectors import open_hold_summary
from orders.services import order_transition
from orders.states import IllegalTransition, OrderStatus

from .adapters.base import CarrierError, TrackResult, WaybillRequest
from .models import (
    AccountProvider,
    BulkShipJob,
    Carrier,
    CarrierAccount,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
)
from .rules import CarrierChooser, NoCarrier, display_name, facts_for_order
from .selectors import ACTIVE_STATUSES, FINAL_STATUSES, SHIPPABLE_ORDER_STATUSES

logger = logging.getLogger(__name__)
S = ShipmentStatus
#: tracking poll rhythm: first poll and base interval (settings.OMS_TRACKING_POLL_MINUTES, 120 by
#: default; the demo, whose sandbox timelines run fast, polls every minute)
FIRST_POLL_AFTER = timedelta(minutes=getattr(settings, "OMS_TRACKING_POLL_MINUTES", 120))
POLL_BASE = FIRST_POLL_AFTER
POLL_CAP = timedelta(hours=24)
DISPATCH_LEASE = timedelta(minutes=15)
WAYBILL_CHUNK = 10
#: a running job's claim lasts as long as the bulk_ship task's hard time limit: past it, no live
#: worker can still be working on the job, so it may be claimed again (re-run, or the reaper)
JOB_LEASE = timedelta(minutes=30)


class ShipmentError(Exception):
    """An action refused because of the parcel's or the order's state; the message is for the user."""


def _order_event(order: Order, type_: str, message: str, *, actor=None, before=None, after=None) -> None:
    OrderEvent.objects.create(tenant_id=order.tenant_id, order=order, type=type_, message=message[:255],
                              actor=actor, actor_label="user" if actor else "logistics", before=before, after=after)


def _refuse_held(order: Order) -> None:
    """An order with an open hold does not ship (a refund request, a do-not-ship flag, an
    address conflict ...): the refusal names the holds. Called with the order row locked, so a
    hold opened by a platform message a moment earlier is seen (ingest locks the same row)."""
    held = open_hold_summary(order)
    if held:
        raise ShipmentError(_("订单已挂起，不能发货：%(h)s") % {"h": held})


def _live_shipment(tenant_id: int, order_id: int) -> Shipment | None:
    return (Shipment.objects.filter(tenant_id=tenant_id, order_id=order_id).exclude(status=S.CANCELLED)
            .select_related("carrier").first())


# --- carrier choice and parcels -----------------------------------------------------------------
def shipment_prepare(*, tenant_id: int, order_id: int, actor=None, chooser: CarrierChooser | None = None) -> Shipment:
    """The order's live parcel, created with the carrier the rules choose (explained on the
    parcel and in the order's timeline). Allocated orders move to picking."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(tenant_id=tenant_id, pk=order_id)
        existing = _live_shipment(tenant_id, order_id)
        if existing is not None:
            return existing
        _refuse_held(order)
        if order.status not in SHIPPABLE_ORDER_STATUSES:
            raise ShipmentError(_("订单状态为“%(s)s”，不能发货") % {"s": OrderStatus(order.status).label})
        if order.warehouse_id is None:
            raise ShipmentError(_("订单还没有分配发货仓"))
        if stock_selectors.order_shortages(tenant_id=tenant_id, order_id=order_id):
            raise ShipmentError(_("订单缺货，库存占用不完整"))
        if not stock_selectors.order_reserved_units(tenant_id=tenant_id, order_id=order_id):
            raise ShipmentError(_("订单没有库存占用"))
        chooser = chooser or CarrierChooser(tenant_id)
        facts = facts_for_order(order, settings=chooser.settings)
        try:
            choice = chooser.choose(facts)
        except NoCarrier as exc:
            raise ShipmentError(str(exc))
        shipment = Shipment.objects.create(
            tenant_id=tenant_id, order=order, warehouse_id=order.warehouse_id, carrier=choice.carrier,
            service=choice.service_code, weight_grams=facts.weight_grams, choice_explanation=choice.explanation[:255])
        _order_event(order, "carrier_chosen", choice.explanation, actor=actor,
                     after={"shipment_id": shipment.pk, "carrier": choice.carrier.code, "service": choice.service_code,
                            "rule_id": choice.rule_id})
        if order.status == OrderStatus.ALLOCATED:
            order_transition(order=order, to=OrderStatus.PICKING, actor=actor, actor_label="logistics",
                             message=_("开始拣货"))
        return shipment


def shipment_override(*, tenant_id: int, shipment_id: int, carrier_code: str, service_code: str = "",
                      actor=None) -> Shipment:
    """Ops choose the carrier by hand (before a waybill number exists)."""
    with transaction.atomic():
        order_id = Shipment.objects.filter(tenant_id=tenant_id, pk=shipment_id).values_list("order_id", flat=True).get()
        order = Order.objects.select_for_update().get(tenant_id=tenant_id, pk=order_id)
        shipment = Shipment.objects.select_for_update().get(tenant_id=tenant_id, pk=shipment_id)
        carrier = Carrier.objects.get(code=carrier_code)
        if shipment.carrier_id == carrier.pk and shipment.service == service_code:
            return shipment
        if shipment.status != S.CREATED or shipment.tracking_number:
            raise ShipmentError(_("已取号或已发货的包裹不能改派，请先取消面单"))
        chooser = CarrierChooser(tenant_id)
        service = chooser.service_for(carrier, service_code)
        before = {"carrier": shipment.carrier.code if shipment.carrier_id else "", "service": shipment.service}
        old = shipment.choice_explanation
        shipment.carrier, shipment.service, shipment.overridden = carrier, service_code, True
        who = getattr(actor, "username", "") or _("系统")
        shipment.choice_explanation = (_("人工改派 → %(c)s（%(who)s）") % {"c": display_name(carrier, service),
                                                                         "who": who})[:255]
        shipment.last_error = ""
        shipment.save(update_fields=["carrier", "service", "overridden", "choice_explanation", "last_error"])
        _order_event(order, "carrier_override", f"{shipment.choice_explanation}；{_('原选择')}：{old}", actor=actor,
                     before=before, after={"carrier": carrier.code, "service": service_code})
        return shipment


# --- electronic waybills ------------------------------------------------------------------------
def _account(tenant_id: int, provider: str) -> CarrierAccount | None:
    return CarrierAccount.objects.filter(tenant_id=tenant_id, provider=provider, enabled=True).first()


def _provider_for(carrier: Carrier) -> str:
    return AccountProvider.SF if carrier.code == "SF" else AccountProvider.CAINIAO


def _client(account: CarrierAccount):
    from .adapters.cainiao import CainiaoClient
    from .adapters.kuaidi100 import Kuaidi100Client
    from .adapters.sf import SfClient

    return {AccountProvider.SF: SfClient, AccountProvider.CAINIAO: CainiaoClient,
            AccountProvider.KUAIDI100: Kuaidi100Client}[account.provider](account)


def _waybill_request_for(s: Shipment) -> WaybillRequest:
    order, wh = s.order, s.warehouse or s.order.warehouse
    items = [{"name": ln.title or ln.outer_sku_id or "商品", "count": ln.quantity}
             for ln in order.lines.all() if ln.refund_status != "refunded"]
    return WaybillRequest(
        ref=s.waybill_ref, cp_code=s.carrier.cainiao_code or s.carrier.code, service_code=s.service_product,
        sender={"name": wh.contact_name or wh.name, "mobile": wh.contact_phone, "province": wh.province,
                "city": wh.city, "district": "", "detail": wh.address},
        recipient={"name": order.receiver_name, "mobile": order.receiver_phone, "province": order.receiver_province,
                   "city": order.receiver_city, "district": order.receiver_district, "detail": order.receiver_address,
                   # a privacy-protected receiver (Taobao oaid) while it is still the platform's: a
                   # receiver changed here is plain text, and the platform's id no longer stands for it
                   "oaid": order.receiver_oaid if order.receiver_oaid and receiver_is_platforms(order) else ""},
        items=items or [{"name": "商品", "count": 1}], weight_grams=s.weight_grams,
        order_refs=[order.platform_order_id])


def waybill_request(*, tenant_id: int, shipment_ids: list[int]) -> dict[int, str]:
    """Get waybill numbers for parcels that have none. Network calls happen here, outside any
    transaction; each number is recorded in its own small transaction as it arrives. Returns
    {shipment_id: error message} for the parcels that did not get a number."""
    from .models import CarrierService

    shipments = list(Shipment.objects.filter(tenant_id=tenant_id, pk__in=shipment_ids, status=S.CREATED,
                                             tracking_number="")
                     .select_related("carrier", "warehouse", "order", "order__warehouse")
                     .prefetch_related("order__lines"))
    products = {(c.carrier_id, c.code): c.product_code for c in CarrierService.objects.filter(tenant_id=tenant_id)}
    errors: dict[int, str] = {}
    groups: dict[str, list[Shipment]] = {}
    for s in shipments:
        if s.carrier_id is None:
            errors[s.pk] = _("没有选择快递公司")
            continue
        if s.warehouse is None and s.order.warehouse is None:
            errors[s.pk] = _("没有发货仓，无法确定寄件人")
            continue
        provider = _provider_for(s.carrier)
        if provider == AccountProvider.CAINIAO and not s.carrier.cainiao_code:
            errors[s.pk] = _("%(c)s 不支持菜鸟电子面单，请改派或使用其自有面单系统") % {"c": s.carrier.name}
            continue
        s.service_product = products.get((s.carrier_id, s.service), "") or (s.service if s.service.isdigit() else "")
        groups.setdefault(provider, []).append(s)
    for provider, items in groups.items():
        account = _account(tenant_id, provider)
        if account is None:
            for s in items:
                errors[s.pk] = _("没有配置%(p)s账号") % {"p": AccountProvider(provider).label}
            continue
        client = _client(account)
        by_ref = {s.waybill_ref: s for s in items}
        if provider == AccountProvider.SF:
            reqs = [_waybill_request_for(s) for s in items]
            for req in reqs:
                try:
                    results = [client.create_waybill(req)]
                except CarrierError as exc:
                    errors[by_ref[req.ref].pk] = str(exc)
                    continue
                _store_results(tenant_id, provider, by_ref, results, errors)
        else:
            by_cp: dict[str, list[WaybillRequest]] = {}
            for s in items:
                req = _waybill_request_for(s)
                by_cp.setdefault(req.cp_code, []).append(req)
            for reqs in by_cp.values():
                for i in range(0, len(reqs), WAYBILL_CHUNK):
                    chunk = reqs[i:i + WAYBILL_CHUNK]
                    try:
                        results = client.get_waybills(chunk)
                    except CarrierError as exc:
                        for req in chunk:
                            errors[by_ref[req.ref].pk] = str(exc)
                        continue
                    _store_results(tenant_id, provider, by_ref, results, errors)
    for sid, message in errors.items():
        Shipment.objects.filter(tenant_id=tenant_id, pk=sid).update(last_error=message[:255])
    return errors


def _store_results(tenant_id, provider, by_ref, results, errors) -> None:
    for res in results:
        s = by_ref[res.ref]
        if res.ok:
            _waybill_record(tenant_id=tenant_id, shipment_id=s.pk, provider=provider, number=res.waybill_no,
                            print_data=res.print_data)
        else:
            errors[s.pk] = res.error


def _waybill_record(*, tenant_id: int, shipment_id: int, provider: str, number: str, print_data: str = "") -> Shipment:
    with transaction.atomic():
        s = Shipment.objects.select_for_update(of=("self",)).select_related("carrier", "order").get(tenant_id=tenant_id,
                                                                                         pk=shipment_id)
        if s.tracking_number:
            if s.tracking_number != number:
                logger.error("tenant=%s shipment=%s carrier gave a second number", tenant_id, shipment_id)
            return s
        s.tracking_number, s.waybill_provider, s.print_data = number, provider, print_data
        s.status, s.last_error = S.LABELLED, ""
        s.save(update_fields=["tracking_number", "waybill_provider", "print_data", "status", "last_error"])
        _order_event(s.order, "waybill", _("已取号：%(c)s %(n)s") % {"c": s.carrier.name, "n": number},
                     after={"shipment_id": s.pk, "tracking_number": number})
        return s


def waybill_cancel(*, tenant_id: int, shipment_id: int, actor=None) -> Shipment:
    """Give the number back (carrier call first, outside the transaction), then cancel the parcel
    so the order can get a new one."""
    s = Shipment.objects.select_related("carrier").get(tenant_id=tenant_id, pk=shipment_id)
    if s.status == S.CANCELLED:
        return s
    if s.status not in (S.CREATED, S.LABELLED):
        raise ShipmentError(_("包裹已发出，不能取消面单"))
    # a number without a carrier (typed in or imported, no e-waybill) has nobody to be given back to
    if s.tracking_number and (s.waybill_provider or s.carrier is not None):
        account = _account(tenant_id, s.waybill_provider or _provider_for(s.carrier))
        if account is None:
            raise ShipmentError(_("没有可用的面单账号，无法取消"))
        client = _client(account)
        try:
            if account.provider == AccountProvider.SF:
                client.cancel_waybill(s.waybill_ref, s.tracking_number)
            else:
                client.cancel_waybill(s.carrier.cainiao_code, s.tracking_number)
        except CarrierError as exc:
            raise ShipmentError(str(exc))
    with transaction.atomic():
        order = Order.objects.select_for_update().get(tenant_id=tenant_id, pk=s.order_id)
        s = Shipment.objects.select_for_update().get(tenant_id=tenant_id, pk=shipment_id)
        if s.status == S.CANCELLED:
            return s
        if s.status not in (S.CREATED, S.LABELLED):
            raise ShipmentError(_("包裹已发出，不能取消面单"))
        s.status, s.cancelled_at = S.CANCELLED, timezone.now()
        s.save(update_fields=["status", "cancelled_at"])
        _order_event(order, "waybill_cancelled", _("已取消面单 %(n)s") % {"n": s.tracking_number or "-"}, actor=actor)
        return s


def waybills_cancel_for_order(*, tenant_id: int, order_id: int) -> list[int]:
    """The order was cancelled before shipping (by a person, by the platform, or because the
    buyer's refund completed): give the numbers of its unshipped parcels back to the carrier.
    Returns the ids of the parcels cancelled; a carrier refusal stays on the parcel as its error
    (ops see it) and is raised for the task to retry."""
    done, failed = [], None
    for sid in (Shipment.objects.filter(tenant_id=tenant_id, order_id=order_id, status__in=[S.CREATED, S.LABELLED])
                .order_by("pk").values_list("pk", flat=True)):
        try:
            waybill_cancel(tenant_id=tenant_id, shipment_id=sid)
            done.append(sid)
        except ShipmentError as exc:
            Shipment.objects.filter(tenant_id=tenant_id, pk=sid).update(
                last_error=(_("订单已取消，面单取消失败：%(e)s") % {"e": exc})[:255])
            failed = exc
    if failed is not None:
        raise failed
    return done


# --- shipping -----------------------------------------------------------------------------------
def shipment_ship(*, tenant_id: int, shipment_id: int, actor=None, now: datetime | None = None) -> Shipment:
    """The parcel leaves: waybill first (refused without), then in ONE transaction the lines,
    the shipped status, order -> shipped and shipment_shipped (inventory consumes the
    reservation in this same transaction; channels and notifications act after commit)."""
    now = now or timezone.now()
    with transaction.atomic():
        order_id = Shipment.objects.filter(tenant_id=tenant_id, pk=shipment_id).values_list("order_id", flat=True).get()
        order = Order.objects.select_for_update().get(tenant_id=tenant_id, pk=order_id)
        s = Shipment.objects.select_for_update(of=("self",)).select_related("carrier").get(tenant_id=tenant_id, pk=shipment_id)
        if s.status not in (S.CREATED, S.LABELLED):
            if s.status == S.CANCELLED:
                raise ShipmentError(_("包裹已取消"))
            return s  # shipped already
        if not s.tracking_number or s.status != S.LABELLED:
            raise ShipmentError(_("没有运单号，不能发货"))
        _refuse_held(order)
        if order.status == OrderStatus.ALLOCATED:
            order_transition(order=order, to=OrderStatus.PICKING, actor=actor, actor_label="logistics")
        if order.status != OrderStatus.PICKING:
            raise ShipmentError(_("订单状态为“%(s)s”，不能发货") % {"s": OrderStatus(order.status).label})
        lines = [ln for ln in order.lines.all() if ln.refund_status != "refunded"]
        ShipmentLine.objects.bulk_create([ShipmentLine(tenant_id=tenant_id, shipment=s, order_line=ln,
                                                       quantity=ln.quantity) for ln in lines])
        s.status, s.shipped_at = S.SHIPPED, now
        s.next_poll_at, s.quiet_polls = now + FIRST_POLL_AFTER, 0
        s.save(update_fields=["status", "shipped_at", "next_poll_at", "quiet_polls"])
        try:
            order_transition(order=order, to=OrderStatus.SHIPPED, actor=actor, actor_label="logistics",
                             message=_("已发货：%(c)s %(n)s") % {"c": s.carrier.name, "n": s.tracking_number})
        except IllegalTransition as exc:
            raise ShipmentError(str(exc))
        signals.shipment_shipped.send(
            sender=Shipment, tenant_id=tenant_id, shipment_id=s.pk, order_id=order.pk,
            lines=[{"line_id": ln.pk, "sku_id": ln.sku_id, "quantity": ln.quantity} for ln in lines if ln.sku_id],
            carrier_code=s.carrier.code, tracking_number=s.tracking_number, actor_id=getattr(actor, "pk", None),
            actor_label="user" if getattr(actor, "pk", None) else "logistics")
        return s


# --- one-click bulk ship -----------------------------------------------------------------------
def bulk_ship_start(*, tenant_id: int, order_ids: list[int], actor=None, include_pick_list: bool = True) -> BulkShipJob:
    """Create the job (only this tenant's orders count) and queue it after commit."""
    from . import tasks

    wanted = list(dict.fromkeys(int(i) for i in order_ids))
    mine = set(Order.objects.filter(tenant_id=tenant_id, pk__in=wanted).values_list("pk", flat=True))
    ids = [i for i in wanted if i in mine]
    if not ids:
        raise ShipmentError(_("请选择要发货的订单"))
    with transaction.atomic():
        job = BulkShipJob.objects.create(tenant_id=tenant_id, created_by=actor if getattr(actor, "pk", None) else None,
                                         order_ids=ids, total=len(ids), include_pick_list=include_pick_list)
        transaction.on_commit(functools.partial(tasks.bulk_ship.delay, tenant_id, job.pk))
    return job


def _claim_job(tenant_id: int, job_id: int, now: datetime) -> bool:
    return bool(BulkShipJob.objects.filter(tenant_id=tenant_id, pk=job_id).filter(
        ~Q(status=BulkShipJob.Status.RUNNING) | Q(started_at__lt=now - JOB_LEASE)
    ).update(status=BulkShipJob.Status.RUNNING, started_at=now, error=""))


def bulk_ship_run(*, tenant_id: int, job_id: int) -> BulkShipJob:
    """Run (or re-run) a job: per order prepare -> waybill -> ship; orders already shipped are
    skipped; a failed waybill leaves its order unshipped and listed with the reason. Then one
    merged PDF (labels + pick list) is rendered, outside any transaction."""
    now = timezone.now()
    if not _claim_job(tenant_id, job_id, now):
        return BulkShipJob.objects.get(tenant_id=tenant_id, pk=job_id)
    job = BulkShipJob.objects.get(tenant_id=tenant_id, pk=job_id)
    numbers = dict(Order.objects.filter(tenant_id=tenant_id, pk__in=job.order_ids).values_list("pk", "platform_order_id"))
    failures: dict[int, str] = {}
    shipped: dict[int, int] = {}  # order_id -> shipment_id

    def progress():
        BulkShipJob.objects.filter(pk=job.pk).update(
            done=len(shipped), failed=len(failures),
            failures=[{"order_id": oid, "number": f"OMS{oid:08d}", "platform_order_id": numbers.get(oid, ""),
                       "reason": why} for oid, why in failures.items()])

    chooser = CarrierChooser(tenant_id, now=now)
    order_ids = [oid for oid in job.order_ids if oid in numbers]
    for oid in job.order_ids:
        if oid not in numbers:
            failures[oid] = _("订单不存在")
    for i in range(0, len(order_ids), WAYBILL_CHUNK):
        prepared: list[Shipment] = []
        for oid in order_ids[i:i + WAYBILL_CHUNK]:
            live = _live_shipment(tenant_id, oid)
            if live is not None and live.status not in (S.CREATED, S.LABELLED):
                shipped[oid] = live.pk  # done in an earlier run (or by hand)
                continue
            try:
                prepared.append(shipment_prepare(tenant_id=tenant_id, order_id=oid, actor=job.created_by,
                                                 chooser=chooser))
            except ShipmentError as exc:
                failures[oid] = str(exc)
        errors = waybill_request(tenant_id=tenant_id, shipment_ids=[s.pk for s in prepared if not s.tracking_number])
        for s in prepared:
            if s.pk in errors:
                failures[s.order_id] = _("取号失败：%(e)s") % {"e": errors[s.pk]}
                continue
            try:
                shipment_ship(tenant_id=tenant_id, shipment_id=s.pk, actor=job.created_by)
                shipped[s.order_id] = s.pk
            except Exception as exc:  # noqa: BLE001  (one order's failure never stops the others)
                logger.warning("tenant=%s job=%s order=%s ship failed: %s", tenant_id, job.pk, s.order_id, exc)
                failures[s.order_id] = _("发货失败：%(e)s") % {"e": exc}
        progress()
    shipment_ids = [shipped[oid] for oid in job.order_ids if oid in shipped]
    BulkShipJob.objects.filter(pk=job.pk).update(shipment_ids=shipment_ids)
    pdf_path, error = "", ""
    if shipment_ids:
        try:
            pdf_path = _write_job_pdf(tenant_id, job.pk, shipment_ids, job.include_pick_list)
        except Exception as exc:  # noqa: BLE001
            logger.exception("tenant=%s job=%s PDF failed", tenant_id, job.pk)
            error = _("PDF 生成失败：%(e)s") % {"e": exc}
    BulkShipJob.objects.filter(pk=job.pk).update(
        status=BulkShipJob.Status.FAILED if error else BulkShipJob.Status.DONE, pdf_path=pdf_path,
        error=error[:255], finished_at=timezone.now())
    job.refresh_from_db()
    return job


def bulk_ship_reap(*, now: datetime | None = None) -> list[int]:
    """Jobs whose worker died: "running" past the lease, or "queued" that long without a worker
    taking them (a message lost with a Redis that kept no data). Each is marked failed with
    the reason and queued again; the re-run skips the orders already shipped and gets no second
    waybill for a parcel that has one. Returns the ids re-queued."""
    from . import tasks

    now = now or timezone.now()
    stale = BulkShipJob.objects.filter(
        Q(status=BulkShipJob.Status.RUNNING, started_at__lt=now - JOB_LEASE)
        | Q(status=BulkShipJob.Status.QUEUED, created_at__lt=now - JOB_LEASE))
    requeued = []
    for job_id, tenant_id, status, started_at in stale.values_list("pk", "tenant_id", "status", "started_at"):
        error = _("执行中断（工作进程退出），已自动重新排队；已发货的订单会被跳过")
        if BulkShipJob.objects.filter(pk=job_id, status=status, started_at=started_at).update(
                status=BulkShipJob.Status.FAILED, error=error[:255]):
            logger.warning("tenant=%s job=%s interrupted bulk ship (%s) re-queued", tenant_id, job_id, status)
            tasks.bulk_ship.delay(tenant_id, job_id)
            requeued.append(job_id)
    return requeued


def _write_job_pdf(tenant_id: int, job_id: int, shipment_ids: list[int], include_pick_list: bool) -> str:
    from .documents import bulk_documents_pdf

    pdf = bulk_documents_pdf(tenant_id=tenant_id, shipment_ids=shipment_ids, include_pick_list=include_pick_list)
    rel = Path("logistics") / "bulk" / str(tenant_id) / f"job-{job_id}.pdf"
    path = Path(settings.MEDIA_ROOT) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pdf)
    tmp.replace(path)
    return str(rel)


# --- tracking -------------------------------------------------------------------------------------
def next_poll_delay(quiet_polls: int) -> timedelta:
    """2h after news, then 4h, 8h, 16h... capped at 24h while nothing new arrives."""
    return min(POLL_CAP, POLL_BASE * (2 ** max(0, quiet_polls)))


def tracking_claim_due(*, now: datetime | None = None, limit: int = 500) -> list[tuple[int, int]]:
    """Shipments whose poll is due; each is leased (next_poll_at pushed a little) so the next
    dispatcher run does not queue it twice while its task waits."""
    from .selectors import shipments_due

    now = now or timezone.now()
    due = shipments_due(now=now, limit=limit)
    claimed = []
    for tenant_id, sid in due:
        if Shipment.objects.filter(pk=sid, next_poll_at__lte=now).update(next_poll_at=now + DISPATCH_LEASE):
            claimed.append((tenant_id, sid))
    return claimed


def tracking_poll(*, tenant_id: int, shipment_id: int, now: datetime | None = None) -> Shipment:
    """Ask the carrier for the timeline (SF routes for SF when an SF account exists, else
    Kuaidi100), outside any transaction, then record it."""
    now = now or timezone.now()
    s = Shipment.objects.select_related("carrier", "order").get(tenant_id=tenant_id, pk=shipment_id)
    if s.status not in ACTIVE_STATUSES or not s.tracking_number or s.carrier_id is None:
        return s
    phone = s.order.receiver_phone
    sf_account = _account(tenant_id, AccountProvider.SF) if s.carrier.code == "SF" else None
    account = sf_account or _account(tenant_id, AccountProvider.KUAIDI100)
    if account is None:
        Shipment.objects.filter(pk=s.pk).update(last_error=_("没有配置轨迹查询账号（快递100）")[:255],
                                                next_poll_at=now + POLL_CAP, last_polled_at=now)
        return s
    client = _client(account)
    try:
        if account.provider == AccountProvider.SF:
            result = client.routes(s.tracking_number, phone)
        else:
            result = client.query(s.carrier.kuaidi100_code, s.tracking_number,
                                  phone if s.carrier.code == "SF" else "")
    except CarrierError as exc:
        logger.info("tenant=%s shipment=%s tracking failed: %s", tenant_id, s.pk, exc)
        with transaction.atomic():
            s = Shipment.objects.select_for_update().get(tenant_id=tenant_id, pk=shipment_id)
            s.poll_count += 1
            s.quiet_polls += 1
            s.last_polled_at, s.last_error = now, str(exc)[:255]
            s.next_poll_at = now + next_poll_delay(s.quiet_polls)
            s.save(update_fields=["poll_count", "quiet_polls", "last_polled_at", "last_error", "next_poll_at"])
        return s
    return tracking_record(tenant_id=tenant_id, shipment_id=shipment_id, result=result, now=now)


def tracking_record(*, tenant_id: int, shipment_id: int, result: TrackResult, now: datetime | None = None) -> Shipment:
    """Store new events (the unique constraint de-duplicates), move the parcel's status, plan the
    next poll (back off while quiet, stop at a final state), mark the order delivered, and
    send shipment_status_changed on commit when the status changed."""
    now = now or timezone.now()
    with transaction.atomic():
        order_id = Shipment.objects.filter(tenant_id=tenant_id, pk=shipment_id).values_list("order_id", flat=True).get()
        order = Order.objects.select_for_update().get(tenant_id=tenant_id, pk=order_id)
        s = Shipment.objects.select_for_update().get(tenant_id=tenant_id, pk=shipment_id)
        if s.status in FINAL_STATUSES:
            return s
        known = {(e.occurred_at, e.description) for e in TrackingEvent.objects.filter(tenant_id=tenant_id, shipment=s)}
        new = []
        for ev in result.events:
            key = (ev.occurred_at, ev.description[:255])
            if key in known:
                continue
            known.add(key)
            new.append(TrackingEvent(tenant_id=tenant_id, shipment=s, occurred_at=ev.occurred_at,
                                     status=ev.status or S.IN_TRANSIT, description=ev.description[:255],
                                     location=ev.location[:100], raw_state=ev.raw_state[:20]))
        if new:
            TrackingEvent.objects.bulk_create(new, ignore_conflicts=True)
        before = s.status
        if result.status and result.status != s.status:
            s.status = result.status
        if s.status == S.DELIVERED and s.delivered_at is None:
            delivered = [e.occurred_at for e in result.events if e.status == S.DELIVERED]
            s.delivered_at = max(delivered) if delivered else now
        s.poll_count += 1
        s.last_polled_at, s.last_error = now, ""
        s.quiet_polls = 0 if new else s.quiet_polls + 1
        s.next_poll_at = None if s.status in FINAL_STATUSES else now + next_poll_delay(s.quiet_polls)
        s.save(update_fields=["status", "delivered_at", "poll_count", "last_polled_at", "last_error", "quiet_polls",
                              "next_poll_at"])
        if s.status != before:
            _order_event(order, "shipment_status", _("物流状态：%(a)s → %(b)s") % {
                "a": S(before).label, "b": S(s.status).label}, before={"status": before}, after={"status": s.status})
            if s.status == S.DELIVERED and order.status == OrderStatus.SHIPPED:
                order_transition(order=order, to=OrderStatus.DELIVERED, actor_label="logistics",
                                 message=_("快递显示已签收"))
            transaction.on_commit(functools.partial(
                signals.shipment_status_changed.send, sender=Shipment, tenant_id=tenant_id, shipment_id=s.pk,
                order_id=order.pk, status=s.status))
        return s
