"""Ingest, review (rules -> holds), holds, gifts and the customer-service actions.

Every public function owns its transaction and writes OrderEvents. Stock moves only through
the domain signals (order_accepted / order_released); inventory's receivers run inside these
transactions, so an order and its reservation commit together.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import selectors as stock_selectors
from inventory.models import Reservation, ReservationStatus, Sku
from oms import signals
from oms.models import Tenant

from .. import rules
from ..canonical import CanonicalOrder, PlatformState
from ..models import GiftRule, Hold, HoldReason, Order, OrderEvent, OrderKind, OrderLine, OrderSource
from ..states import AFTER_SHIPPING, BEFORE_SHIPPING, RESERVING, OrderStatus, check_transition

logger = logging.getLogger(__name__)

S = OrderStatus
REFUNDED = "refunded"
REFUND_REQUESTED = "requested"
ADDRESS_FIELDS = ("receiver_name", "receiver_phone", "receiver_country", "receiver_province", "receiver_city",
                  "receiver_district", "receiver_address", "receiver_postcode")
ORDER_FIELDS = ADDRESS_FIELDS + ("platform_status", "buyer_nick", "currency", "goods_amount", "shipping_amount",
                                 "discount_amount", "paid_amount", "paid_at", "buyer_note", "seller_note",
                                 "fulfilled_by_platform")
#: holds whose cause the system can see being fixed, and so releases by itself
AUTO_RELEASABLE = {HoldReason.OUT_OF_STOCK, HoldReason.UNMAPPED_SKU, HoldReason.ALLOCATION, *rules.RULE_REASONS}
#: states in which review (rules, gifts) runs again when the order changes
REVIEWABLE = frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED})


class OrderActionError(Exception):
    """An action refused because of the order's state; the message is for the user."""


@dataclass
class IngestResult:
    outcome: str  # created | updated | unchanged
    order_id: int


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
    hold.resolution_note = str(note)[:255]
    hold.auto_released = label == "hold_auto_released"
    hold.save(update_fields=["resolved_at", "resolved_by", "resolution_note", "auto_released"])
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


def _source_ids(order: Order) -> list[int]:
    """The order and, transitively, the orders it was merged or split from."""
    ids, frontier = [order.pk], [order.pk]
    while frontier:
        frontier = list(OrderSource.objects.filter(tenant_id=order.tenant_id, order_id__in=frontier)
                        .values_list("source_id", flat=True))
        frontier = [i for i in frontier if i not in ids]
        ids.extend(frontier)
    return ids


# --- gifts ------------------------------------------------------------------------------------
def _gift_quantity(rule: GiftRule, order: Order, lines: list[OrderLine]) -> int:
    if rule.trigger_sku_id is None and rule.min_paid_amount is None:
        return 0
    if rule.min_paid_amount is not None and order.paid_amount < rule.min_paid_amount:
        return 0
    times = 1
    if rule.trigger_sku_id is not None:
        bought = sum(ln.quantity for ln in lines if ln.sku_id == rule.trigger_sku_id)
        if bought < rule.trigger_quantity:
            return 0
        if rule.per_quantity:
            times = bought // rule.trigger_quantity
    return rule.gift_quantity * times


