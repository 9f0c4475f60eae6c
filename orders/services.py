"""Every state-changing operation on orders. Each owns its transaction and writes OrderEvents.

Stock moves only through domain signals (order_accepted / order_released); inventory's
receivers run inside these transactions, so an order and its reservation commit together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import selectors as stock_selectors
from inventory.models import Sku
from oms import signals
from oms.models import Tenant

from .canonical import CanonicalOrder, PlatformState
from .models import Hold, HoldReason, Order, OrderEvent, OrderLine
from .states import BEFORE_SHIPPING, RESERVING, OrderStatus, check_transition

logger = logging.getLogger(__name__)

S = OrderStatus
REFUNDED = "refunded"
ADDRESS_FIELDS = ("receiver_name", "receiver_phone", "receiver_country", "receiver_province", "receiver_city",
                  "receiver_district", "receiver_address", "receiver_postcode")
ORDER_FIELDS = ADDRESS_FIELDS + ("platform_status", "buyer_nick", "currency", "goods_amount", "shipping_amount",
                                 "discount_amount", "paid_amount", "paid_at", "buyer_note", "seller_note",
                                 "fulfilled_by_platform")
#: holds whose cause the system can see being fixed, and so releases by itself
AUTO_RELEASABLE = {HoldReason.OUT_OF_STOCK, HoldReason.UNMAPPED_SKU}


class OrderActionError(Exception):
    """An action refused because of the order's state; the message is for the user."""


@dataclass
class IngestResult:
    outcome: str  # created | updated | unchanged
    order_id: int


# --- small building blocks -----------------------------------------------------------------
def _event(order: Order, type_: str, message: str = "", *, before=None, after=None, actor=None,
           actor_label: str = "") -> OrderEvent:
    return OrderEvent.objects.create(tenant_id=order.tenant_id, order=order, type=type_, message=message[:255],
                                     before=before, after=after, actor=actor,
                                     actor_label=actor_label or ("user" if actor else "system"))


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


def _open_hold(order: Order, reason: str, detail: str, *, actor=None, until=None) -> Hold | None:
    if Hold.objects.filter(tenant_id=order.tenant_id, order=order, reason=reason, resolved_at=None).exists():
        return None
    hold = Hold.objects.create(tenant_id=order.tenant_id, order=order, reason=reason, detail=detail[:255],
                               until=until)
    _event(order, "hold", f"{HoldReason(reason).label}: {detail}", after={"reason": reason, "detail": detail},
           actor=actor)
    return hold


def _close_hold(hold: Hold, *, actor=None, note: str = "", label: str = "hold_resolved") -> None:
    hold.resolved_at = timezone.now()
    hold.resolved_by = actor
    hold.resolution_note = note[:255]
    hold.save(update_fields=["resolved_at", "resolved_by", "resolution_note"])
    _event(hold.order, label, f"{hold.get_reason_display()}: {note}".strip(": "),
           before={"reason": hold.reason, "detail": hold.detail}, actor=actor)


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


def _reservable_lines(order: Order) -> list[dict]:
    return [
        {"line_id": ln.pk, "sku_id": ln.sku_id, "quantity": ln.quantity}
        for ln in order.lines.all()
        if ln.sku_id is not None and ln.refund_status != REFUNDED
    ]


