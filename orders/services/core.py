"""The building blocks every order service uses (timeline events, locks, transitions, holds,
cancellation) and the hold actions.

Every public function owns its transaction and writes OrderEvents. Stock moves only through
the domain signals (order_accepted / order_released); inventory's receivers run inside these
transactions, so an order and its reservation commit together.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oms import signals
from oms.models import Tenant

from .. import rules
from ..models import Hold, HoldReason, Order, OrderEvent, OrderSource
from ..states import OrderStatus, check_transition

logger = logging.getLogger(__name__)

S = OrderStatus
REFUNDED = "refunded"
REFUND_REQUESTED = "requested"
ADDRESS_FIELDS = ("receiver_name", "receiver_phone", "receiver_country", "receiver_province", "receiver_city",
                  "receiver_district", "receiver_address", "receiver_postcode")
#: the platform's own words about the order and its money: always the platform's (nobody edits them here)
PLATFORM_ONLY_FIELDS = ("platform_status", "buyer_nick", "buyer_email", "currency", "goods_amount",
                        "shipping_amount", "discount_amount", "paid_amount", "paid_at", "fulfilled_by_platform",
                        "receiver_oaid")
ORDER_FIELDS = ADDRESS_FIELDS + PLATFORM_ONLY_FIELDS + ("buyer_note", "seller_note")
#: holds whose cause the system can see being fixed, and so releases by itself
PLATFORM_REASONS = frozenset({HoldReason.REFUND, HoldReason.FORBID_SHIP})
AUTO_RELEASABLE = {HoldReason.OUT_OF_STOCK, HoldReason.UNMAPPED_SKU, HoldReason.ALLOCATION, *rules.RULE_REASONS,
                   *PLATFORM_REASONS}
#: states in which review (rules, gifts) runs again when the order changes
REVIEWABLE = frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED})


class OrderActionError(Exception):
    """An action refused because of the order's state; the message is for the user."""


# --- small building blocks -----------------------------------------------------------------
def _event(order: Order, type_: str, message: str = "", *, before=None, after=None, actor=None,
           actor_label: str = "") -> OrderEvent:
    return OrderEvent.objects.create(tenant_id=order.tenant_id, order=order, type=type_, message=str(message)[:255],
                                     before=before, after=after, actor=actor,
                                     actor_label=actor_label or ("user" if actor else "system"))


def _lock(order: Order | int, tenant_id: int | None = None) -> Order:
    pk = order if isinstance(order, int) else order.pk
    tid = tenant_id if tenant_id is not None else order.tenant_id
    return Order.objects.select_for_update().get(pk=pk, tenant_id=tid)


def order_transition(*, order: Order, to: str, actor=None, actor_label: str = "", message: str = "") -> Order:
    """Move an order to another state; illegal transitions raise IllegalTransition."""
    if order.status == to:
        return order
    check_transition(order.status, to)
    before = order.status
    order.status = to
    order.save(update_fields=["status", "updated_at"])
    _event(order, "status", message or f"{S(before).label} → {S(to).label}", before={"status": before},
           after={"status": to}, actor=actor, actor_label=actor_label)
    return order


def _open_hold(order: Order, reason: str, detail: str, *, actor=None, until=None, data=None) -> Hold | None:
    if Hold.objects.filter(tenant_id=order.tenant_id, order=order, reason=reason, resolved_at=None).exists():
        return None
    hold = Hold.objects.create(tenant_id=order.tenant_id, order=order, reason=reason, detail=detail[:255],
                               until=until, data=data)
    _event(order, "hold", f"{HoldReason(reason).label}: {detail}", after={"reason": reason, "detail": detail},
           actor=actor)
    return hold


def _close_hold(hold: Hold, *, actor=None, note: str = "", label: str = "hold_resolved") -> None:
    hold.resolved_at = timezone.now()
    hold.resolved_by = actor
    hold.resolution_note = str(note)[:255]
    hold.auto_released = label == "hold_auto_released"
    hold.save(update_fields=["resolved_at", "resolved_by", "resolution_note", "auto_released"])
    _event(hold.order, label, f"{hold.get_reason_display()}: {note}".strip(": "),
           before={"reason": hold.reason, "detail": hold.detail}, actor=actor)


def _reconcile_holds(order: Order, reasons, findings: dict[str, tuple[str, dict | None]], *, gone: dict,
                     related_ids: list[int] | None = None) -> None:
    """Make the order's open holds of `reasons` match the findings {reason: (detail, data)}: a
    hold opens when its cause is found, is released by itself when the cause is gone (note
    gone[reason]), is re-opened when the finding changed, and is not opened again for the same
    finding once a person resolved it (on this order or the `related_ids` orders)."""
    holds = list(Hold.objects.filter(tenant_id=order.tenant_id, order_id__in=related_ids or [order.pk],
                                     reason__in=list(reasons)))
    open_holds = {h.reason: h for h in holds if h.order_id == order.pk and h.resolved_at is None}
    acknowledged = {(h.reason, h.detail) for h in holds if h.resolved_at is not None and not h.auto_released}
    for reason in reasons:
        found = findings.get(reason)
        current = open_holds.get(reason)
        if found is None:
            if current is not None:
                current.order = order
                _close_hold(current, note=gone.get(reason) or _("原因已消除，自动解除"), label="hold_auto_released")
            continue
        detail, data = found
        if current is not None:
            if current.detail == detail[:255]:
                continue
            current.order = order
            _close_hold(current, note=_("审单结果已变化"), label="hold_auto_released")
        if (reason, detail[:255]) in acknowledged:
            continue
        _open_hold(order, reason, detail, data=data)


