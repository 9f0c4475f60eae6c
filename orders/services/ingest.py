"""Ingest of one platform order: create, or update by the three-way merge (orders.merge).

A platform update changes a field only when the platform's value changed since the last time it
sent the order (Order.platform_values); a field changed here and not by the platform keeps the
local value; a receiver field changed on both sides keeps the local value and opens a 地址冲突
hold showing both. Re-pulls never undo a hand mapping (OrderLine.sku_by_hand), a split or merge
(dissolved only on a real platform change) or a hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from inventory.models import Sku
from oms.models import Tenant

from .. import merge
from ..canonical import CanonicalOrder, PlatformState
from ..models import Hold, HoldReason, Order, OrderLine
from ..states import AFTER_SHIPPING, BEFORE_SHIPPING, RESERVING, OrderStatus
from .core import (
    PLATFORM_ONLY_FIELDS,
    REFUNDED,
    REVIEWABLE,
    _cancel,
    _close_hold,
    _event,
    _open_hold,
    _settle_status,
    order_transition,
)
from .review import _accept_and_review, _platform_holds, _review_rules

S = OrderStatus
#: line fields whose change moves stock (re-reserve, re-allocate)
STOCK_LINE_FIELDS = ("sku_id", "quantity", "is_gift")
#: what identifies the product of a platform line (a hand mapping stands while these do)
LINE_IDENTITY = ("platform_item_id", "platform_sku_id", "outer_sku_id")


@dataclass
class IngestResult:
    outcome: str  # created | updated | unchanged
    order_id: int


# --- values -----------------------------------------------------------------------------------------
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
        "buyer_email": (canonical.buyer_email or "").strip()[:254],
        "receiver_name": canonical.receiver_name[:100],
        "receiver_phone": canonical.receiver_phone[:40],
        "receiver_country": (canonical.receiver_country or "CN")[:2],
        "receiver_province": canonical.receiver_province[:50],
        "receiver_city": canonical.receiver_city[:50],
        "receiver_district": canonical.receiver_district[:50],
        "receiver_address": canonical.receiver_address[:255],
        "receiver_postcode": canonical.receiver_postcode[:20],
        "receiver_oaid": (canonical.receiver_oaid or "")[:128],
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


def _platform_values(canonical: CanonicalOrder, values: dict) -> dict:
    """Order.platform_values of this platform order (the base of the next merge)."""
    return merge.snapshot({**values, "urgent": bool(canonical.urgent)}, ship_blocks=canonical.ship_blocks)


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
        "refund_reason": (ln.refund_reason or "")[:255],
        "is_gift": ln.is_gift,
    }


# --- ingest -------------------------------------------------------------------------------------
def order_ingest(*, tenant: Tenant | int, shop, canonical: CanonicalOrder, source: str = "") -> IngestResult:
    """Idempotent upsert of one platform order, keyed on (tenant, shop, platform order id).

    Only moves forward in the platform's modified time: an older or unchanged re-ingest writes
    nothing. A paid order is reserved (order_accepted) in the same transaction and reviewed:
    a short reservation, an unmapped line, a refund request, a do-not-ship flag or a failing
    review rule puts it on hold.
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
    values = _order_values(canonical)
    with transaction.atomic():  # savepoint: a unique clash rolls back only this attempt
        order = Order.objects.create(
            tenant_id=tenant_id, shop_id=shop_id, platform=canonical.platform,
            platform_order_id=canonical.platform_order_id, status=status, placed_at=canonical.placed_at,
            platform_modified_at=canonical.modified_at, urgent=canonical.urgent,
            platform_values=_platform_values(canonical, values), **values,
        )
    OrderLine.objects.bulk_create([
        OrderLine(tenant_id=tenant_id, order=order, platform_line_id=ln.platform_line_id[:64],
                  **_line_values(ln, skus[i]))
        for i, ln in enumerate(canonical.lines)
    ])
    _event(order, "created", _("从 %(p)s 导入，平台状态 %(s)s") % {"p": canonical.platform, "s": canonical.platform_status},
           after={"status": status}, actor_label=label)
    if status == S.PENDING_REVIEW:
        _accept_and_review(order, label=label)
        _settle_status(order)
    return IngestResult("created", order.pk)


