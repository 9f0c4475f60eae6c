"""Allocation (分仓), merge (合单) and split (拆单).

Allocation picks one warehouse per order: those that can fill every line, then the one whose
regions cover the receiver's province, then the tenant's priority. The reservation moves into
the chosen warehouse through inventory.services.stock_reserve_order(warehouse_id=...). When no
warehouse can fill the order whole, it is split by warehouse (tenant setting) or held.

Merged and split orders are new orders (kind merged / split) with copied lines (source_line)
and OrderSource rows naming every platform order they carry; the origin orders go to status
merged / split and give their reservation up, so the sum of lines is reserved exactly once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from inventory import services as stock
from inventory.models import Reservation, ReservationStatus, StockLevel, Warehouse
from oms import signals

from .. import rules
from ..models import Hold, HoldReason, Order, OrderKind, OrderLine, OrderSource
from ..states import BEFORE_PICKING, OrderStatus
from .core import (
    REFUNDED,
    OrderActionError,
    _close_hold,
    _event,
    _lock,
    _open_hold,
    _reservable_lines,
    _settle_status,
    _who,
    order_transition,
)
from .review import _accept_and_review, _platform_holds

logger = logging.getLogger(__name__)
S = OrderStatus

#: holds that keep an order out of a merge (a person must look at it first)
NON_BLOCKING = frozenset({HoldReason.OUT_OF_STOCK, HoldReason.ALLOCATION, HoldReason.NOTE, HoldReason.HIGH_VALUE})
MERGE_KEY_FIELDS = ("shop_id", "buyer_nick", "receiver_name", "receiver_phone", "receiver_country",
                    "receiver_province", "receiver_city", "receiver_district", "receiver_address")


class _Retry(Exception):
    """Roll back one allocation attempt (the stock moved under us)."""


# --- allocation -----------------------------------------------------------------------------------
@dataclass
class Candidate:
    warehouse: Warehouse
    covers_region: bool
    missing: dict[int, int]  # sku_id -> units it lacks for the whole order

    @property
    def fills(self) -> bool:
        return not self.missing

    @property
    def rank(self) -> tuple:
        return (0 if self.covers_region else 1, self.warehouse.priority, self.warehouse.pk)


def _line_needs(order: Order) -> dict[int, dict[int, int]]:
    """line id -> {component sku id: units per ONE unit of the line}."""
    out = {}
    for ln in _reservable_lines(order):
        per = stock.expand_components(order.tenant_id, {ln["sku_id"]: 1})
        out[ln["line_id"]] = per
    return out


def _serving_warehouses(order: Order) -> list[Warehouse]:
    qs = Warehouse.objects.filter(tenant_id=order.tenant_id, active=True)
    chosen = qs.filter(shops__pk=order.shop_id)
    return list((chosen if chosen.exists() else qs).order_by("priority", "id"))


def _available(order: Order, warehouses: list[Warehouse], sku_ids: set[int]) -> dict[tuple[int, int], int]:
    """(warehouse, sku) -> units this order could take: free stock plus its own reservation there."""
    wh_ids = [w.pk for w in warehouses]
    avail: dict[tuple[int, int], int] = defaultdict(int)
    for wid, sid, a in (StockLevel.objects.filter(tenant_id=order.tenant_id, warehouse_id__in=wh_ids,
                                                  sku_id__in=sku_ids)
                        .annotate(a=F("on_hand") - F("reserved")).values_list("warehouse_id", "sku_id", "a")):
        avail[(wid, sid)] += max(0, a)
    for r in (Reservation.objects.filter(tenant_id=order.tenant_id, order_id=order.pk, status=ReservationStatus.ACTIVE,
                                         warehouse_id__in=wh_ids)
              .values("warehouse_id", "sku_id").annotate(q=Sum("quantity"))):
        avail[(r["warehouse_id"], r["sku_id"])] += r["q"]
    return avail


def allocation_candidates(order: Order) -> list[Candidate]:
    """Every serving warehouse, best first: fills the order, covers the province, priority."""
    lines = {ln["line_id"]: ln for ln in _reservable_lines(order)}
    needs = _line_needs(order)
    total: dict[int, int] = defaultdict(int)
    for line_id, per in needs.items():
        for sku_id, q in per.items():
            total[sku_id] += q * lines[line_id]["quantity"]
    warehouses = _serving_warehouses(order)
    avail = _available(order, warehouses, set(total))
    out = []
    for wh in warehouses:
        missing = {s: q - avail[(wh.pk, s)] for s, q in total.items() if avail[(wh.pk, s)] < q}
        out.append(Candidate(wh, order.receiver_province in (wh.regions or []), missing))
    return sorted(out, key=lambda c: (not c.fills, c.rank))


def _explain(c: Candidate, province: str) -> str:
    why = _("覆盖%(p)s") % {"p": province} if c.covers_region else _("优先级 %(n)d") % {"n": c.warehouse.priority}
    return _("%(wh)s：库存可整单发货，%(why)s") % {"wh": c.warehouse.name, "why": why}


def _reserve_in(order: Order, warehouse_id: int, actor=None) -> bool:
    return stock.stock_reserve_order(tenant_id=order.tenant_id, order_id=order.pk, lines=_reservable_lines(order),
                                     reference=f"order:{order.pk}", warehouse_id=warehouse_id, actor=actor,
                                     actor_label="user" if getattr(actor, "pk", None) else "allocation")


def order_allocate(*, order: Order, warehouse_id: int | None = None, actor=None) -> list[Order]:
    """Allocate an approved order to a warehouse (or, by hand, re-allocate an allocated one to
    `warehouse_id`). Returns the orders that are now allocated (the order, or its children when
    it was split). Nothing fits and no split allowed: the order is held with the reason."""
    with transaction.atomic():
        order = _lock(order)
        if warehouse_id is not None:
            if order.status not in (S.APPROVED, S.ALLOCATED):
                raise OrderActionError(_("订单状态为“%(s)s”，不能分仓") % {"s": S(order.status).label})
        elif order.status == S.ALLOCATED:
            return [order]
        elif order.status != S.APPROVED:
            raise OrderActionError(_("订单状态为“%(s)s”，不能分仓") % {"s": S(order.status).label})
        candidates = allocation_candidates(order)
        if warehouse_id is not None:
            chosen = [c for c in candidates if c.warehouse.pk == warehouse_id]
            if not chosen:
                raise OrderActionError(_("仓库不存在或不为该店铺发货"))
            c = chosen[0]
            if not c.fills:
                codes = _codes(order, c.missing)
                raise OrderActionError(_("%(wh)s 库存不足：%(m)s") % {"wh": c.warehouse.name, "m": "；".join(
                    _("%(code)s 缺 %(q)d") % {"code": codes[s], "q": q} for s, q in c.missing.items())})
            if order.warehouse_id == warehouse_id and order.status == S.ALLOCATED:
                return [order]
            try:
                with transaction.atomic():
                    if not _reserve_in(order, warehouse_id, actor):
                        raise _Retry
            except _Retry:
                raise OrderActionError(_("%(wh)s 的库存刚被占用，请重试") % {"wh": c.warehouse.name}) from None
            return [_mark_allocated(order, c.warehouse, _("人工指定 %(wh)s") % {"wh": c.warehouse.name}, actor)]
        for c in candidates:
            if not c.fills:
                break
            try:
                with transaction.atomic():
                    if not _reserve_in(order, c.warehouse.pk, actor):
                        raise _Retry
            except _Retry:
                continue
            return [_mark_allocated(order, c.warehouse, _explain(c, order.receiver_province), actor)]
        if rules.order_settings(tenant_id=order.tenant_id).allow_split and len(candidates) > 1:
            children = _split_by_warehouse(order, candidates, actor)
            if children:
                return children
        codes = _codes(order, {s: q for c in candidates for s, q in c.missing.items()})
        detail = "；".join(
            _("%(wh)s 缺 %(m)s") % {"wh": c.warehouse.name, "m": "、".join(
                f"{codes[s]}×{q}" for s, q in c.missing.items())} for c in candidates) or _("没有可用的仓库")
        _open_hold(order, HoldReason.ALLOCATION, _("没有一个仓能整单发货：%(d)s") % {"d": detail}, actor=actor)
        _settle_status(order, actor=actor)
        return []


def _codes(order: Order, sku_map: dict[int, int]) -> dict[int, str]:
    from inventory.models import Sku

    return dict(Sku.objects.filter(tenant_id=order.tenant_id, pk__in=list(sku_map)).values_list("pk", "code"))


def _mark_allocated(order: Order, warehouse: Warehouse, why: str, actor) -> Order:
    before = order.warehouse_id
    order.warehouse = warehouse
    order.save(update_fields=["warehouse", "updated_at"])
    _event(order, "allocated", why, before={"warehouse_id": before}, after={"warehouse_id": warehouse.pk},
           actor=actor)
    return order_transition(order=order, to=S.ALLOCATED, actor=actor, message=why)


def _split_plan(order: Order, candidates: list[Candidate]) -> list[tuple[Warehouse, dict[int, int]]]:
    """Greedy: each step takes the warehouse that can ship the most remaining lines whole
    (ties: region, priority); lines no warehouse can ship whole are split by quantity."""
    lines = {ln["line_id"]: ln["quantity"] for ln in _reservable_lines(order)}
    needs = _line_needs(order)
    warehouses = [c.warehouse for c in sorted(candidates, key=lambda c: c.rank)]
    region = {c.warehouse.pk: c.covers_region for c in candidates}
    avail = _available(order, warehouses, {s for per in needs.values() for s in per})
    remaining = dict(lines)
    plan: dict[int, dict[int, int]] = defaultdict(dict)

    def units(wh, line_id) -> int:
        per = needs[line_id]
        return min((avail[(wh.pk, s)] // q for s, q in per.items()), default=0)

    def take(wh, line_id, n):
        for s, q in needs[line_id].items():
            avail[(wh.pk, s)] -= q * n
        plan[wh.pk][line_id] = plan[wh.pk].get(line_id, 0) + n
        remaining[line_id] -= n
        if not remaining[line_id]:
            del remaining[line_id]

    while remaining:
        best, best_lines = None, []
        for wh in warehouses:
            whole = [lid for lid, q in remaining.items() if units(wh, lid) >= q]
            key = (len(whole), region[wh.pk])
            if whole and (best is None or key > (len(best_lines), region[best.pk])):
                best, best_lines = wh, whole
        if best is None:
            break
        for lid in best_lines:
            take(best, lid, remaining[lid])
    for lid in list(remaining):
        for wh in warehouses:
            n = min(units(wh, lid), remaining.get(lid, 0))
            if n:
                take(wh, lid, n)
    if remaining:
        return []
    by_pk = {w.pk: w for w in warehouses}
    return [(by_pk[wid], parts) for wid, parts in sorted(plan.items(), key=lambda kv: warehouses.index(by_pk[kv[0]]))]


def _split_by_warehouse(order: Order, candidates: list[Candidate], actor) -> list[Order]:
    plan = _split_plan(order, candidates)
    if len(plan) < 2:
        return []
    try:
        with transaction.atomic():
            children = _make_children(order, [parts for _wh, parts in plan], actor,
                                       reason=_("没有一个仓能整单发货，按仓拆单"))
            for child, (wh, _parts) in zip(children, plan, strict=True):
                if not _reserve_in(child, wh.pk, actor):
                    raise _Retry
                order_transition(order=child, to=S.APPROVED, actor=actor, message=_("随原单审核通过"))
                _mark_allocated(child, wh, _("按仓拆单：%(wh)s") % {"wh": wh.name}, actor)
            return children
    except _Retry:
        return []


# --- split ------------------------------------------------------------------------------------------
def _copy_order(order: Order, *, kind: str, platform_order_id: str, **overrides) -> Order:
    fields = {f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields
              if f.attname not in ("id", "created_at", "updated_at")}
    fields.update(kind=kind, platform_order_id=platform_order_id, warehouse_id=None, **overrides)
    return Order.objects.create(**fields)


def _next_suffix(order: Order, tag: str) -> str:
    n = 1
    while Order.objects.filter(tenant_id=order.tenant_id, shop_id=order.shop_id,
                               platform_order_id=f"{order.platform_order_id}-{tag}{n}").exists():
        n += 1
    return f"{order.platform_order_id}-{tag}{n}"[:64]


def _make_children(order: Order, parts: list[dict[int, int]], actor, *, reason: str) -> list[Order]:
    """parent -> children (status pending review, no reservation yet); the parent gives up its
    reservation and becomes `split`."""
    lines = {ln.pk: ln for ln in order.lines.all()}
    signals.order_released.send(sender=Order, tenant_id=order.tenant_id, order_id=order.pk,
                                actor_id=getattr(actor, "pk", None), actor_label=_who(actor))
    children = []
    for part in parts:
        goods = sum(lines[lid].unit_price * q for lid, q in part.items())
        child = _copy_order(order, kind=OrderKind.SPLIT, platform_order_id=_next_suffix(order, "S"),
                            status=S.PENDING_REVIEW, goods_amount=goods, paid_amount=goods,
                            shipping_amount=0, discount_amount=0)
        OrderLine.objects.bulk_create([
            OrderLine(tenant_id=order.tenant_id, order=child, platform_line_id=lines[lid].platform_line_id,
                      platform_item_id=lines[lid].platform_item_id, platform_sku_id=lines[lid].platform_sku_id,
                      outer_sku_id=lines[lid].outer_sku_id, title=lines[lid].title, sku_id=lines[lid].sku_id,
                      quantity=q, unit_price=lines[lid].unit_price, amount=lines[lid].unit_price * q,
                      refund_status=lines[lid].refund_status, refund_reason=lines[lid].refund_reason,
                      sku_by_hand=lines[lid].sku_by_hand, is_gift=lines[lid].is_gift, source_line=lines[lid])
            for lid, q in sorted(part.items())
        ])
        OrderSource.objects.create(tenant_id=order.tenant_id, order=child, source=order,
                                   platform_order_id=order.platform_order_id)
        _event(child, "created", _("由订单 %(n)s 拆分：%(r)s") % {"n": order.number, "r": reason},
               after={"status": child.status}, actor=actor)
        children.append(child)
    for h in Hold.objects.filter(tenant_id=order.tenant_id, order=order, resolved_at=None):
        h.order = order
        _close_hold(h, note=_("订单已拆分"), label="hold_auto_released", actor=actor)
    order_transition(order=order, to=S.SPLIT, actor=actor,
                     message=_("拆分为 %(n)s") % {"n": "、".join(c.number for c in children)})
    return children


def order_split(*, order: Order, parts: list[dict[int, int]], actor=None) -> list[Order]:
    """Split an order by hand: `parts` = [{line id: quantity}, ...], every unit of every line in
    exactly one part. Each child is reserved and reviewed like any order."""
    with transaction.atomic():
        order = _lock(order)
        if order.status not in BEFORE_PICKING:
            raise OrderActionError(_("订单状态为“%(s)s”，不能拆单") % {"s": S(order.status).label})
        lines = {ln.pk: ln for ln in order.lines.all() if ln.refund_status != REFUNDED}
        parts = [{int(k): int(v) for k, v in p.items() if int(v) > 0} for p in parts]
        parts = [p for p in parts if p]
        if len(parts) < 2:
            raise OrderActionError(_("至少拆成两个子单"))
        totals: dict[int, int] = defaultdict(int)
        for p in parts:
            for lid, q in p.items():
                if lid not in lines:
                    raise OrderActionError(_("订单行 %(id)s 不属于该订单") % {"id": lid})
                totals[lid] += q
        wrong = [ln for lid, ln in lines.items() if totals.get(lid, 0) != ln.quantity]
        if wrong:
            raise OrderActionError(_("拆分数量必须等于订单数量：%(l)s") % {"l": "；".join(
                f"{ln.outer_sku_id or ln.title} {totals.get(ln.pk, 0)}/{ln.quantity}" for ln in wrong)})
        children = _make_children(order, parts, actor, reason=_("人工拆单"))
        for child in children:
            _accept_and_review(child, actor=actor)
            _settle_status(child, actor=actor)
        return children


# --- merge --------------------------------------------------------------------------------------------
def _merge_key(order: Order) -> tuple:
    return tuple(getattr(order, f) for f in MERGE_KEY_FIELDS)


def merge_blockers(order: Order) -> list[str]:
    """Why an order cannot take part in a merge (empty when it can)."""
    out = []
    if order.kind != OrderKind.NORMAL:
        out.append(_("%(n)s 是%(k)s，不能再合并") % {"n": order.number, "k": OrderKind(order.kind).label})
    if order.status not in BEFORE_PICKING:
        out.append(_("%(n)s 状态为“%(s)s”") % {"n": order.number, "s": S(order.status).label})
    if order.fulfilled_by_platform:
        out.append(_("%(n)s 由平台代发") % {"n": order.number})
    blocking = [h for h in order.holds.all() if h.resolved_at is None and h.reason not in NON_BLOCKING]
    if blocking:
        out.append(_("%(n)s 有挂起：%(h)s") % {"n": order.number, "h": "、".join(h.get_reason_display() for h in blocking)})
    return out


def order_merge(*, orders: list[Order], actor=None) -> Order:
    """Merge orders of one buyer to one address into a new merged order that reserves the sum
    of their lines once; each source keeps its platform id (OrderSource) for shipment confirmation."""
    with transaction.atomic():
        ids = sorted({o.pk for o in orders})
        if len(ids) < 2:
            raise OrderActionError(_("至少选择两个订单才能合并"))
        tenant_id = orders[0].tenant_id
        locked = list(Order.objects.select_for_update().filter(tenant_id=tenant_id, pk__in=ids).order_by("pk"))
        if len(locked) != len(ids):
            raise OrderActionError(_("订单不存在"))
        problems = [p for o in locked for p in merge_blockers(o)]
        if len({_merge_key(o) for o in locked}) != 1:
            problems.append(_("店铺、买家或收件信息不一致"))
        if problems:
            raise OrderActionError(_("不能合并：%(p)s") % {"p": "；".join(problems)})
        locked.sort(key=lambda o: (o.paid_at or o.placed_at, o.pk))
        first = locked[0]
        sums = {f: sum((getattr(o, f) for o in locked), 0) for f in
                ("goods_amount", "shipping_amount", "discount_amount", "paid_amount")}
        merged = _copy_order(
            first, kind=OrderKind.MERGED, platform_order_id=_next_suffix(first, "M"), status=S.PENDING_REVIEW,
            placed_at=min(o.placed_at for o in locked), paid_at=first.paid_at,
            platform_modified_at=max(o.platform_modified_at for o in locked), urgent=any(o.urgent for o in locked),
            # one privacy id for the parcel only when the platform gave the same one to every order
            receiver_oaid=first.receiver_oaid if len({o.receiver_oaid for o in locked}) == 1 else "",
            buyer_note="\n".join(o.buyer_note for o in locked if o.buyer_note),
            seller_note="\n".join(o.seller_note for o in locked if o.seller_note), **sums)
        new_lines = []
        for o in locked:
            OrderSource.objects.create(tenant_id=tenant_id, order=merged, source=o, platform_order_id=o.platform_order_id)
            for ln in o.lines.all():
                new_lines.append(OrderLine(
                    tenant_id=tenant_id, order=merged, platform_line_id=f"{o.platform_order_id}:{ln.platform_line_id}"[:64],
                    platform_item_id=ln.platform_item_id, platform_sku_id=ln.platform_sku_id,
                    outer_sku_id=ln.outer_sku_id, title=ln.title, sku_id=ln.sku_id, quantity=ln.quantity,
                    unit_price=ln.unit_price, amount=ln.amount, refund_status=ln.refund_status,
                    refund_reason=ln.refund_reason, sku_by_hand=ln.sku_by_hand, is_gift=ln.is_gift, source_line=ln))
        OrderLine.objects.bulk_create(new_lines)
        _event(merged, "created", _("合并自 %(ids)s") % {"ids": "、".join(o.platform_order_id for o in locked)},
               after={"status": merged.status, "sources": [o.pk for o in locked]}, actor=actor)
        for o in locked:
            signals.order_released.send(sender=Order, tenant_id=tenant_id, order_id=o.pk,
                                        actor_id=getattr(actor, "pk", None), actor_label=_who(actor))
            for h in Hold.objects.filter(tenant_id=tenant_id, order=o, resolved_at=None):
                h.order = o
                _close_hold(h, note=_("已合并"), label="hold_auto_released", actor=actor)
            order_transition(order=o, to=S.MERGED, actor=actor,
                             message=_("合并到 %(n)s") % {"n": merged.number})
        _accept_and_review(merged, actor=actor)
        _settle_status(merged, actor=actor)
        return merged


def _dissolve(derived: list[Order], origins: list[Order], actor, *, message: str, label: str = "") -> None:
    for d in derived:
        if d.status == S.CANCELLED:
            continue
        signals.order_released.send(sender=Order, tenant_id=d.tenant_id, order_id=d.pk,
                                    actor_id=getattr(actor, "pk", None), actor_label=label or _who(actor))
        order_transition(order=d, to=S.CANCELLED, actor=actor, actor_label=label, message=message)
    for o in origins:
        order_transition(order=o, to=S.PENDING_REVIEW, actor=actor, actor_label=label, message=message)
        _accept_and_review(o, actor=actor, label=label)
        _settle_status(o, actor=actor)


def order_unmerge(*, order: Order, actor=None) -> list[Order]:
    """Undo a merge before picking: the merged order is cancelled (its reservation released),
    its source orders come back, reserved and reviewed again. Returns the sources."""
    with transaction.atomic():
        order = _lock(order)
        if order.kind != OrderKind.MERGED:
            raise OrderActionError(_("不是合并单"))
        if order.status not in BEFORE_PICKING:
            raise OrderActionError(_("合并单状态为“%(s)s”，已开始拣货或发货，无法撤销合并") % {"s": S(order.status).label})
        sources = list(Order.objects.select_for_update().filter(
            tenant_id=order.tenant_id, derived__order=order, status=S.MERGED).order_by("pk"))
        _dissolve([order], sources, actor, message=_("撤销合并 %(n)s") % {"n": order.number})
        return sources


def order_unsplit(*, order: Order, actor=None) -> Order:
    """Undo a split before picking (`order` = the parent or any child). Returns the parent."""
    with transaction.atomic():
        order = _lock(order)
        if order.kind == OrderKind.SPLIT:
            parent = Order.objects.select_for_update().get(tenant_id=order.tenant_id, derived__order=order)
        else:
            parent = order
        if parent.status != S.SPLIT:
            raise OrderActionError(_("订单没有拆分"))
        children = list(Order.objects.select_for_update().filter(
            tenant_id=parent.tenant_id, sources__source=parent).exclude(status=S.CANCELLED).order_by("pk"))
        late = [c for c in children if c.status not in BEFORE_PICKING]
        if late:
            raise OrderActionError(_("子单 %(n)s 已开始拣货或发货，无法撤销拆单") % {"n": "、".join(c.number for c in late)})
        _dissolve(children, [parent], actor, message=_("撤销拆单"))
        return parent


def dissolve_for_platform_change(*, order: Order, label: str, changes) -> None:
    """The platform changed an order that lives on in a merged / split order (inside the ingest
    transaction). Before picking the merge/split is undone so the change applies normally;
    later, the derived orders are held for a person to look at."""
    derived = list(Order.objects.select_for_update().filter(
        tenant_id=order.tenant_id, sources__source=order).exclude(status=S.CANCELLED).order_by("pk"))
    if all(d.status in BEFORE_PICKING for d in derived):
        if order.status == S.MERGED:
            for d in derived:
                sources = list(Order.objects.select_for_update().filter(
                    tenant_id=order.tenant_id, derived__order=d, status=S.MERGED).order_by("pk"))
                _dissolve([d], sources, None, label=label,
                          message=_("平台修改了订单 %(pid)s，撤销合并") % {"pid": order.platform_order_id})
        else:
            _dissolve(derived, [order], None, label=label,
                      message=_("平台修改了订单 %(pid)s，撤销拆单") % {"pid": order.platform_order_id})
        return
    for d in derived:
        if d.status in (S.SHIPPED, S.DELIVERED, S.RETURNED):
            _event(d, "platform_changed", _("平台修改了来源订单 %(pid)s，但本单已发货") % {"pid": order.platform_order_id},
                   actor_label=label)
            continue
        if _copy_source_refunds(d):  # a refund on a carried line stops this parcel like its own (退款拦截)
            _platform_holds(d)
        else:
            _open_hold(d, HoldReason.PLATFORM, _("平台修改了来源订单 %(pid)s，请核对") % {"pid": order.platform_order_id})
        _settle_status(d)


def _copy_source_refunds(order: Order) -> bool:
    """The refund state of the platform lines a merged / split order carries, onto its copies.
    True when one changed."""
    changed = False
    for ln in order.lines.select_related("source_line").filter(source_line__isnull=False):
        src = ln.source_line
        if (ln.refund_status, ln.refund_reason) != (src.refund_status, src.refund_reason):
            ln.refund_status, ln.refund_reason = src.refund_status, src.refund_reason
            ln.save(update_fields=["refund_status", "refund_reason"])
            changed = True
    return changed


# --- the queue -----------------------------------------------------------------------------------------
def orders_auto_merge(*, tenant_id: int) -> list[Order]:
    from ..selectors import merge_groups

    merged = []
    for group in merge_groups(tenant_id=tenant_id):
        try:
            merged.append(order_merge(orders=group))
        except OrderActionError as exc:  # changed since detection: skip, the next run sees it again
            logger.info("auto-merge skipped tenant=%s orders=%s: %s", tenant_id, [o.pk for o in group], exc)
    return merged


def orders_allocate_queue(*, tenant_id: int, limit: int = 500) -> dict:
    """One allocation run of a tenant: auto-merge first (when enabled), then orders held only
    because no warehouse could fill them are tried again, then approved orders are allocated,
    urgent and older first."""
    settings_ = rules.order_settings(tenant_id=tenant_id)
    counts = {"merged": 0, "allocated": 0, "held": 0}
    if settings_.auto_merge:
        counts["merged"] = len(orders_auto_merge(tenant_id=tenant_id))
    held = (Hold.objects.filter(tenant_id=tenant_id, reason=HoldReason.ALLOCATION, resolved_at=None)
            .order_by("-order__urgent", "order__paid_at", "order_id"))
    for hold in held[:limit]:
        with transaction.atomic():
            order = _lock(hold.order_id, tenant_id)
            candidates = allocation_candidates(order)
            if any(c.fills for c in candidates) or (settings_.allow_split and len(_split_plan(order, candidates)) > 1):
                h = Hold.objects.select_for_update().get(pk=hold.pk)
                if h.resolved_at is None:
                    h.order = order
                    _close_hold(h, note=_("重新分仓"), label="hold_auto_released")
                    _settle_status(order)
    queue = (Order.objects.filter(tenant_id=tenant_id, status=S.APPROVED, fulfilled_by_platform=False)
             .order_by("-urgent", "paid_at", "id").values_list("pk", flat=True)[:limit])
    for order_id in list(queue):
        try:
            done = order_allocate(order=Order(pk=order_id, tenant_id=tenant_id))
        except OrderActionError:
            continue
        counts["allocated" if done else "held"] += 1
    return counts