def _settle_status(order: Order, *, actor=None) -> None:
    """After holds changed: on hold while any hold is open, else approved (auto) or to review."""
    has_open = Hold.objects.filter(tenant_id=order.tenant_id, order=order, resolved_at=None).exists()
    if has_open:
        if order.status in (S.PENDING_REVIEW, S.APPROVED, S.ALLOCATED, S.PICKING):
            order_transition(order=order, to=S.ON_HOLD, actor=actor)
        return
    if order.status == S.ON_HOLD:
        order_transition(order=order, to=S.PENDING_REVIEW, actor=actor)
    if order.status == S.PENDING_REVIEW:
        tenant = Tenant.objects.only("auto_approve").get(pk=order.tenant_id)
        if tenant.auto_approve:
            order_transition(order=order, to=S.APPROVED, actor_label="auto", message=_("自动审核通过"))


def _cancel(order: Order, *, message: str, actor=None, actor_label: str = "") -> Order:
    """Cancel an order that has not shipped (locked by the caller): the reservation goes back,
    its open holds close (their cause no longer matters), and logistics is told so that a
    waybill number already taken is given back to the carrier (order_cancelled)."""
    signals.order_released.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk,
                                actor_id=getattr(actor, "pk", None), actor_label=actor_label or _who(actor))
    order_transition(order=order, to=S.CANCELLED, actor=actor, actor_label=actor_label, message=message)
    for hold in Hold.objects.filter(tenant_id=order.tenant_id, order=order, resolved_at=None).order_by("pk"):
        hold.order = order
        _close_hold(hold, note=_("订单已取消"), label="hold_auto_released")
    signals.order_cancelled.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk, reason=str(message))
    return order


def _picking_started(order: Order) -> bool:
    """Has this order's parcel been picked or labelled (the order was in picking at some time,
    whatever it is now)? Then a change of what or where to ship needs the parcel looked at."""
    return order.status == S.PICKING or OrderEvent.objects.filter(
        tenant_id=order.tenant_id, order=order, type="status", after__status=S.PICKING).exists()


def _who(actor) -> str:
    return "user" if getattr(actor, "pk", None) else "system"


def _reservable_lines(order: Order) -> list[dict]:
    return [
        {"line_id": ln.pk, "sku_id": ln.sku_id, "quantity": ln.quantity}
        for ln in order.lines.all()
        if ln.sku_id is not None and ln.refund_status != REFUNDED
    ]


def _source_ids(order: Order) -> list[int]:
    """The order and, transitively, the orders it was merged or split from."""
    ids, frontier = [order.pk], [order.pk]
    while frontier:
        frontier = list(OrderSource.objects.filter(tenant_id=order.tenant_id, order_id__in=frontier)
                        .values_list("source_id", flat=True))
        frontier = [i for i in frontier if i not in ids]
        ids.extend(frontier)
    return ids


# --- holds ------------------------------------------------------------------------------------
def order_hold(*, order: Order, reason: str = HoldReason.MANUAL, detail: str = "", actor=None,
               until: datetime | None = None) -> Hold | None:
    """Put an order on hold (until a time, optionally). Refused once picking is done."""
    with transaction.atomic():
        order = _lock(order)
        if order.status not in (S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.ALLOCATED, S.PICKING):
            raise OrderActionError(_("订单状态为“%(s)s”，不能挂起") % {"s": S(order.status).label})
        hold = _open_hold(order, reason, detail or str(HoldReason(reason).label), actor=actor, until=until)
        _settle_status(order, actor=actor)
        return hold


def hold_resolve(*, hold: Hold, actor=None, note: str = "", auto: bool = False) -> bool:
    """Resolve one hold (with a note). Returns False when it was already resolved. Resolving an
    address conflict this way keeps the local version (orders.services.order_conflict_resolve
    chooses)."""
    with transaction.atomic():
        order = _lock(hold.order_id, hold.tenant_id)
        hold = Hold.objects.select_for_update().get(pk=hold.pk, tenant_id=hold.tenant_id)
        if hold.resolved_at is not None:
            return False
        hold.order = order
        if hold.reason == HoldReason.CONFLICT and not auto:
            note = "；".join(p for p in (str(_("保留本地版本")), note) if p)
        _close_hold(hold, actor=actor, note=note, label="hold_auto_released" if auto else "hold_resolved")
        _settle_status(order, actor=actor)
        return True


def holds_release_due(*, now: datetime | None = None, tenant_id: int | None = None) -> int:
    """Timed holds ("hold until ...") whose time has come release themselves."""
    now = now or timezone.now()
    qs = Hold.objects.filter(resolved_at=None, until__isnull=False, until__lte=now)
    if tenant_id is not None:
        qs = qs.filter(tenant_id=tenant_id)
    n = 0
    for hold in qs.order_by("-order__urgent", "order__paid_at", "id"):
        n += hold_resolve(hold=hold, note=_("到期自动解除"), auto=True)
    return n