def _update(order: Order, canonical: CanonicalOrder, label: str) -> IngestResult:
    if canonical.modified_at <= order.platform_modified_at:
        return IngestResult("unchanged", order.pk)
    values = _order_values(canonical)
    incoming = _platform_values(canonical, values)
    base = merge.base_of(order)
    if canonical.extra.get("ship_blocks_unknown"):  # a payload that cannot tell: the flags stay as they were
        incoming["ship_blocks"] = dict(base.get("ship_blocks") or {})
    local = merge.local_of(order)
    result = merge.three_way(base=base, local=local, incoming=incoming)
    plain = {k: values[k] for k in PLATFORM_ONLY_FIELDS if getattr(order, k) != values[k]}
    receiver_before = {k: getattr(order, k) for k in result.apply if k in merge.RECEIVER_FIELDS}
    for k, v in {**plain, **result.apply}.items():
        setattr(order, k, v)
    blocks_changed = (base.get("ship_blocks") or {}) != incoming["ship_blocks"]
    order.platform_values = incoming
    order.platform_modified_at = canonical.modified_at
    order.save()

    if receiver_before:
        _event(order, "address_changed", _("平台修改了收件信息"), before=receiver_before,
               after={k: result.apply[k] for k in receiver_before}, actor_label=label)
        if order.status in (S.ALLOCATED, S.PICKING):
            _open_hold(order, HoldReason.ADDRESS_CHANGED, _("拣货前平台修改了收件信息，请核对"))
    others = [g for g in result.platform_changed if g not in merge.RECEIVER_GROUPS and g not in result.conflicts]
    if others:
        _event(order, "platform_changed", _("平台修改了%(what)s") % {
            "what": "、".join(str(merge.GROUP_LABELS[g]) for g in others)},
            before={f: local[f] for g in others for f in merge.GROUPS[g]},
            after={f: incoming[f] for g in others for f in merge.GROUPS[g]}, actor_label=label)
    if result.conflicts:
        _event(order, "conflict", _("平台修改了%(what)s，本系统也改过：保留本地的值") % {
            "what": "、".join(str(merge.GROUP_LABELS[g]) for g in result.conflicts)},
            before={f: local[f] for g in result.conflicts for f in merge.GROUPS[g]},
            after={f: incoming[f] for g in result.conflicts for f in merge.GROUPS[g]}, actor_label=label)

    lines_changed, stock_changed = _sync_lines(order, canonical, label)
    if lines_changed:
        _event(order, "lines_changed", _("平台修改了商品行"), after={"lines": lines_changed}, actor_label=label)

    state = canonical.state
    meaningful = bool(lines_changed or result.platform_changed or state == PlatformState.CANCELLED)
    if order.status in (S.MERGED, S.SPLIT) and meaningful:
        from .allocation import dissolve_for_platform_change

        dissolve_for_platform_change(order=order, label=label, changes=receiver_before or lines_changed
                                     or result.platform_changed)
        order.refresh_from_db()
    if any(g in merge.RECEIVER_GROUPS for g in result.conflicts) and order.status in RESERVING:
        _conflict_hold(order, [g for g in result.conflicts if g in merge.RECEIVER_GROUPS])

    if state == PlatformState.CANCELLED:
        if order.status in BEFORE_SHIPPING:
            _cancel(order, actor_label=label, message=_("平台已取消/退款：%(s)s") % {"s": canonical.platform_status})
        elif order.status not in (S.CANCELLED, S.MERGED, S.SPLIT):
            _event(order, "platform_cancelled", _("平台显示已关闭，但订单已发货：%(s)s") % {"s": canonical.platform_status},
                   actor_label=label)
    elif state == PlatformState.PAID and order.status == S.PENDING_PAYMENT:
        order_transition(order=order, to=S.PENDING_REVIEW, actor_label=label, message=_("买家已付款"))
        _accept_and_review(order, label=label)
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
        if all(ln.refund_status == REFUNDED for ln in order.lines.filter(is_gift=False)):
            _cancel(order, actor_label=label, message=_("全部商品已退款"))
        else:
            if order.status == S.ALLOCATED and stock_changed:  # what to pick differs: allocate again
                order_transition(order=order, to=S.APPROVED, actor_label=label, message=_("商品行变化，重新分仓"))
            _review_again(order, label)
    elif (plain or result.platform_changed or blocks_changed) and order.status in RESERVING:
        _review_again(order, label)
    return IngestResult("updated", order.pk)


