"""Every stock change. Each public service owns its transaction and writes ledger rows.

Race-freedom: stock counters change only through conditional UPDATEs with F() expressions
(`UPDATE ... SET reserved = reserved + q WHERE on_hand - reserved >= q`), never by
read-modify-write in Python. Rows are touched in one global order (sku id, then warehouse
priority/id), so two transactions never wait on each other in a cycle.
`stock_changed` is sent once per transaction, on commit, with every SKU touched.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from oms import signals

from .models import (
    MovementKind,
    Reservation,
    ReservationStatus,
    Sku,
    SkuComponent,
    StockLevel,
    StockMovement,
    Warehouse,
)

logger = logging.getLogger(__name__)


class StockError(Exception):
    """A stock operation that cannot be done (e.g. it would make on_hand negative)."""


# --- stock_changed: once per transaction, on commit ----------------------------------------
_pending = threading.local()


def _flush_stock_changed(tenant_id: int) -> None:
    pending: dict[int, set[int]] = getattr(_pending, "by_tenant", {})
    sku_ids = pending.pop(tenant_id, None)
    getattr(_pending, "registered", set()).discard(tenant_id)
    if sku_ids:
        signals.stock_changed.send(sender=Sku, tenant_id=tenant_id, sku_ids=sorted(sku_ids))


def _note_stock_changed(tenant_id: int, sku_ids: Iterable[int]) -> None:
    """Collect SKU ids; the first change in a transaction registers one on-commit flush.
    (Ids left behind by a rolled-back transaction ride along with the next flush: pushes are
    absolute quantities, so an extra SKU id costs one recomputation, never a wrong figure.)"""
    if not hasattr(_pending, "by_tenant"):
        _pending.by_tenant, _pending.registered = {}, set()
    _pending.by_tenant.setdefault(tenant_id, set()).update(sku_ids)
    conn = transaction.get_connection()
    # registered = a flush is pending in this transaction (not run yet, not rolled back)
    registered = tenant_id in _pending.registered and any(
        getattr(entry[1], "func", None) is _flush_stock_changed and entry[1].args == (tenant_id,)
        for entry in conn.run_on_commit
    )
    if not registered:
        _pending.registered.add(tenant_id)
        transaction.on_commit(functools.partial(_flush_stock_changed, tenant_id), robust=True)


# --- helpers ---------------------------------------------------------------------------
def _level(tenant_id: int, warehouse_id: int, sku_id: int) -> StockLevel:
    level = StockLevel.objects.filter(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id).first()
    if level is not None:
        return level
    try:
        with transaction.atomic():
            return StockLevel.objects.create(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id)
    except IntegrityError:
        return StockLevel.objects.get(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id)


def expand_components(tenant_id: int, wanted: dict[int, int]) -> dict[int, int]:
    """{sku_id: qty} with combo SKUs replaced by their components (qty multiplied)."""
    if not wanted:
        return {}
    combos = defaultdict(list)
    for c in SkuComponent.objects.filter(tenant_id=tenant_id, combo_id__in=list(wanted)).values_list(
        "combo_id", "component_id", "quantity"
    ):
        combos[c[0]].append((c[1], c[2]))
    out: dict[int, int] = defaultdict(int)
    for sku_id, qty in wanted.items():
        if sku_id in combos:
            for comp_id, per in combos[sku_id]:
                out[comp_id] += per * qty
        else:
            out[sku_id] += qty
    return dict(out)


@dataclass(frozen=True)
class Need:
    line_id: int
    sku_id: int
    quantity: int


def _needs(tenant_id: int, lines: list[dict]) -> list[Need]:
    needs: list[Need] = []
    combo_ids = set(
        SkuComponent.objects.filter(tenant_id=tenant_id, combo_id__in={ln["sku_id"] for ln in lines})
        .values_list("combo_id", flat=True)
    )
    for ln in lines:
        if ln["sku_id"] in combo_ids:
            for sku_id, qty in expand_components(tenant_id, {ln["sku_id"]: ln["quantity"]}).items():
                needs.append(Need(ln["line_id"], sku_id, qty))
        elif ln["quantity"] > 0:
            needs.append(Need(ln["line_id"], ln["sku_id"], ln["quantity"]))
    return sorted(needs, key=lambda n: (n.sku_id, n.line_id))


def _try_take(level_id: int, qty: int) -> bool:
    return bool(
        StockLevel.objects.filter(pk=level_id, on_hand__gte=F("reserved") + qty).update(
            reserved=F("reserved") + qty
        )
    )


# --- reservations ----------------------------------------------------------------------------
def stock_reserve_order(*, tenant_id: int, order_id: int, lines: list[dict], reference: str = "") -> bool:
    """Reserve stock for an order's lines; records full or short reservations, never raises
    for lack of stock. Returns True when everything was reserved.

    Idempotent: when the order already holds exactly these quantities, nothing is written.
    A previous short reservation is released and tried again (stock may have arrived).
    """
    with transaction.atomic():
        needs = _needs(tenant_id, lines)
        existing = list(
            Reservation.objects.filter(
                tenant_id=tenant_id, order_id=order_id,
                status__in=[ReservationStatus.ACTIVE, ReservationStatus.SHORT],
            )
        )
        if existing:
            held: dict[tuple[int, int], int] = defaultdict(int)
            short = False
            for r in existing:
                short |= r.status == ReservationStatus.SHORT
                held[(r.line_id, r.sku_id)] += r.quantity
            wanted = {(n.line_id, n.sku_id): n.quantity for n in needs}
            if not short and dict(held) == wanted:
                return True
            _release(tenant_id, order_id, existing, reference or f"order:{order_id}")

        reference = reference or f"order:{order_id}"
        warehouses = list(
            Warehouse.objects.filter(tenant_id=tenant_id, active=True).order_by("priority", "id")
            .values_list("id", flat=True)
        )
        rank = {wid: i for i, wid in enumerate(warehouses)}
        sku_ids = sorted({n.sku_id for n in needs})
        levels: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # sku -> [(rank, level_id, wh)]
        for lid, wid, sid, avail in StockLevel.objects.filter(
            tenant_id=tenant_id, sku_id__in=sku_ids, warehouse_id__in=warehouses
        ).annotate(avail=F("on_hand") - F("reserved")).values_list("id", "warehouse_id", "sku_id", "avail"):
            levels[sid].append((rank[wid], lid, wid, avail))
        for sid in levels:
            levels[sid].sort()

        reservations: list[Reservation] = []
        movements: list[StockMovement] = []
        complete = True
        for need in needs:
            remaining = need.quantity
            candidates = levels.get(need.sku_id, [])
            # 1) one warehouse that can fill the whole line
            for _rank, lid, wid, avail in candidates:
                if avail >= remaining and _try_take(lid, remaining):
                    reservations.append(Reservation(tenant_id=tenant_id, order_id=order_id, line_id=need.line_id,
                                                    sku_id=need.sku_id, warehouse_id=wid, quantity=remaining))
                    movements.append(StockMovement(tenant_id=tenant_id, warehouse_id=wid, sku_id=need.sku_id,
                                                   kind=MovementKind.RESERVE, reserved_delta=remaining,
                                                   reference=reference))
                    remaining = 0
                    break
            # 2) otherwise take what each warehouse has, in order
            if remaining:
                for _rank, lid, wid, _avail in candidates:
                    if not remaining:
                        break
                    for _attempt in range(3):
                        current = StockLevel.objects.filter(pk=lid).annotate(
                            avail=F("on_hand") - F("reserved")).values_list("avail", flat=True).first() or 0
                        take = min(current, remaining)
                        if take <= 0:
                            break
                        if _try_take(lid, take):
                            reservations.append(Reservation(
                                tenant_id=tenant_id, order_id=order_id, line_id=need.line_id,
                                sku_id=need.sku_id, warehouse_id=wid, quantity=take))
                            movements.append(StockMovement(
                                tenant_id=tenant_id, warehouse_id=wid, sku_id=need.sku_id,
                                kind=MovementKind.RESERVE, reserved_delta=take, reference=reference))
                            remaining -= take
                            break
            if remaining:
                complete = False
                reservations.append(Reservation(tenant_id=tenant_id, order_id=order_id, line_id=need.line_id,
                                                sku_id=need.sku_id, warehouse=None, quantity=remaining,
                                                status=ReservationStatus.SHORT))
        Reservation.objects.bulk_create(reservations)
        StockMovement.objects.bulk_create(movements)
        if movements:
            _note_stock_changed(tenant_id, {m.sku_id for m in movements})
        return complete


def _release(tenant_id: int, order_id: int, rows: list[Reservation], reference: str) -> None:
    movements = []
    rows = sorted(rows, key=lambda r: (r.sku_id, r.warehouse_id or 0))
    for r in rows:
        if r.status == ReservationStatus.ACTIVE:
            updated = StockLevel.objects.filter(
                tenant_id=tenant_id, warehouse_id=r.warehouse_id, sku_id=r.sku_id, reserved__gte=r.quantity
            ).update(reserved=F("reserved") - r.quantity)
            if not updated:  # would make reserved negative: the ledger and level disagree
                raise StockError(f"reservation {r.pk} exceeds reserved stock")
            movements.append(StockMovement(tenant_id=tenant_id, warehouse_id=r.warehouse_id, sku_id=r.sku_id,
                                           kind=MovementKind.RELEASE, reserved_delta=-r.quantity,
                                           reference=reference))
    Reservation.objects.filter(pk__in=[r.pk for r in rows]).update(status=ReservationStatus.RELEASED)
    StockMovement.objects.bulk_create(movements)
    if movements:
        _note_stock_changed(tenant_id, {m.sku_id for m in movements})


def stock_release_order(*, tenant_id: int, order_id: int, reference: str = "") -> int:
    """Release every active (and short) reservation of an order. Returns units released."""
    with transaction.atomic():
        rows = list(
            Reservation.objects.select_for_update().filter(
                tenant_id=tenant_id, order_id=order_id,
                status__in=[ReservationStatus.ACTIVE, ReservationStatus.SHORT],
            )
        )
        if not rows:
            return 0
        _release(tenant_id, order_id, rows, reference or f"order:{order_id}")
        return sum(r.quantity for r in rows if r.status == ReservationStatus.ACTIVE)


def stock_consume_order(*, tenant_id: int, order_id: int, line_ids: list[int] | None = None,
                        reference: str = "") -> int:
    """A shipment left: on_hand and reserved both fall by the reserved quantities."""
    with transaction.atomic():
        qs = Reservation.objects.select_for_update().filter(
            tenant_id=tenant_id, order_id=order_id, status=ReservationStatus.ACTIVE)
        if line_ids is not None:
            qs = qs.filter(line_id__in=line_ids)
        rows = sorted(qs, key=lambda r: (r.sku_id, r.warehouse_id))
        if not rows:
            return 0
        movements = []
        for r in rows:
            updated = StockLevel.objects.filter(
                tenant_id=tenant_id, warehouse_id=r.warehouse_id, sku_id=r.sku_id,
                reserved__gte=r.quantity, on_hand__gte=r.quantity,
            ).update(on_hand=F("on_hand") - r.quantity, reserved=F("reserved") - r.quantity)
            if not updated:
                raise StockError(f"reservation {r.pk} exceeds stock")
            movements.append(StockMovement(tenant_id=tenant_id, warehouse_id=r.warehouse_id, sku_id=r.sku_id,
                                           kind=MovementKind.SHIP, on_hand_delta=-r.quantity,
                                           reserved_delta=-r.quantity, reference=reference or f"order:{order_id}"))
        Reservation.objects.filter(pk__in=[r.pk for r in rows]).update(status=ReservationStatus.CONSUMED)
        StockMovement.objects.bulk_create(movements)
        _note_stock_changed(tenant_id, {m.sku_id for m in movements})
        return sum(r.quantity for r in rows)


# --- receiving, adjusting, restocking -------------------------------------------------------
def stock_receive(*, tenant_id: int, warehouse_id: int, sku_id: int, quantity: int,
                  kind: str = MovementKind.RECEIVE, reference: str = "", note: str = "") -> StockLevel:
    """Goods arrive (purchase receipt, return restock, transfer in): on_hand rises."""
    if quantity <= 0:
        raise StockError("quantity must be positive")
    with transaction.atomic():
        if Sku.objects.filter(tenant_id=tenant_id, pk=sku_id, is_combo=True).exists():
            raise StockError("a combo SKU holds no stock of its own; receive its components")
        level = _level(tenant_id, warehouse_id, sku_id)
        StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + quantity)
        StockMovement.objects.create(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id, kind=kind,
                                     on_hand_delta=quantity, reference=reference, note=note)
        _note_stock_changed(tenant_id, [sku_id])
        level.refresh_from_db()
        return level


def stock_adjust(*, tenant_id: int, warehouse_id: int, sku_id: int, delta: int,
                 kind: str = MovementKind.ADJUST, reference: str = "", note: str = "") -> StockLevel:
    """Correct on_hand by delta (stock count, write-off). Never below what is reserved."""
    with transaction.atomic():
        level = _level(tenant_id, warehouse_id, sku_id)
        if delta == 0:
            return level
        if delta > 0:
            StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + delta)
        else:
            ok = StockLevel.objects.filter(pk=level.pk, on_hand__gte=F("reserved") - delta).update(
                on_hand=F("on_hand") + delta)
            if not ok:
                raise StockError("adjustment would take on_hand below zero or below reserved stock")
        StockMovement.objects.create(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id, kind=kind,
                                     on_hand_delta=delta, reference=reference, note=note)
        _note_stock_changed(tenant_id, [sku_id])
        level.refresh_from_db()
        return level


def stock_restock(*, tenant_id: int, warehouse_id: int, lines: list[dict], reference: str) -> None:
    """Returned goods back on the shelf: one receive per (component) SKU."""
    wanted: dict[int, int] = defaultdict(int)
    for ln in lines:
        wanted[ln["sku_id"]] += ln["quantity"]
    with transaction.atomic():
        for sku_id, qty in sorted(expand_components(tenant_id, dict(wanted)).items()):
            stock_receive(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id, quantity=qty,
                          kind=MovementKind.RETURN, reference=reference)


# --- reconciliation -----------------------------------------------------------------------------
@dataclass
class Drift:
    tenant_id: int
    warehouse_id: int
    sku_id: int
    on_hand: int
    ledger_on_hand: int
    reserved: int
    ledger_reserved: int


def stock_reconcile(*, tenant_id: int | None = None) -> list[Drift]:
    """Recompute every StockLevel from its ledger; report (never fix) the differences."""
    levels = StockLevel.objects.all()
    moves = StockMovement.objects.all()
    if tenant_id is not None:
        levels = levels.filter(tenant_id=tenant_id)
        moves = moves.filter(tenant_id=tenant_id)
    sums = {
        (r["tenant_id"], r["warehouse_id"], r["sku_id"]): (r["oh"] or 0, r["rs"] or 0)
        for r in moves.values("tenant_id", "warehouse_id", "sku_id").annotate(
            oh=Sum("on_hand_delta"), rs=Sum("reserved_delta"))
    }
    drifts = []
    seen = set()
    for lv in levels.values("tenant_id", "warehouse_id", "sku_id", "on_hand", "reserved").iterator():
        key = (lv["tenant_id"], lv["warehouse_id"], lv["sku_id"])
        seen.add(key)
        oh, rs = sums.get(key, (0, 0))
        if (oh, rs) != (lv["on_hand"], lv["reserved"]):
            drifts.append(Drift(*key, lv["on_hand"], oh, lv["reserved"], rs))
    for key, (oh, rs) in sums.items():
        if key not in seen and (oh or rs):
            drifts.append(Drift(*key, 0, oh, 0, rs))
    for d in drifts:
        logger.warning("stock drift tenant=%s warehouse=%s sku=%s level=(%s,%s) ledger=(%s,%s)",
                       d.tenant_id, d.warehouse_id, d.sku_id, d.on_hand, d.reserved, d.ledger_on_hand,
                       d.ledger_reserved)
    return drifts
