"""Review (审单): gifts, the reservation (through order_accepted), the system holds (unmapped
SKU, out of stock), the platform holds (退款拦截, 平台禁止发货) and the tenant's review rules --
and the actions that run it again (re-review, re-process, re-try for stock).

The page ingest (orders.services.bulk) runs the same findings over a page of new orders in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from inventory import selectors as stock_selectors
from inventory.models import Reservation, ReservationStatus, Sku
from oms import signals
from oms.models import Tenant

from .. import platform_holds, rules
from ..models import GiftRule, Hold, HoldReason, Order, OrderKind, OrderLine
from ..states import RESERVING, OrderStatus
from .core import (
    PLATFORM_REASONS,
    REFUNDED,
    REVIEWABLE,
    OrderActionError,
    _close_hold,
    _event,
    _lock,
    _open_hold,
    _picking_started,
    _reconcile_holds,
    _reservable_lines,
    _settle_status,
    _source_ids,
    _who,
)

S = OrderStatus


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
    _reconcile_holds(order, rules.RULE_REASONS, {r: (m, None) for r, m in findings.items()}, gone={},
                     related_ids=_source_ids(order))


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


def _platform_holds(order: Order) -> None:
    """退款拦截 and 平台禁止发货 from the order's lines and its platform flags. A refund that
    completes for part of an order whose parcel was already being picked keeps the hold, now
    asking for a re-pick (the parcel may hold the refunded goods): a person releases it."""
    lines = list(order.lines.all())
    found = platform_holds.findings(order, lines)
    if HoldReason.REFUND not in found:
        current = Hold.objects.filter(tenant_id=order.tenant_id, order=order, reason=HoldReason.REFUND,
                                      resolved_at=None).first()
        data = (current.data or {}) if current is not None else {}
        if data.get("repick"):
            found[HoldReason.REFUND] = (current.detail, data)
        elif current is not None and _picking_started(order):
            refunded = [ln for ln in lines if ln.platform_line_id in data.get("lines", []) and ln.refund_status == REFUNDED]
            if refunded:
                found[HoldReason.REFUND] = (_("部分退款已完成（%(l)s），包裹已在拣货：请按剩余商品重新拣货、核对包裹后解除") % {
                    "l": "、".join(f"{platform_holds._line_name(ln)}×{ln.quantity}" for ln in refunded)},
                    {**data, "repick": True})
    _reconcile_holds(order, PLATFORM_REASONS, found, gone={
        HoldReason.REFUND: _("平台退款申请已撤销或已完成，自动解除"),
        HoldReason.FORBID_SHIP: _("平台已解除禁止发货，自动解除"),
    })


def _accept_and_review(order: Order, *, actor=None, label: str = "") -> None:
    """The review step: gifts, reserve (through the signal; the ledger names `actor` / `label`),
    system holds (unmapped SKU, out of stock), platform holds (refund requested, do-not-ship
    flags) and the tenant's review rules."""
    if order.fulfilled_by_platform:
        return
    _apply_gifts(order)
    signals.order_accepted.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk,
                                lines=_reservable_lines(order), actor_id=getattr(actor, "pk", None),
                                actor_label=label or _who(actor))
    _system_holds(order)
    _platform_holds(order)
    _review_rules(order)


# --- re-review --------------------------------------------------------------------------------
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
            order_reprocess(tenant_id=tenant_id, order_id=order_id, label="task:orders.retry_held_for_stock")
            tried.append(order_id)
    return tried


def order_reprocess(*, tenant_id: int, order_id: int, label: str = "system") -> Order:
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
        _accept_and_review(order, label=label)
        _settle_status(order)
        return order


def order_review(*, order: Order, actor=None) -> Order:
    """Run review again by hand (e.g. after the tenant changed its rules or blacklist)."""
    with transaction.atomic():
        order = _lock(order)
        if order.status not in REVIEWABLE:
            raise OrderActionError(_("订单状态为“%(s)s”，不需要审单") % {"s": S(order.status).label})
        _accept_and_review(order, actor=actor)
        _settle_status(order, actor=actor)
        return order