def _apply_gifts(order: Order) -> list[str]:
    """Add / adjust / remove gift lines for the tenant's gift rules. Idempotent: one gift line
    per rule (platform line id gift-<rule id>). Returns a description of what changed."""
    if order.kind != OrderKind.NORMAL or order.status not in REVIEWABLE:
        return []
    when = order.paid_at or order.placed_at
    rules_qs = GiftRule.objects.filter(tenant_id=order.tenant_id, enabled=True, starts_at__lte=when,
                                       ends_at__gte=when).filter(Q(shop__isnull=True) | Q(shop_id=order.shop_id))
    active = list(rules_qs.select_related("gift_sku"))
    all_lines = list(order.lines.all())
    buying = [ln for ln in all_lines if not ln.is_gift and ln.refund_status != REFUNDED]
    existing = {ln.gift_rule_id: ln for ln in all_lines if ln.is_gift and ln.gift_rule_id}
    changes = []
    for rule in active:
        qty = _gift_quantity(rule, order, buying)
        line = existing.get(rule.pk)
        if qty and line is None:
            OrderLine.objects.create(
                tenant_id=order.tenant_id, order=order, platform_line_id=f"gift-{rule.pk}", sku=rule.gift_sku,
                outer_sku_id=rule.gift_sku.code, title=f"{_('赠品')} {rule.gift_sku.name}"[:255], quantity=qty,
                unit_price=Decimal("0"), amount=Decimal("0"), is_gift=True, gift_rule=rule)
            changes.append(_("加赠品 %(code)s × %(q)d（%(rule)s）") % {"code": rule.gift_sku.code, "q": qty,
                                                                    "rule": rule.name})
        elif qty and line.quantity != qty:
            OrderLine.objects.filter(pk=line.pk).update(quantity=qty)
            changes.append(_("赠品 %(code)s 数量 %(a)d → %(b)d") % {"code": rule.gift_sku.code, "a": line.quantity,
                                                                   "b": qty})
        elif not qty and line is not None:
            line.delete()
            changes.append(_("不再满足“%(rule)s”，移除赠品 %(code)s") % {"rule": rule.name, "code": rule.gift_sku.code})
    if changes:
        _event(order, "gifts", "；".join(changes))
    return changes


# --- review -----------------------------------------------------------------------------------
def _review_rules(order: Order) -> None:
    """Rules -> holds. A rule's hold opens when it fires, is released when its cause is gone,
    and is not opened again for the same finding once a person resolved it (on this order or
    the orders it was merged/split from)."""
    tenant = Tenant.objects.only("default_currency").get(pk=order.tenant_id)
    findings = rules.evaluate(order, tenant_currency=tenant.default_currency)
    holds = list(Hold.objects.filter(tenant_id=order.tenant_id, order_id__in=_source_ids(order),
                                     reason__in=rules.RULE_REASONS))
    open_holds = {h.reason: h for h in holds if h.order_id == order.pk and h.resolved_at is None}
    acknowledged = {(h.reason, h.detail) for h in holds if h.resolved_at is not None and not h.auto_released}
    for reason in rules.RULE_REASONS:
        message = findings.get(reason)
        current = open_holds.get(reason)
        if message is None:
            if current is not None:
                current.order = order
                _close_hold(current, note=_("原因已消除，自动解除"), label="hold_auto_released")
            continue
        if current is not None:
            if current.detail == message[:255]:
                continue
            current.order = order
            _close_hold(current, note=_("审单结果已变化"), label="hold_auto_released")
        if (reason, message[:255]) in acknowledged:
            continue
        _open_hold(order, reason, message)


def _system_holds(order: Order) -> None:
    lines = list(order.lines.all())
    unmapped = [ln for ln in lines if ln.sku_id is None and ln.refund_status != REFUNDED]
    shortages = stock_selectors.order_shortages(tenant_id=order.tenant_id, order_id=order.pk)
    open_holds = {h.reason: h for h in Hold.objects.filter(tenant_id=order.tenant_id, order=order, resolved_at=None)}
    for h in open_holds.values():
        h.order = order
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


def _accept_and_review(order: Order) -> None:
    """The review step: gifts, reserve (through the signal), system holds (unmapped SKU, out of
    stock) and the tenant's review rules."""
    if order.fulfilled_by_platform:
        return
    _apply_gifts(order)
    signals.order_accepted.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk,
                                lines=_reservable_lines(order))
    _system_holds(order)
    _review_rules(order)


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
    nothing. A paid order is reserved (order_accepted) in the same transaction and reviewed:
    a short reservation, an unmapped line or a failing review rule puts it on hold.
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
    meaningful = bool(lines_changed or address_before or state == PlatformState.CANCELLED
                      or {"buyer_note", "seller_note"} & set(changed))
    if order.status in (S.MERGED, S.SPLIT) and meaningful:
        from .allocation import dissolve_for_platform_change

        dissolve_for_platform_change(order=order, label=label, changes=address_before or lines_changed or changed)
        order.refresh_from_db()

    if state == PlatformState.CANCELLED:
        if order.status in BEFORE_SHIPPING:
            signals.order_released.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk)
            order_transition(order=order, to=S.CANCELLED, actor_label=label,
                             message=_("平台已取消/退款：%(s)s") % {"s": canonical.platform_status})
        elif order.status not in (S.CANCELLED, S.MERGED, S.SPLIT):
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
        if lines_changed:
            _sync_platform_refunds(order, label)
    elif lines_changed and order.status in AFTER_SHIPPING:
        _sync_platform_refunds(order, label)
    elif lines_changed and order.status in RESERVING:
        all_refunded = all(ln.refund_status == REFUNDED for ln in order.lines.filter(is_gift=False))
        if all_refunded:
            signals.order_released.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk)
            order_transition(order=order, to=S.CANCELLED, actor_label=label, message=_("全部商品已退款"))
        else:
            if order.status == S.ALLOCATED:  # lines differ: allocate again
                order_transition(order=order, to=S.APPROVED, actor_label=label, message=_("商品行变化，重新分仓"))
            _accept_and_review(order)
            _settle_status(order)
    elif changed and order.status in REVIEWABLE | {S.ALLOCATED}:
        _accept_and_review(order)
        _settle_status(order)
    return IngestResult("updated", order.pk)


