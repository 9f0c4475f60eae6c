"""Customer-service and ops actions on one order: approve, cancel, change the receiver, notes,
urgent, decide an address conflict, map a line to a SKU by hand.

A local decision is recorded against the platform's last values (Order.platform_values), so
the next platform update keeps it (orders.merge): the platform's version is snapshotted first
for orders ingested before those values were kept.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from inventory.models import Sku

from .. import merge
from ..models import Hold, HoldReason, Order, OrderEvent, OrderKind
from ..states import BEFORE_SHIPPING, OrderStatus
from .core import (
    REVIEWABLE,
    OrderActionError,
    _cancel,
    _close_hold,
    _event,
    _lock,
    _open_hold,
    _picking_started,
    _settle_status,
    order_transition,
)
from .review import _accept_and_review, _review_rules

S = OrderStatus
RECEIVER_KEYS = ("receiver_name", "receiver_phone", "receiver_province", "receiver_city", "receiver_district",
                 "receiver_address", "receiver_postcode")


def _refuse_if_absorbed(order: Order, what: str) -> None:
    if order.status == S.MERGED:
        raise OrderActionError(_("订单已合并到合并单，请在合并单上%(w)s") % {"w": what})
    if order.status == S.SPLIT:
        raise OrderActionError(_("订单已拆分，请在子单上%(w)s") % {"w": what})


def _keep_platform_base(order: Order) -> None:
    """Before a local edit: make sure the platform's version is kept (older orders: the current
    values are the platform's, as nobody could edit them without this)."""
    if not order.platform_values:
        order.platform_values = merge.base_of(order)
        order.save(update_fields=["platform_values"])


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
    """Cancel before shipping; the reservation is released and a waybill number already taken
    is given back (order_cancelled). A merged order takes its source orders with it; a source
    order is cancelled on its merged order."""
    with transaction.atomic():
        order = _lock(order)
        if order.status == S.CANCELLED:
            return order
        _refuse_if_absorbed(order, _("取消"))
        if order.status not in BEFORE_SHIPPING:
            raise OrderActionError(_("订单已发货，无法取消"))
        order = _cancel(order, actor=actor, message=reason or _("取消订单"))
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
    is reviewed again (a fixed phone releases its hold). Refused once the parcel left. A later
    platform update keeps this change unless the platform changes the same thing too (then a
    地址冲突 hold shows both)."""
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
        _keep_platform_base(order)
        before = {k: getattr(order, k) for k in new}
        for k, v in new.items():
            setattr(order, k, v)
        order.save(update_fields=[*new, "updated_at"])
        _event(order, "address_changed", _("客服修改了收件信息"), before=before, after=new, actor=actor)
        _conflict_recheck(order, actor=actor)
        if order.status == S.PICKING:
            _open_hold(order, HoldReason.ADDRESS_CHANGED, _("拣货中修改了收件信息，请重新打印面单"), actor=actor)
            _settle_status(order, actor=actor)
        elif order.status in REVIEWABLE | {S.ALLOCATED}:
            _review_rules(order)
            _settle_status(order, actor=actor)
        return order


def _conflict_recheck(order: Order, *, actor=None) -> None:
    """An open address conflict whose two sides are equal now (the local edit followed the
    platform) is over."""
    hold = Hold.objects.filter(tenant_id=order.tenant_id, order=order, reason=HoldReason.CONFLICT,
                               resolved_at=None).first()
    if hold is not None and not any(g in merge.RECEIVER_GROUPS for g in merge.local_overrides(order)):
        hold.order = order
        _close_hold(hold, actor=actor, note=_("本地与平台的收件信息已一致"), label="hold_auto_released")


def order_conflict_resolve(*, order: Order, keep: str, actor=None, note: str = "") -> Order:
    """Decide an address conflict: keep="local" keeps this system's receiver, keep="platform"
    takes the platform's (timeline before/after). Either way the hold closes and the order is
    reviewed again; a parcel already being picked is held for a new label when the address
    changes."""
    if keep not in ("local", "platform"):
        raise ValueError("keep must be 'local' or 'platform'")
    with transaction.atomic():
        order = _lock(order)
        hold = Hold.objects.select_for_update().filter(tenant_id=order.tenant_id, order=order,
                                                       reason=HoldReason.CONFLICT, resolved_at=None).first()
        if hold is None:
            raise OrderActionError(_("没有待处理的地址冲突"))
        hold.order = order
        if keep == "platform":
            base = order.platform_values or {}
            new = {f: base[f] for f in merge.RECEIVER_FIELDS if f in base and base[f] != getattr(order, f)}
            if new:
                before = {k: getattr(order, k) for k in new}
                for k, v in new.items():
                    setattr(order, k, v)
                order.save(update_fields=[*new, "updated_at"])
                _event(order, "address_changed", _("采用平台的收件信息（地址冲突）"), before=before, after=new,
                       actor=actor)
                if _picking_started(order):
                    _open_hold(order, HoldReason.ADDRESS_CHANGED, _("拣货中改用了平台的收件信息，请重新打印面单"),
                               actor=actor)
            text = _("采用平台版本")
        else:
            text = _("保留本地版本")
        _close_hold(hold, actor=actor, note="；".join(p for p in (str(text), note) if p))
        if order.status in REVIEWABLE | {S.ALLOCATED}:
            _review_rules(order)
        _settle_status(order, actor=actor)
        return order


def order_line_map(*, order: Order, line_id: int, sku_id: int, actor=None) -> Order:
    """Map one line to a SKU by hand (手工匹配). The mapping stands through re-pulls while the
    platform line stays the same product; the order is reserved and reviewed again."""
    with transaction.atomic():
        order = _lock(order)
        _refuse_if_absorbed(order, _("匹配商品"))
        if order.status not in (S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.ALLOCATED):
            raise OrderActionError(_("订单状态为“%(s)s”，不能修改商品匹配") % {"s": S(order.status).label})
        line = order.lines.filter(pk=line_id).first()
        if line is None:
            raise OrderActionError(_("订单行 %(id)s 不属于该订单") % {"id": line_id})
        sku = Sku.objects.filter(tenant_id=order.tenant_id, pk=sku_id, active=True).first()
        if sku is None:
            raise OrderActionError(_("商品不存在"))
        if line.sku_id == sku.pk and line.sku_by_hand:
            return order
        before = {"sku_id": line.sku_id}
        line.sku, line.sku_by_hand = sku, True
        line.save(update_fields=["sku", "sku_by_hand"])
        _event(order, "line_mapped", _("人工匹配商品：%(l)s → %(code)s") % {
            "l": line.outer_sku_id or line.title or line.platform_line_id, "code": sku.code},
            before=before, after={"sku_id": sku.pk, "line_id": line.pk}, actor=actor)
        if order.status == S.ALLOCATED:
            order_transition(order=order, to=S.APPROVED, actor=actor, message=_("商品匹配变化，重新分仓"))
        _accept_and_review(order, actor=actor)
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
        _keep_platform_base(order)
        order.urgent = urgent
        order.save(update_fields=["urgent", "updated_at"])
        _event(order, "urgent", _("标记加急") if urgent else _("取消加急"), before={"urgent": not urgent},
               after={"urgent": urgent}, actor=actor)
        return order