def _accept_and_review(order: Order) -> None:
    """Reserve (through the signal) and put system holds: unmapped SKU, out of stock."""
    if order.fulfilled_by_platform:
        return
    lines = list(order.lines.all())
    signals.order_accepted.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk,
                                lines=_reservable_lines(order))
    unmapped = [ln for ln in lines if ln.sku_id is None and ln.refund_status != REFUNDED]
    shortages = stock_selectors.order_shortages(tenant_id=order.tenant_id, order_id=order.pk)
    open_holds = {h.reason: h for h in Hold.objects.filter(tenant_id=order.tenant_id, order=order, resolved_at=None)}
    if unmapped:
        detail = "；".join(
            _("平台商品 %(item)s / SKU %(sku)s / 编码 %(code)s 未匹配到商品")
            % {"item": ln.platform_item_id or "-", "sku": ln.platform_sku_id or "-", "code": ln.outer_sku_id or "-"}
            for ln in unmapped
        )
        _open_hold(order, HoldReason.UNMAPPED_SKU, detail)
    elif HoldReason.UNMAPPED_SKU in open_holds:
        _close_hold(open_holds[HoldReason.UNMAPPED_SKU], note=_("商品已匹配，自动解除"), label="hold_auto_released")
    if shortages:
        codes = dict(Sku.objects.filter(tenant_id=order.tenant_id, pk__in=[s for s, _q in shortages])
                     .values_list("pk", "code"))
        detail = "；".join(_("%(code)s 缺 %(qty)s 件") % {"code": codes.get(s, s), "qty": q} for s, q in shortages)
        _open_hold(order, HoldReason.OUT_OF_STOCK, detail)
    elif HoldReason.OUT_OF_STOCK in open_holds:
        _close_hold(open_holds[HoldReason.OUT_OF_STOCK], note=_("库存已到，自动解除"), label="hold_auto_released")


def _resolve_skus(tenant_id: int, canonical: CanonicalOrder) -> dict[int, int | None]:
    """index of line -> internal sku id (given by the channel layer, else by merchant code)."""
    given = {ln.sku_id for ln in canonical.lines if ln.sku_id}
    valid = set(Sku.objects.filter(tenant_id=tenant_id, pk__in=given).values_list("pk", flat=True)) if given else set()
    codes = {ln.outer_sku_id for ln in canonical.lines if not ln.sku_id and ln.outer_sku_id}
    by_code = dict(Sku.objects.filter(tenant_id=tenant_id, code__in=codes).values_list("code", "pk")) if codes else {}
    out = {}
    for i, ln in enumerate(canonical.lines):
        if ln.sku_id:
            out[i] = ln.sku_id if ln.sku_id in valid else None
        else:
            out[i] = by_code.get(ln.outer_sku_id)
    return out


def _initial_status(canonical: CanonicalOrder) -> str:
    return {
        PlatformState.UNPAID: S.PENDING_PAYMENT,
        PlatformState.PAID: S.PENDING_REVIEW,
        PlatformState.SHIPPED: S.SHIPPED,
        PlatformState.COMPLETED: S.DELIVERED,
        PlatformState.CANCELLED: S.CANCELLED,
    }[canonical.state]


def _order_values(canonical: CanonicalOrder) -> dict:
    return {
        "platform_status": canonical.platform_status,
        "buyer_nick": canonical.buyer_nick[:100],
        "receiver_name": canonical.receiver_name[:100],
        "receiver_phone": canonical.receiver_phone[:40],
        "receiver_country": (canonical.receiver_country or "CN")[:2],
        "receiver_province": canonical.receiver_province[:50],
        "receiver_city": canonical.receiver_city[:50],
        "receiver_district": canonical.receiver_district[:50],
        "receiver_address": canonical.receiver_address[:255],
        "receiver_postcode": canonical.receiver_postcode[:20],
        "currency": canonical.currency,
        "goods_amount": canonical.goods_amount,
        "shipping_amount": canonical.shipping_amount,
        "discount_amount": canonical.discount_amount,
        "paid_amount": canonical.paid_amount,
        "paid_at": canonical.paid_at,
        "buyer_note": canonical.buyer_note,
        "seller_note": canonical.seller_note,
        "fulfilled_by_platform": canonical.fulfilled_by_platform,
    }


def _line_values(ln, sku_id) -> dict:
    amount = ln.amount if ln.amount is not None else (ln.unit_price * ln.quantity)
    return {
        "platform_item_id": ln.platform_item_id[:64],
        "platform_sku_id": ln.platform_sku_id[:64],
        "outer_sku_id": ln.outer_sku_id[:64],
        "title": ln.title[:255],
        "sku_id": sku_id,
        "quantity": ln.quantity,
        "unit_price": Decimal(ln.unit_price),
        "amount": Decimal(amount),
        "refund_status": ln.refund_status,
        "is_gift": ln.is_gift,
    }