def _sync_platform_refunds(order: Order, label: str) -> None:
    from .returns import return_sync_platform

    return_sync_platform(order=order, label=label)


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
    """Resolve one hold (with a note). Returns False when it was already resolved."""
    with transaction.atomic():
        order = _lock(hold.order_id, hold.tenant_id)
        hold = Hold.objects.select_for_update().get(pk=hold.pk, tenant_id=hold.tenant_id)
        if hold.resolved_at is not None:
            return False
        hold.order = order
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


def orders_retry_stock(*, tenant_id: int, sku_ids: list[int]) -> list[int]:
    """Stock of these SKUs changed: re-try the reservation of orders held out of stock for them,
    urgent and older first, each only when what it misses is available now (so a re-try never
    churns the ledger for nothing). Returns the ids of the orders re-tried."""
    short_orders = set(Reservation.objects.filter(tenant_id=tenant_id, status=ReservationStatus.SHORT,
                                                  sku_id__in=sku_ids).values_list("order_id", flat=True))
    if not short_orders:
        return []
    held = (Order.objects.filter(tenant_id=tenant_id, pk__in=short_orders, holds__reason=HoldReason.OUT_OF_STOCK,
                                 holds__resolved_at=None).order_by("-urgent", "paid_at", "id")
            .values_list("pk", flat=True).distinct())
    tried = []
    for order_id in held:
        missing: dict[int, int] = defaultdict(int)
        for sku_id, q in stock_selectors.order_shortages(tenant_id=tenant_id, order_id=order_id):
            missing[sku_id] += q
        # read fresh each time: earlier re-tries (or other workers) took stock meanwhile
        if missing and all(stock_selectors.sku_available(tenant_id=tenant_id, sku_id=s) >= q
                           for s, q in missing.items()):
            order_reprocess(tenant_id=tenant_id, order_id=order_id)
            tried.append(order_id)
    return tried


def order_reprocess(*, tenant_id: int, order_id: int) -> Order:
    """Re-run mapping, reservation and review (after a mapping was created or stock came)."""
    with transaction.atomic():
        order = _lock(order_id, tenant_id)
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


def order_review(*, order: Order, actor=None) -> Order:
    """Run review again by hand (e.g. after the tenant changed its rules or blacklist)."""
    with transaction.atomic():
        order = _lock(order)
        if order.status not in REVIEWABLE:
            raise OrderActionError(_("订单状态为“%(s)s”，不需要审单") % {"s": S(order.status).label})
        _accept_and_review(order)
        _settle_status(order, actor=actor)
        return order


# --- customer service ---------------------------------------------------------------------------
def _refuse_if_absorbed(order: Order, what: str) -> None:
    if order.status == S.MERGED:
        raise OrderActionError(_("订单已合并到合并单，请在合并单上%(w)s") % {"w": what})
    if order.status == S.SPLIT:
        raise OrderActionError(_("订单已拆分，请在子单上%(w)s") % {"w": what})