def _review_again(order: Order, label: str) -> None:
    """A platform change of an order not shipped yet: review it again (once picking started only
    the platform's own stop signals -- refunds, do-not-ship flags -- are looked at)."""
    if order.status in REVIEWABLE | {S.ALLOCATED}:
        _accept_and_review(order, label=label)
    else:
        _platform_holds(order)
    _settle_status(order)


def _conflict_hold(order: Order, groups: list[str]) -> None:
    """地址冲突: both versions side by side in the hold (data: the groups, local and platform
    values, the order's status then); a newer platform version replaces an open one."""
    base = order.platform_values or {}
    fields = [f for g in groups for f in merge.GROUPS[g]]
    local = {f: getattr(order, f) for f in fields}
    platform = {f: base.get(f) for f in fields}
    detail = _("本地：%(l)s ｜ 平台：%(p)s") % {"l": merge.describe(local, groups), "p": merge.describe(platform, groups)}
    data = {"groups": groups, "local": local, "platform": platform, "status": str(order.status)}
    current = Hold.objects.filter(tenant_id=order.tenant_id, order=order, reason=HoldReason.CONFLICT,
                                  resolved_at=None).first()
    if current is not None:
        if current.data == data:
            return
        current.order = order
        _close_hold(current, note=_("平台又修改了收件信息"), label="hold_auto_released")
    _open_hold(order, HoldReason.CONFLICT, detail, data=data)
    _settle_status(order)


def _sync_platform_refunds(order: Order, label: str) -> None:
    from .returns import return_sync_platform

    return_sync_platform(order=order, label=label)


def _sync_lines(order: Order, canonical: CanonicalOrder, label: str) -> tuple[list[str], bool]:
    """The platform's lines onto ours: (platform line ids that changed, whether what to reserve
    changed). A line mapped by hand keeps its SKU while the platform line is the same product;
    one the platform turned into another product loses the hand mapping (said in the timeline)."""
    skus = _resolve_skus(order.tenant_id, canonical)
    existing = {ln.platform_line_id: ln for ln in order.lines.all()}
    changed, stock = [], False
    for i, ln in enumerate(canonical.lines):
        values = _line_values(ln, skus[i])
        cur = existing.get(ln.platform_line_id[:64])
        if cur is None:
            OrderLine.objects.create(tenant_id=order.tenant_id, order=order,
                                     platform_line_id=ln.platform_line_id[:64], **values)
            changed.append(ln.platform_line_id)
            stock = True
            continue
        if cur.sku_by_hand:
            if all(getattr(cur, k) == values[k] for k in LINE_IDENTITY):
                values["sku_id"] = cur.sku_id
            else:
                values["sku_by_hand"] = False
                _event(order, "mapping_lost", _("平台把商品行 %(l)s 换成了 %(p)s，人工匹配不再适用") % {
                    "l": cur.platform_line_id, "p": values["outer_sku_id"] or values["title"]}, actor_label=label)
        elif values["sku_id"] is None:  # mapped since (a listing), unknown to the platform: keep it
            values["sku_id"] = cur.sku_id
        diff = {k: v for k, v in values.items() if getattr(cur, k) != v}
        if diff:
            stock |= any(k in diff for k in STOCK_LINE_FIELDS) or (
                "refund_status" in diff and REFUNDED in (cur.refund_status, diff["refund_status"]))
            for k, v in diff.items():
                setattr(cur, k, v)
            cur.save(update_fields=list(diff))
            changed.append(ln.platform_line_id)
    return changed, stock


__all__ = ["IngestResult", "order_ingest", "_review_rules"]