# --- ingest -------------------------------------------------------------------------------------
def order_ingest(*, tenant: Tenant | int, shop, canonical: CanonicalOrder, source: str = "") -> IngestResult:
    """Idempotent upsert of one platform order, keyed on (tenant, shop, platform order id).

    Only moves forward in the platform's modified time: an older or unchanged re-ingest writes
    nothing. A paid order is reserved (order_accepted) in the same transaction; a short
    reservation or an unmapped line puts it on hold.
    """
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    shop_id = shop if isinstance(shop, int) else shop.pk
    label = source or f"channel:{canonical.platform}"
    for attempt in range(2):
        try:
            with transaction.atomic():
                existing = (
                    Order.objects.select_for_update()
                    .filter(tenant_id=tenant_id, shop_id=shop_id, platform_order_id=canonical.platform_order_id)
                    .first()
                )
                if existing is None:
                    return _create(tenant_id, shop_id, canonical, label)
                return _update(existing, canonical, label)
        except IntegrityError:
            # two workers created the same order at once: the loser retries as an update
            if attempt:
                raise
    raise AssertionError("unreachable")


def _create(tenant_id: int, shop_id: int, canonical: CanonicalOrder, label: str) -> IngestResult:
    skus = _resolve_skus(tenant_id, canonical)
    status = _initial_status(canonical)
    if canonical.fulfilled_by_platform and status == S.PENDING_REVIEW:
        status = S.APPROVED
    with transaction.atomic():  # savepoint: a unique clash rolls back only this attempt
        order = Order.objects.create(
            tenant_id=tenant_id, shop_id=shop_id, platform=canonical.platform,
            platform_order_id=canonical.platform_order_id, status=status, placed_at=canonical.placed_at,
            platform_modified_at=canonical.modified_at, urgent=canonical.urgent, **_order_values(canonical),
        )
    OrderLine.objects.bulk_create([
        OrderLine(tenant_id=tenant_id, order=order, platform_line_id=ln.platform_line_id[:64],
                  **_line_values(ln, skus[i]))
        for i, ln in enumerate(canonical.lines)
    ])
    _event(order, "created", _("从 %(p)s 导入，平台状态 %(s)s") % {"p": canonical.platform, "s": canonical.platform_status},
           after={"status": status}, actor_label=label)
    if status == S.PENDING_REVIEW:
        _accept_and_review(order)
        _settle_status(order)
    return IngestResult("created", order.pk)


def _update(order: Order, canonical: CanonicalOrder, label: str) -> IngestResult:
    if canonical.modified_at <= order.platform_modified_at:
        return IngestResult("unchanged", order.pk)
    values = _order_values(canonical)
    changed = {k: v for k, v in values.items() if getattr(order, k) != v}
    address_before = {k: getattr(order, k) for k in ADDRESS_FIELDS if k in changed}
    for k, v in changed.items():
        setattr(order, k, v)
    order.platform_modified_at = canonical.modified_at
    order.save()
    if address_before:
        _event(order, "address_changed", _("平台修改了收件信息"), before=address_before,
               after={k: changed[k] for k in address_before}, actor_label=label)
        if order.status in (S.ALLOCATED, S.PICKING):
            _open_hold(order, HoldReason.ADDRESS_CHANGED, _("拣货前平台修改了收件信息，请核对"))

    lines_changed = _sync_lines(order, canonical)
    if lines_changed:
        _event(order, "lines_changed", _("平台修改了商品行"), after={"lines": lines_changed}, actor_label=label)

    state = canonical.state
    if state == PlatformState.CANCELLED:
        if order.status in BEFORE_SHIPPING:
            signals.order_released.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk)
            order_transition(order=order, to=S.CANCELLED, actor_label=label,
                             message=_("平台已取消/退款：%(s)s") % {"s": canonical.platform_status})
        elif order.status != S.CANCELLED:
            _event(order, "platform_cancelled", _("平台显示已关闭，但订单已发货：%(s)s") % {"s": canonical.platform_status},
                   actor_label=label)
    elif state == PlatformState.PAID and order.status == S.PENDING_PAYMENT:
        order_transition(order=order, to=S.PENDING_REVIEW, actor_label=label, message=_("买家已付款"))
        _accept_and_review(order)
        _settle_status(order)
    elif state in (PlatformState.SHIPPED, PlatformState.COMPLETED) and order.status in RESERVING:
        _open_hold(order, HoldReason.PLATFORM, _("平台显示已发货（%(s)s），但本系统尚未发货") % {"s": canonical.platform_status})
        _settle_status(order)
    elif state == PlatformState.COMPLETED and order.status == S.SHIPPED:
        order_transition(order=order, to=S.DELIVERED, actor_label=label, message=_("平台显示已签收"))
    elif lines_changed and order.status in RESERVING:
        all_refunded = all(ln.refund_status == REFUNDED for ln in order.lines.all())
        if all_refunded:
            signals.order_released.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk)
            order_transition(order=order, to=S.CANCELLED, actor_label=label, message=_("全部商品已退款"))
        else:
            _accept_and_review(order)
            _settle_status(order)
    return IngestResult("updated", order.pk)