def order_approve(*, order: Order, actor=None) -> Order:
    with transaction.atomic():
        order = _lock(order)
        if order.status == S.APPROVED:
            return order
        if order.status not in (S.PENDING_REVIEW, S.ON_HOLD):
            raise OrderActionError(_("订单状态为“%(s)s”，不能审核") % {"s": S(order.status).label})
        if Hold.objects.filter(tenant_id=order.tenant_id, order=order, resolved_at=None).exists():
            raise OrderActionError(_("订单还有未解除的挂起，不能审核通过"))
        if order.status == S.ON_HOLD:
            order_transition(order=order, to=S.PENDING_REVIEW, actor=actor)
        return order_transition(order=order, to=S.APPROVED, actor=actor)


def order_cancel(*, order: Order, actor=None, reason: str = "") -> Order:
    """Cancel before shipping; the reservation is released. A merged order takes its source
    orders with it; a source order is cancelled on its merged order."""
    with transaction.atomic():
        order = _lock(order)
        if order.status == S.CANCELLED:
            return order
        _refuse_if_absorbed(order, _("取消"))
        if order.status not in BEFORE_SHIPPING:
            raise OrderActionError(_("订单已发货，无法取消"))
        signals.order_released.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk)
        order = order_transition(order=order, to=S.CANCELLED, actor=actor, message=reason or _("取消订单"))
        if order.kind == OrderKind.MERGED:
            for src in Order.objects.select_for_update().filter(
                    tenant_id=order.tenant_id, derived__order=order, status=S.MERGED).order_by("pk"):
                order_transition(order=src, to=S.CANCELLED, actor=actor,
                                 message=_("合并单 %(n)s 已取消") % {"n": order.number})
        return order


def order_change_receiver(*, order: Order, actor=None, receiver_name: str | None = None,
                          receiver_phone: str | None = None, receiver_province: str | None = None,
                          receiver_city: str | None = None, receiver_district: str | None = None,
                          receiver_address: str | None = None, receiver_postcode: str | None = None) -> Order:
    """Change who receives the parcel and where. The old values stay in the timeline; the order
    is reviewed again (a fixed phone releases its hold). Refused once the parcel left."""
    given = {"receiver_name": receiver_name, "receiver_phone": receiver_phone,
             "receiver_province": receiver_province, "receiver_city": receiver_city,
             "receiver_district": receiver_district, "receiver_address": receiver_address,
             "receiver_postcode": receiver_postcode}
    with transaction.atomic():
        order = _lock(order)
        _refuse_if_absorbed(order, _("修改地址"))
        if order.status in (S.SHIPPED, S.DELIVERED, S.RETURNED):
            raise OrderActionError(_("已发货，无法修改地址"))
        if order.status == S.CANCELLED:
            raise OrderActionError(_("订单已取消，无法修改地址"))
        new = {k: v.strip() for k, v in given.items() if v is not None and v.strip() != getattr(order, k)}
        if not new:
            return order
        before = {k: getattr(order, k) for k in new}
        for k, v in new.items():
            setattr(order, k, v)
        order.save(update_fields=[*new, "updated_at"])
        _event(order, "address_changed", _("客服修改了收件信息"), before=before, after=new, actor=actor)
        if order.status == S.PICKING:
            _open_hold(order, HoldReason.ADDRESS_CHANGED, _("拣货中修改了收件信息，请重新打印面单"), actor=actor)
            _settle_status(order, actor=actor)
        elif order.status in REVIEWABLE | {S.ALLOCATED}:
            _review_rules(order)
            _settle_status(order, actor=actor)
        return order


def order_add_note(*, order: Order, text: str, actor=None) -> OrderEvent | None:
    """An internal note on the timeline (any state)."""
    text = (text or "").strip()
    if not text:
        return None
    with transaction.atomic():
        order = _lock(order)
        return _event(order, "note", text, actor=actor)


def order_set_urgent(*, order: Order, urgent: bool = True, actor=None) -> Order:
    with transaction.atomic():
        order = _lock(order)
        if order.urgent == urgent:
            return order
        if order.status not in BEFORE_SHIPPING:
            raise OrderActionError(_("订单状态为“%(s)s”，无法修改加急") % {"s": S(order.status).label})
        order.urgent = urgent
        order.save(update_fields=["urgent", "updated_at"])
        _event(order, "urgent", _("标记加急") if urgent else _("取消加急"), before={"urgent": not urgent},
               after={"urgent": urgent}, actor=actor)
        return order