def _sync_lines(order: Order, canonical: CanonicalOrder) -> list[str]:
    skus = _resolve_skus(order.tenant_id, canonical)
    existing = {ln.platform_line_id: ln for ln in order.lines.all()}
    changed = []
    for i, ln in enumerate(canonical.lines):
        values = _line_values(ln, skus[i])
        cur = existing.get(ln.platform_line_id[:64])
        if cur is None:
            OrderLine.objects.create(tenant_id=order.tenant_id, order=order,
                                     platform_line_id=ln.platform_line_id[:64], **values)
            changed.append(ln.platform_line_id)
            continue
        # a line mapped by hand keeps its mapping when the platform still does not know it
        if values["sku_id"] is None:
            values["sku_id"] = cur.sku_id
        diff = {k: v for k, v in values.items() if getattr(cur, k) != v}
        if diff:
            for k, v in diff.items():
                setattr(cur, k, v)
            cur.save(update_fields=list(diff))
            changed.append(ln.platform_line_id)
    return changed


# --- actions by people and tasks -------------------------------------------------------------
def order_hold(*, order: Order, reason: str = HoldReason.MANUAL, detail: str = "", actor=None,
               until=None) -> Hold | None:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk, tenant_id=order.tenant_id)
        if order.status not in (S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.ALLOCATED, S.PICKING):
            raise OrderActionError(_("订单状态为“%(s)s”，不能挂起") % {"s": S(order.status).label})
        hold = _open_hold(order, reason, detail, actor=actor, until=until)
        _settle_status(order, actor=actor)
        return hold


def hold_resolve(*, hold: Hold, actor=None, note: str = "") -> None:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=hold.order_id, tenant_id=hold.tenant_id)
        hold = Hold.objects.select_for_update().get(pk=hold.pk, tenant_id=hold.tenant_id)
        if hold.resolved_at is not None:
            return
        hold.order = order
        _close_hold(hold, actor=actor, note=note)
        _settle_status(order, actor=actor)


def order_approve(*, order: Order, actor=None) -> Order:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk, tenant_id=order.tenant_id)
        if Hold.objects.filter(tenant_id=order.tenant_id, order=order, resolved_at=None).exists():
            raise OrderActionError(_("订单还有未解除的挂起，不能审核通过"))
        return order_transition(order=order, to=S.APPROVED, actor=actor)


def order_cancel(*, order: Order, actor=None, reason: str = "") -> Order:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk, tenant_id=order.tenant_id)
        if order.status == S.CANCELLED:
            return order
        if order.status not in BEFORE_SHIPPING:
            raise OrderActionError(_("订单已发货，无法取消"))
        signals.order_released.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk)
        return order_transition(order=order, to=S.CANCELLED, actor=actor, message=reason or _("取消订单"))


def order_reprocess(*, tenant_id: int, order_id: int) -> Order:
    """Re-run mapping, reservation and system holds (after a mapping was created or stock came)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id, tenant_id=tenant_id)
        if order.status not in RESERVING:
            return order
        for ln in order.lines.filter(sku__isnull=True):
            sku_id = Sku.objects.filter(tenant_id=tenant_id, code=ln.outer_sku_id).values_list("pk", flat=True).first()
            if sku_id and ln.outer_sku_id:
                ln.sku_id = sku_id
                ln.save(update_fields=["sku"])
        _accept_and_review(order)
        _settle_status(order)
        return order
