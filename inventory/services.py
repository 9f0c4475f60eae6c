"""Every stock change. Each public service owns its transaction and writes ledger rows.

Race-freedom: stock counters change only through conditional UPDATEs with F() expressions
(`UPDATE ... SET reserved = reserved + q WHERE on_hand - reserved >= q`), never by
read-modify-write in Python. Rows are touched in one global order (sku id, then warehouse
priority/id), so two transactions never wait on each other in a cycle.
`stock_changed` is sent once per transaction, on commit, with every SKU touched.

Every service that writes ledger rows takes keyword-only `actor` (the user, or its id) and
`actor_label` (who or what caused it, in OrderEvent's vocabulary: "user", "channel:taobao",
"import", "seed", "task:<name>"; empty = "user" when there is an actor, else "system") and
writes both on every row it creates.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from oms import signals
from oms.bulk_rows import insert_many
from oms.models import Tenant

from .models import (
    LowStockAlert,
    MovementKind,
    ReorderPoint,
    Reservation,
    ReservationStatus,
    Sku,
    SkuComponent,
    StockLevel,
    StockMovement,
    StockWriteOff,
    TransferLine,
    TransferOrder,
    TransferStatus,
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
def _who(actor, actor_label: str) -> tuple[int | None, str]:
    """(actor id, label) for the ledger: `actor` is a user, a user id or None."""
    actor_id = getattr(actor, "pk", actor)
    return actor_id, (actor_label or ("user" if actor_id else "system"))[:50]


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


def _combo_parts(tenant_id: int, sku_ids) -> dict[int, list[tuple[int, int]]]:
    parts: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for combo_id, comp_id, qty in SkuComponent.objects.filter(tenant_id=tenant_id, combo_id__in=set(sku_ids)) \
            .values_list("combo_id", "component_id", "quantity"):
        parts[combo_id].append((comp_id, qty))
    return parts


def _needs(tenant_id: int, lines: list[dict], combos: dict | None = None) -> list[Need]:
    """What the lines take from the shelves: combos replaced by their components."""
    if combos is None:
        combos = _combo_parts(tenant_id, {ln["sku_id"] for ln in lines})
    needs: list[Need] = []
    for ln in lines:
        if ln["quantity"] <= 0:
            continue
        if ln["sku_id"] in combos:
            merged: dict[int, int] = defaultdict(int)
            for comp_id, per in combos[ln["sku_id"]]:
                merged[comp_id] += per * ln["quantity"]
            needs.extend(Need(ln["line_id"], sku_id, qty) for sku_id, qty in merged.items())
        else:
            needs.append(Need(ln["line_id"], ln["sku_id"], ln["quantity"]))
    return sorted(needs, key=lambda n: (n.sku_id, n.line_id))


def _try_take(level_id: int, qty: int) -> bool:
    return bool(
        StockLevel.objects.filter(pk=level_id, on_hand__gte=F("reserved") + qty).update(
            reserved=F("reserved") + qty
        )
    )


#: PostgreSQL: take the stock and write the reservation and its ledger row in ONE statement, so
#: the hot row is locked for a single round trip (plus the commit) instead of three.
_TAKE_SQL = """
WITH upd AS (
    UPDATE inventory_stocklevel SET reserved = reserved + %(q)s
    WHERE id = %(level)s AND on_hand - reserved >= %(q)s
    RETURNING id
), mv AS (
    INSERT INTO inventory_stockmovement
        (tenant_id, warehouse_id, sku_id, kind, on_hand_delta, reserved_delta, reference, note, actor_id,
         actor_label, created_at)
    SELECT %(tenant)s, %(wh)s, %(sku)s, 'reserve', 0, %(q)s, %(ref)s, '', %(actor)s, %(label)s, now() FROM upd
    RETURNING id
)
INSERT INTO inventory_reservation
    (tenant_id, order_id, line_id, sku_id, warehouse_id, quantity, status, created_at, updated_at)
SELECT %(tenant)s, %(order)s, %(line)s, %(sku)s, %(wh)s, %(q)s, 'active', now(), now() FROM upd
"""


def _take(*, tenant_id: int, order_id: int, line_id: int, sku_id: int, level_id: int, warehouse_id: int,
          qty: int, reference: str, reservations: list, movements: list, who: tuple[int | None, str]) -> bool:
    """Take `qty` from one stock level if available, recording the reservation and the ledger
    row (written at once on PostgreSQL, else appended to the lists for a bulk insert)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(_TAKE_SQL, {"q": qty, "level": level_id, "tenant": tenant_id, "wh": warehouse_id,
                                    "sku": sku_id, "ref": reference[:64], "order": order_id, "line": line_id,
                                    "actor": who[0], "label": who[1]})
            return cur.rowcount == 1
    if not _try_take(level_id, qty):
        return False
    reservations.append(Reservation(tenant_id=tenant_id, order_id=order_id, line_id=line_id, sku_id=sku_id,
                                    warehouse_id=warehouse_id, quantity=qty))
    movements.append(StockMovement(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id,
                                   kind=MovementKind.RESERVE, reserved_delta=qty, reference=reference,
                                   actor_id=who[0], actor_label=who[1]))
    return True


# --- reservations ----------------------------------------------------------------------------
#: One round trip for everything the common reservation needs to know: the combo parts of the
#: ordered SKUs ('c'), whether the order already holds reservations ('r'), and the candidate
#: stock rows of the SKUs or their parts in active warehouses ('l').
_PLAN_SQL = """
SELECT 'c', combo_id, component_id, quantity FROM inventory_skucomponent
 WHERE tenant_id = %(t)s AND combo_id = ANY(%(skus)s)
UNION ALL
(SELECT 'r', id, 0, 0 FROM inventory_reservation
  WHERE tenant_id = %(t)s AND order_id = %(o)s AND status IN ('active', 'short') LIMIT 1)
UNION ALL
SELECT 'l', sl.id, sl.warehouse_id, sl.sku_id FROM inventory_stocklevel sl
  JOIN inventory_warehouse w ON w.id = sl.warehouse_id
 WHERE sl.tenant_id = %(t)s AND w.active AND (%(wh)s::bigint IS NULL OR sl.warehouse_id = %(wh)s::bigint)
   AND (sl.sku_id = ANY(%(skus)s) OR sl.sku_id IN (
        SELECT component_id FROM inventory_skucomponent WHERE tenant_id = %(t)s AND combo_id = ANY(%(skus)s)))
"""


def _reserve_one_statement(*, tenant_id: int, order_id: int, lines: list[dict], reference: str,
                           warehouse_id: int | None, who: tuple[int | None, str]) -> bool | None:
    """PostgreSQL, outside any transaction: an order that needs ONE SKU from ONE stock row, and
    holds nothing yet, is reserved by a single statement (its own transaction: stock taken,
    reservation and ledger row written, or nothing). The hot row is locked for that one
    statement only. Returns True when reserved, None when this shape does not apply or the stock
    is not there in full (the caller then takes the general path: partial fill, short rows)."""
    sku_ids = sorted({ln["sku_id"] for ln in lines if ln["quantity"] > 0})
    if not sku_ids:
        return None
    with connection.cursor() as cur:
        cur.execute(_PLAN_SQL, {"t": tenant_id, "o": order_id, "skus": sku_ids, "wh": warehouse_id})
        rows = cur.fetchall()
    combos: dict[int, list[tuple[int, int]]] = defaultdict(list)
    levels = []
    for kind, a, b, c in rows:
        if kind == "r":
            return None  # already holds reservations: release-and-retake needs the general path
        if kind == "c":
            combos[a].append((b, c))
        else:
            levels.append((a, b, c))
    needs = _needs(tenant_id, lines, combos)
    if len(needs) != 1 or len(levels) != 1 or levels[0][2] != needs[0].sku_id:
        return None
    need, (level_id, wh_id, _sku) = needs[0], levels[0]
    if not _take(tenant_id=tenant_id, order_id=order_id, line_id=need.line_id, sku_id=need.sku_id,
                 level_id=level_id, warehouse_id=wh_id, qty=need.quantity, reference=reference,
                 reservations=[], movements=[], who=who):
        return None
    _note_stock_changed(tenant_id, [need.sku_id])  # outside a transaction: sent right away
    return True


def stock_reserve_order(*, tenant_id: int, order_id: int, lines: list[dict], reference: str = "",
                        warehouse_id: int | None = None, actor=None, actor_label: str = "") -> bool:
    """Reserve stock for an order's lines; records full or short reservations, never raises
    for lack of stock. Returns True when everything was reserved.

    Idempotent: when the order already holds exactly these quantities, nothing is written.
    A previous short reservation is released and tried again (stock may have arrived).
    `warehouse_id` (orders' allocation): reserve in that one warehouse only; a reservation held
    elsewhere is released and taken again there. Default (None): every active warehouse.
    """
    who = _who(actor, actor_label)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        if _reserve_one_statement(tenant_id=tenant_id, order_id=order_id, lines=lines,
                                  reference=reference or f"order:{order_id}", warehouse_id=warehouse_id, who=who):
            return True
    with transaction.atomic():
        needs = _needs(tenant_id, lines)
        existing = list(
            Reservation.objects.filter(
                tenant_id=tenant_id, order_id=order_id,
                status__in=[ReservationStatus.ACTIVE, ReservationStatus.SHORT],
            )
        )
        reference = reference or f"order:{order_id}"
        if existing:
            held: dict[tuple[int, int], int] = defaultdict(int)
            short = False
            for r in existing:
                short |= r.status == ReservationStatus.SHORT
                held[(r.line_id, r.sku_id)] += r.quantity
            wanted = {(n.line_id, n.sku_id): n.quantity for n in needs}
            in_place = warehouse_id is None or all(r.warehouse_id == warehouse_id for r in existing)
            if not short and dict(held) == wanted and in_place:
                return True
        sku_ids = sorted({n.sku_id for n in needs})
        level_qs = StockLevel.objects.filter(tenant_id=tenant_id, sku_id__in=sku_ids, warehouse__active=True)
        if warehouse_id is not None:
            level_qs = level_qs.filter(warehouse_id=warehouse_id)
        rows = list(level_qs.order_by("sku_id", "warehouse__priority", "warehouse_id").values_list(
            "id", "warehouse_id", "sku_id"))
        per_sku = defaultdict(int)
        for _lid, _wid, sid in rows:
            per_sku[sid] += 1
        if existing or any(n > 1 for n in per_sku.values()):
            # Several candidate rows per SKU (or a release first): lock every row involved up
            # front, in the one global order, then hand out the stock. (Trying rows one by one
            # could keep a later row locked after a failed conditional UPDATE and then ask for
            # an earlier one: a deadlock.)
            _lock_levels(tenant_id, set(sku_ids) | {r.sku_id for r in existing})
            if existing:
                _release(tenant_id, order_id, existing, reference, who)
            shorts = _allocate_locked(tenant_id, [(order_id, needs)], warehouse_id=warehouse_id, who=who)
            return order_id not in shorts
        # One row per SKU at most: each row is touched once, in SKU order -- the fast path takes
        # the stock and writes reservation + ledger row in one statement.
        reservations: list[Reservation] = []
        movements: list[StockMovement] = []
        taken: set[int] = set()
        complete = True
        only = {sid: (lid, wid) for lid, wid, sid in rows}
        for need in needs:
            lid_wid = only.get(need.sku_id)
            remaining = need.quantity
            if lid_wid is not None:
                lid, wid = lid_wid
                if _take(tenant_id=tenant_id, order_id=order_id, line_id=need.line_id, sku_id=need.sku_id,
                         level_id=lid, warehouse_id=wid, qty=remaining, reference=reference,
                         reservations=reservations, movements=movements, who=who):
                    remaining = 0
                else:
                    # not enough for the whole line: take what is there, under the row lock
                    level = StockLevel.objects.select_for_update().get(pk=lid)
                    take = min(max(0, level.on_hand - level.reserved), remaining)
                    if take and _take(tenant_id=tenant_id, order_id=order_id, line_id=need.line_id,
                                      sku_id=need.sku_id, level_id=lid, warehouse_id=wid, qty=take,
                                      reference=reference, reservations=reservations, movements=movements,
                                      who=who):
                        remaining -= take
                if remaining != need.quantity:
                    taken.add(need.sku_id)
            if remaining:
                complete = False
                reservations.append(Reservation(tenant_id=tenant_id, order_id=order_id, line_id=need.line_id,
                                                sku_id=need.sku_id, warehouse=None, quantity=remaining,
                                                status=ReservationStatus.SHORT))
        Reservation.objects.bulk_create(reservations)
        StockMovement.objects.bulk_create(movements)
        if taken:
            _note_stock_changed(tenant_id, taken)
        return complete


def _lock_levels(tenant_id: int, sku_ids) -> list[tuple]:
    """SELECT ... FOR UPDATE the stock rows of these SKUs in the one global lock order
    (sku, warehouse priority, warehouse id); returns (id, warehouse_id, sku_id, on_hand, reserved)."""
    return list(
        StockLevel.objects.select_for_update(of=("self",))
        .filter(tenant_id=tenant_id, sku_id__in=sorted(sku_ids), warehouse__active=True)
        .order_by("sku_id", "warehouse__priority", "warehouse_id")
        .values_list("id", "warehouse_id", "sku_id", "on_hand", "reserved")
    )


RESERVATION_COLUMNS = ("tenant_id", "order_id", "line_id", "sku_id", "warehouse_id", "quantity", "status")
MOVEMENT_COLUMNS = ("tenant_id", "warehouse_id", "sku_id", "kind", "reserved_delta", "reference", "actor_id",
                    "actor_label")


def _allocate_locked(tenant_id: int, per_order: list[tuple[int, list[Need]]], *,
                     who: tuple[int | None, str], warehouse_id: int | None = None) -> set[int]:
    """Hand out locked stock to orders in sequence -- one warehouse for a whole line when one
    can, else what each has in priority order -- and write level deltas, reservations and one
    ledger row per reservation. Returns the ids of orders left short. (The actor is the same on
    every row: the bulk insert sends it as one scalar parameter, not a column array.)"""
    sku_ids = sorted({n.sku_id for _oid, needs in per_order for n in needs})
    rows = _lock_levels(tenant_id, sku_ids)
    avail: dict[int, int] = {}
    by_sku: dict[int, list[tuple[int, int]]] = defaultdict(list)  # sku -> [(level_id, warehouse_id)]
    for lid, wid, sid, on_hand, reserved in rows:
        if warehouse_id is not None and wid != warehouse_id:
            continue
        avail[lid] = on_hand - reserved
        by_sku[sid].append((lid, wid))
    delta: dict[int, int] = defaultdict(int)
    # rows as tuples (one INSERT per table, no model instances): this is the page ingest's path
    reservations: list[tuple] = []  # RESERVATION_COLUMNS
    movements: list[tuple] = []  # MOVEMENT_COLUMNS
    shorts: set[int] = set()
    active, short, reserve = str(ReservationStatus.ACTIVE), str(ReservationStatus.SHORT), str(MovementKind.RESERVE)
    for order_id, needs in per_order:
        reference = f"order:{order_id}"
        for need in needs:
            remaining = need.quantity
            takes: list[tuple[int, int, int]] = []
            candidates = by_sku.get(need.sku_id, [])
            whole = next(((lid, wid) for lid, wid in candidates if avail[lid] >= remaining), None)
            if whole is not None:
                takes.append((whole[0], whole[1], remaining))
                remaining = 0
            else:
                for lid, wid in candidates:
                    take = min(avail[lid], remaining)
                    if take > 0:
                        takes.append((lid, wid, take))
                        remaining -= take
                    if not remaining:
                        break
            for lid, wid, qty in takes:
                avail[lid] -= qty
                delta[lid] += qty
                reservations.append((tenant_id, order_id, need.line_id, need.sku_id, wid, qty, active))
                movements.append((tenant_id, wid, need.sku_id, reserve, qty, reference[:64], *who))
            if remaining:
                shorts.add(order_id)
                reservations.append((tenant_id, order_id, need.line_id, need.sku_id, None, remaining, short))
    if delta:
        _add_reserved(delta)
    insert_many((Reservation, RESERVATION_COLUMNS, reservations), (StockMovement, MOVEMENT_COLUMNS, movements))
    if movements:
        _note_stock_changed(tenant_id, {m[2] for m in movements})
    return shorts


def stock_reserve_orders(*, tenant_id: int, orders: list[dict], actor=None, actor_label: str = "") -> None:
    """Reserve a page of NEW orders in one pass (the bulk ingest): lock the stock rows of every
    SKU involved in the one global order (sku, warehouse priority, warehouse id), hand out the
    stock order by order in the given sequence (urgent first, then oldest), then write the level
    deltas, the reservations and one ledger row per reservation. Full or short per order; never
    raises for lack of stock. Orders that already hold reservations are not for this path."""
    if not orders:
        return
    with transaction.atomic(savepoint=False):  # nested in the ingest: it fails as a whole
        combos = _combo_parts(tenant_id, {ln["sku_id"] for o in orders for ln in o["lines"]})
        _allocate_locked(tenant_id, [(o["order_id"], _needs(tenant_id, o["lines"], combos)) for o in orders],
                         who=_who(actor, actor_label))


def _add_reserved(delta: dict[int, int]) -> None:
    """reserved += delta per locked level (one statement on PostgreSQL)."""
    if connection.vendor == "postgresql":
        values = ", ".join(["(%s, %s)"] * len(delta))
        params = [x for item in sorted(delta.items()) for x in item]
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE inventory_stocklevel AS s SET reserved = s.reserved + v.d "  # noqa: S608 (placeholders only)
                f"FROM (VALUES {values}) AS v(id, d) WHERE s.id = v.id", params)
        return
    for lid, qty in sorted(delta.items()):
        StockLevel.objects.filter(pk=lid).update(reserved=F("reserved") + qty)


def _release(tenant_id: int, order_id: int, rows: list[Reservation], reference: str,
             who: tuple[int | None, str]) -> None:
    movements = []
    # the one global lock order (sku, warehouse priority, warehouse id), as when reserving
    prio = dict(Warehouse.objects.filter(pk__in={r.warehouse_id for r in rows if r.warehouse_id})
                .values_list("pk", "priority"))
    rows = sorted(rows, key=lambda r: (r.sku_id, prio.get(r.warehouse_id, 0), r.warehouse_id or 0))
    for r in rows:
        if r.status == ReservationStatus.ACTIVE:
            updated = StockLevel.objects.filter(
                tenant_id=tenant_id, warehouse_id=r.warehouse_id, sku_id=r.sku_id, reserved__gte=r.quantity
            ).update(reserved=F("reserved") - r.quantity)
            if not updated:  # would make reserved negative: the ledger and level disagree
                raise StockError(f"reservation {r.pk} exceeds reserved stock")
            movements.append(StockMovement(tenant_id=tenant_id, warehouse_id=r.warehouse_id, sku_id=r.sku_id,
                                           kind=MovementKind.RELEASE, reserved_delta=-r.quantity,
                                           reference=reference, actor_id=who[0], actor_label=who[1]))
    Reservation.objects.filter(pk__in=[r.pk for r in rows]).update(status=ReservationStatus.RELEASED)
    StockMovement.objects.bulk_create(movements)
    if movements:
        _note_stock_changed(tenant_id, {m.sku_id for m in movements})


def stock_release_order(*, tenant_id: int, order_id: int, reference: str = "", actor=None,
                        actor_label: str = "") -> int:
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
        _release(tenant_id, order_id, rows, reference or f"order:{order_id}", _who(actor, actor_label))
        return sum(r.quantity for r in rows if r.status == ReservationStatus.ACTIVE)


def stock_consume_order(*, tenant_id: int, order_id: int, line_ids: list[int] | None = None,
                        reference: str = "", actor=None, actor_label: str = "") -> int:
    """A shipment left: on_hand and reserved both fall by the reserved quantities."""
    with transaction.atomic():
        qs = Reservation.objects.select_for_update().filter(
            tenant_id=tenant_id, order_id=order_id, status=ReservationStatus.ACTIVE)
        if line_ids is not None:
            qs = qs.filter(line_id__in=line_ids)
        rows = list(qs)
        prio = dict(Warehouse.objects.filter(pk__in={r.warehouse_id for r in rows}).values_list("pk", "priority"))
        rows.sort(key=lambda r: (r.sku_id, prio.get(r.warehouse_id, 0), r.warehouse_id))
        if not rows:
            return 0
        actor_id, label = _who(actor, actor_label)
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
                                           reserved_delta=-r.quantity, reference=reference or f"order:{order_id}",
                                           actor_id=actor_id, actor_label=label))
        Reservation.objects.filter(pk__in=[r.pk for r in rows]).update(status=ReservationStatus.CONSUMED)
        StockMovement.objects.bulk_create(movements)
        _note_stock_changed(tenant_id, {m.sku_id for m in movements})
        return sum(r.quantity for r in rows)


# --- receiving, adjusting, restocking -------------------------------------------------------
def stock_receive(*, tenant_id: int, warehouse_id: int, sku_id: int, quantity: int,
                  kind: str = MovementKind.RECEIVE, reference: str = "", note: str = "", actor=None,
                  actor_label: str = "") -> StockLevel:
    """Goods arrive (purchase receipt, return restock, transfer in): on_hand rises."""
    if quantity <= 0:
        raise StockError("quantity must be positive")
    with transaction.atomic():
        if Sku.objects.filter(tenant_id=tenant_id, pk=sku_id, is_combo=True).exists():
            raise StockError("a combo SKU holds no stock of its own; receive its components")
        level = _level(tenant_id, warehouse_id, sku_id)
        StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + quantity)
        actor_id, label = _who(actor, actor_label)
        StockMovement.objects.create(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id, kind=kind,
                                     on_hand_delta=quantity, reference=reference, note=note, actor_id=actor_id,
                                     actor_label=label)
        _note_stock_changed(tenant_id, [sku_id])
        level.refresh_from_db()
        return level


def stock_adjust(*, tenant_id: int, warehouse_id: int, sku_id: int, delta: int,
                 kind: str = MovementKind.ADJUST, reference: str = "", note: str = "", actor=None,
                 actor_label: str = "") -> StockLevel:
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
        actor_id, label = _who(actor, actor_label)
        StockMovement.objects.create(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id, kind=kind,
                                     on_hand_delta=delta, reference=reference, note=note, actor_id=actor_id,
                                     actor_label=label)
        _note_stock_changed(tenant_id, [sku_id])
        level.refresh_from_db()
        return level


def stock_restock(*, tenant_id: int, warehouse_id: int, lines: list[dict], reference: str, actor=None,
                  actor_label: str = "") -> None:
    """Returned goods back on the shelf: one receive per (component) SKU."""
    wanted: dict[int, int] = defaultdict(int)
    for ln in lines:
        wanted[ln["sku_id"]] += ln["quantity"]
    with transaction.atomic():
        for sku_id, qty in sorted(expand_components(tenant_id, dict(wanted)).items()):
            stock_receive(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id, quantity=qty,
                          kind=MovementKind.RETURN, reference=reference, actor=actor, actor_label=actor_label)


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


# --- stock count (盘点) and write-off (报损) ------------------------------------------------------
def _locked_level(tenant_id: int, warehouse_id: int, sku_id: int) -> StockLevel:
    """The level row, created when missing, locked FOR UPDATE until the transaction ends."""
    level = _level(tenant_id, warehouse_id, sku_id)
    return StockLevel.objects.select_for_update().get(pk=level.pk)


def _check_owned(tenant_id: int, *, warehouse_id: int, sku_id: int) -> None:
    if not Warehouse.objects.filter(tenant_id=tenant_id, pk=warehouse_id).exists():
        raise StockError(_("仓库不存在"))
    sku = Sku.objects.filter(tenant_id=tenant_id, pk=sku_id).values_list("is_combo", flat=True).first()
    if sku is None:
        raise StockError(_("SKU 不存在"))
    if sku:
        raise StockError(_("组合装本身没有库存，请对其子件操作"))


def stock_count(*, tenant_id: int, warehouse_id: int, sku_id: int, counted: int, reference: str = "",
                note: str = "", actor=None, actor_label: str = "") -> StockLevel:
    """Set on_hand to the counted quantity (盘点). The level row is locked while the difference
    is computed, so a concurrent receive or reservation is never lost. Refuses a count below
    what is reserved. No-op (no ledger row) when the count equals on_hand."""
    if counted < 0:
        raise StockError(_("盘点数量不能为负数"))
    with transaction.atomic():
        _check_owned(tenant_id, warehouse_id=warehouse_id, sku_id=sku_id)
        level = _locked_level(tenant_id, warehouse_id, sku_id)
        delta = counted - level.on_hand
        if delta == 0:
            return level
        if counted < level.reserved:
            raise StockError(_("盘点数量 %(counted)s 小于已占用 %(reserved)s") % {
                "counted": counted, "reserved": level.reserved})
        StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + delta)
        actor_id, label = _who(actor, actor_label)
        StockMovement.objects.create(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id,
                                     kind=MovementKind.ADJUST, on_hand_delta=delta, reference=reference,
                                     actor_id=actor_id, actor_label=label,
                                     note=note or _("盘点：%(before)s → %(after)s") % {
                                         "before": level.on_hand, "after": counted})
        _note_stock_changed(tenant_id, [sku_id])
        level.refresh_from_db()
        return level


def stock_write_off(*, tenant_id: int, warehouse_id: int, sku_id: int, quantity: int, reason: str,
                    reference: str = "", actor=None, actor_label: str = "") -> StockWriteOff:
    """Damaged / lost goods leave the shelf (报损): on_hand falls, never below reserved stock."""
    if quantity <= 0:
        raise StockError(_("报损数量必须大于 0"))
    if not reason.strip():
        raise StockError(_("请填写报损原因"))
    with transaction.atomic():
        _check_owned(tenant_id, warehouse_id=warehouse_id, sku_id=sku_id)
        level = _level(tenant_id, warehouse_id, sku_id)
        ok = StockLevel.objects.filter(pk=level.pk, on_hand__gte=F("reserved") + quantity).update(
            on_hand=F("on_hand") - quantity)
        if not ok:
            raise StockError(_("可用库存不足，无法报损 %(qty)s 件") % {"qty": quantity})
        actor_id, label = _who(actor, actor_label)
        record = StockWriteOff.objects.create(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id,
                                              quantity=quantity, reason=reason, reference=reference,
                                              created_by_id=actor_id)
        StockMovement.objects.create(tenant_id=tenant_id, warehouse_id=warehouse_id, sku_id=sku_id,
                                     kind=MovementKind.WRITE_OFF, on_hand_delta=-quantity,
                                     reference=reference or f"writeoff:{record.pk}", note=reason[:200],
                                     actor_id=actor_id, actor_label=label)
        _note_stock_changed(tenant_id, [sku_id])
        return record


def sku_saved(*, tenant_id: int, sku_id: int) -> None:
    """A SKU's master data changed (combo composition, combo flag, active): what the channels are
    told of it and of the combos it is part of is recomputed and pushed (stock_changed, on commit)."""
    combos = SkuComponent.objects.filter(tenant_id=tenant_id, component_id=sku_id).values_list("combo_id", flat=True)
    _note_stock_changed(tenant_id, {sku_id, *combos})


# --- reorder points and low-stock alerts -----------------------------------------------------------
def reorder_point_set(*, tenant_id: int, sku_id: int, warehouse_id: int | None, reorder_point: int,
                      reorder_quantity: int | None = None) -> ReorderPoint:
    """Create or change the reorder point of a SKU in a warehouse (None = all warehouses), then
    re-evaluate its alert. No-op when nothing changes."""
    if reorder_point < 0:
        raise StockError(_("补货点不能为负数"))
    with transaction.atomic():
        if not Sku.objects.filter(tenant_id=tenant_id, pk=sku_id).exists():
            raise StockError(_("SKU 不存在"))
        if warehouse_id is not None and not Warehouse.objects.filter(tenant_id=tenant_id, pk=warehouse_id).exists():
            raise StockError(_("仓库不存在"))
        rp = ReorderPoint.objects.select_for_update().filter(
            tenant_id=tenant_id, sku_id=sku_id, warehouse_id=warehouse_id).first()
        if rp is None:
            try:
                with transaction.atomic():
                    rp = ReorderPoint.objects.create(tenant_id=tenant_id, sku_id=sku_id, warehouse_id=warehouse_id,
                                                     reorder_point=reorder_point,
                                                     reorder_quantity=reorder_quantity or 0)
            except IntegrityError:  # created concurrently: fall through to the update
                rp = ReorderPoint.objects.select_for_update().get(tenant_id=tenant_id, sku_id=sku_id,
                                                                  warehouse_id=warehouse_id)
            else:
                low_stock_evaluate(tenant_id=tenant_id, sku_ids=[sku_id])
                return rp
        changed = rp.reorder_point != reorder_point or (
            reorder_quantity is not None and rp.reorder_quantity != reorder_quantity)
        if not changed:
            return rp
        rp.reorder_point = reorder_point
        if reorder_quantity is not None:
            rp.reorder_quantity = reorder_quantity
        rp.save(update_fields=["reorder_point", "reorder_quantity", "updated_at"])
        low_stock_evaluate(tenant_id=tenant_id, sku_ids=[sku_id])
        return rp


def reorder_point_delete(*, tenant_id: int, reorder_point_id: int) -> bool:
    """Remove a reorder point; its open alert clears."""
    with transaction.atomic():
        rp = ReorderPoint.objects.filter(tenant_id=tenant_id, pk=reorder_point_id).first()
        if rp is None:
            return False
        rp.delete()
        low_stock_evaluate(tenant_id=tenant_id, sku_ids=[rp.sku_id])
        return True


def _send_alert_raised(tenant_id: int, alert_id: int, sku_id: int, warehouse_id: int | None, available: int,
                       reorder_point: int) -> None:
    signals.low_stock_alert_raised.send(sender=LowStockAlert, tenant_id=tenant_id, alert_id=alert_id, sku_id=sku_id,
                                        warehouse_id=warehouse_id, available=available, reorder_point=reorder_point)


@dataclass
class AlertOutcome:
    raised: list[int]
    cleared: list[int]


def low_stock_evaluate(*, tenant_id: int, sku_ids: Iterable[int]) -> AlertOutcome:
    """Compare the available stock of these SKUs with their reorder points: open ONE alert when
    available <= point (none if one is open already), clear the open alert when it is above.

    The reorder-point rows are locked first (pk order) and the stock read afterwards, so two
    evaluations of the same SKU run one after the other and the later one sees the later stock:
    an alert can never be left open by a stale reading. The database guarantees one open alert
    per (tenant, sku, warehouse) in any case."""
    from .selectors import available_by_level

    sku_ids = sorted(set(sku_ids))
    outcome = AlertOutcome([], [])
    if not sku_ids:
        return outcome
    anything = ReorderPoint.objects.filter(tenant_id=tenant_id, sku_id__in=sku_ids).values_list("pk").union(
        LowStockAlert.objects.filter(tenant_id=tenant_id, sku_id__in=sku_ids, cleared_at=None).values_list("pk"),
        all=True)
    if not anything[:1]:
        return outcome  # the common case: no thresholds on these SKUs (one query), no transaction
    with transaction.atomic():
        points = list(ReorderPoint.objects.select_for_update().filter(tenant_id=tenant_id, sku_id__in=sku_ids)
                      .order_by("pk"))
        open_alerts = {(a.sku_id, a.warehouse_id): a for a in LowStockAlert.objects.filter(
            tenant_id=tenant_id, sku_id__in=sku_ids, cleared_at=None)}
        if not points and not open_alerts:
            return outcome
        avail = available_by_level(tenant_id=tenant_id, sku_ids=sku_ids)
        totals: dict[int, int] = defaultdict(int)
        for (sid, _wid), qty in avail.items():
            totals[sid] += qty
        now = timezone.now()
        wanted = set()
        for rp in points:
            key = (rp.sku_id, rp.warehouse_id)
            wanted.add(key)
            available = totals.get(rp.sku_id, 0) if rp.warehouse_id is None else avail.get(key, 0)
            alert = open_alerts.get(key)
            if available <= rp.reorder_point:
                if alert is not None:
                    continue
                try:
                    with transaction.atomic():
                        alert = LowStockAlert.objects.create(tenant_id=tenant_id, sku_id=rp.sku_id,
                                                             warehouse_id=rp.warehouse_id,
                                                             reorder_point=rp.reorder_point, available=available)
                except IntegrityError:  # another worker opened it first
                    continue
                outcome.raised.append(alert.pk)
                logger.info("low stock alert raised tenant=%s alert=%s sku=%s warehouse=%s available=%s point=%s",
                            tenant_id, alert.pk, rp.sku_id, rp.warehouse_id, available, rp.reorder_point)
                transaction.on_commit(functools.partial(
                    _send_alert_raised, tenant_id, alert.pk, rp.sku_id, rp.warehouse_id, available, rp.reorder_point))
            elif alert is not None:
                if LowStockAlert.objects.filter(pk=alert.pk, cleared_at=None).update(
                        cleared_at=now, available_at_clear=available):
                    outcome.cleared.append(alert.pk)
        for key, alert in open_alerts.items():
            if key not in wanted:  # its reorder point was removed
                sid, wid = key
                available = totals.get(sid, 0) if wid is None else avail.get(key, 0)
                if LowStockAlert.objects.filter(pk=alert.pk, cleared_at=None).update(
                        cleared_at=now, available_at_clear=available):
                    outcome.cleared.append(alert.pk)
        return outcome


# --- transfers (调拨) -------------------------------------------------------------------------------
class TransferError(StockError):
    """A transfer operation that is not allowed in the transfer's state, or lacks stock."""


def _transfer_locked(tenant_id: int, transfer_id: int) -> TransferOrder:
    try:
        return TransferOrder.objects.select_for_update().get(tenant_id=tenant_id, pk=transfer_id)
    except TransferOrder.DoesNotExist:
        raise TransferError(_("调拨单不存在"))


def _require_status(transfer: TransferOrder, *allowed: str) -> None:
    if transfer.status not in allowed:
        raise TransferError(_("调拨单当前状态为“%(status)s”，不能执行此操作") % {
            "status": transfer.get_status_display()})


def transfer_create(*, tenant_id: int, source_id: int, destination_id: int, lines: dict[int, int],
                    reason: str = "", note: str = "", suggested: bool = False, actor=None) -> TransferOrder:
    """A draft transfer order. `lines` = {sku_id: quantity}; zero quantities are left out."""
    if source_id == destination_id:
        raise TransferError(_("调出仓与调入仓不能相同"))
    lines = {int(s): int(q) for s, q in lines.items() if int(q) != 0}
    if any(q < 0 for q in lines.values()):
        raise TransferError(_("调拨数量不能为负数"))
    with transaction.atomic():
        if Warehouse.objects.filter(tenant_id=tenant_id, pk__in=[source_id, destination_id]).count() != 2:
            raise TransferError(_("仓库不存在"))
        skus = set(Sku.objects.filter(tenant_id=tenant_id, pk__in=list(lines), is_combo=False)
                   .values_list("pk", flat=True))
        if skus != set(lines):
            raise TransferError(_("SKU 不存在或为组合装"))
        transfer = TransferOrder.objects.create(tenant_id=tenant_id, source_id=source_id,
                                                destination_id=destination_id, suggested=suggested,
                                                reason=reason, note=note, created_by=actor)
        TransferLine.objects.bulk_create([
            TransferLine(tenant_id=tenant_id, transfer=transfer, sku_id=sid, quantity=q)
            for sid, q in sorted(lines.items())])
        logger.info("transfer created tenant=%s transfer=%s suggested=%s", tenant_id, transfer.pk, suggested)
        return transfer


def transfer_update_lines(*, tenant_id: int, transfer_id: int, quantities: dict[int, int],
                          actor=None) -> TransferOrder:
    """Ops edit the quantities of a draft: {sku_id: quantity}; 0 removes the line, a new SKU
    adds one. A suggestion that was edited is no longer replaced by the suggestion job."""
    quantities = {int(s): int(q) for s, q in quantities.items()}
    if any(q < 0 for q in quantities.values()):
        raise TransferError(_("调拨数量不能为负数"))
    with transaction.atomic():
        transfer = _transfer_locked(tenant_id, transfer_id)
        _require_status(transfer, TransferStatus.DRAFT)
        current = {ln.sku_id: ln for ln in transfer.lines.all()}
        new_skus = {s for s, q in quantities.items() if q and s not in current}
        if new_skus and set(Sku.objects.filter(tenant_id=tenant_id, pk__in=new_skus, is_combo=False)
                            .values_list("pk", flat=True)) != new_skus:
            raise TransferError(_("SKU 不存在或为组合装"))
        changed = False
        for sid, qty in sorted(quantities.items()):
            line = current.get(sid)
            if line is None and qty:
                TransferLine.objects.create(tenant_id=tenant_id, transfer=transfer, sku_id=sid, quantity=qty)
                changed = True
            elif line is not None and qty == 0:
                line.delete()
                changed = True
            elif line is not None and line.quantity != qty:
                line.quantity = qty
                line.save(update_fields=["quantity"])
                changed = True
        if changed:
            transfer.edited_at = timezone.now()
            transfer.save(update_fields=["edited_at"])
        return transfer


def transfer_accept(*, tenant_id: int, transfer_id: int, actor=None) -> TransferOrder:
    """Ops accept a suggestion: it becomes a draft to ship and the job no longer replaces it."""
    with transaction.atomic():
        transfer = _transfer_locked(tenant_id, transfer_id)
        _require_status(transfer, TransferStatus.DRAFT)
        if transfer.accepted_at is not None:
            return transfer
        transfer.accepted_at = timezone.now()
        transfer.save(update_fields=["accepted_at"])
        return transfer


def transfer_dismiss(*, tenant_id: int, transfer_id: int, actor=None, note: str = "") -> TransferOrder:
    """Ops dismiss a draft (or suggestion). Nothing has moved, so nothing moves back."""
    with transaction.atomic():
        transfer = _transfer_locked(tenant_id, transfer_id)
        if transfer.status == TransferStatus.DISMISSED:
            return transfer
        _require_status(transfer, TransferStatus.DRAFT)
        transfer.status = TransferStatus.DISMISSED
        transfer.closed_at = timezone.now()
        if note:
            transfer.note = note[:200]
        transfer.save(update_fields=["status", "closed_at", "note"])
        return transfer


def transfer_ship(*, tenant_id: int, transfer_id: int, actor=None, actor_label: str = "") -> TransferOrder:
    """The goods leave the source: on_hand falls there (ledger transfer_out). Refused, with
    nothing written, when any line is not available at the source. Shipping accepts a suggestion."""
    with transaction.atomic():
        transfer = _transfer_locked(tenant_id, transfer_id)
        if transfer.status != TransferStatus.DRAFT and transfer.shipped_at is not None:
            return transfer  # shipped already: a retried request changes nothing
        _require_status(transfer, TransferStatus.DRAFT)
        lines = sorted(transfer.lines.select_related("sku"), key=lambda ln: ln.sku_id)
        if not lines:
            raise TransferError(_("调拨单没有明细"))
        reference = f"transfer:{transfer.pk}"
        actor_id, label = _who(actor, actor_label)
        movements = []
        for ln in lines:
            level = _level(tenant_id, transfer.source_id, ln.sku_id)
            ok = StockLevel.objects.filter(pk=level.pk, on_hand__gte=F("reserved") + ln.quantity).update(
                on_hand=F("on_hand") - ln.quantity)
            if not ok:
                have = StockLevel.objects.filter(pk=level.pk).annotate(a=F("on_hand") - F("reserved")) \
                    .values_list("a", flat=True).first() or 0
                raise TransferError(_("%(code)s 在调出仓可用 %(have)s 件，不足 %(qty)s 件") % {
                    "code": ln.sku.code, "have": have, "qty": ln.quantity})
            movements.append(StockMovement(tenant_id=tenant_id, warehouse_id=transfer.source_id, sku_id=ln.sku_id,
                                           kind=MovementKind.TRANSFER_OUT, on_hand_delta=-ln.quantity,
                                           reference=reference, actor_id=actor_id, actor_label=label))
        StockMovement.objects.bulk_create(movements)
        now = timezone.now()
        transfer.status = TransferStatus.SHIPPED
        transfer.shipped_at = now
        transfer.accepted_at = transfer.accepted_at or now
        transfer.save(update_fields=["status", "shipped_at", "accepted_at"])
        _note_stock_changed(tenant_id, [ln.sku_id for ln in lines])
        logger.info("transfer shipped tenant=%s transfer=%s", tenant_id, transfer.pk)
        return transfer


def transfer_receive(*, tenant_id: int, transfer_id: int, quantities: dict[int, int], actor=None,
                     actor_label: str = "") -> TransferOrder:
    """Goods arrive at the destination: {line_id: quantity arrived now}. on_hand rises there
    (ledger transfer_in). Partial receipts leave the transfer partially_received."""
    quantities = {int(k): int(v) for k, v in quantities.items()}
    if any(v < 0 for v in quantities.values()):
        raise TransferError(_("到货数量不能为负数"))
    with transaction.atomic():
        transfer = _transfer_locked(tenant_id, transfer_id)
        _require_status(transfer, TransferStatus.SHIPPED, TransferStatus.PARTIALLY_RECEIVED)
        lines = {ln.pk: ln for ln in transfer.lines.select_for_update().select_related("sku").order_by("sku_id")}
        unknown = set(quantities) - set(lines)
        if unknown:
            raise TransferError(_("调拨明细不存在"))
        todo = [(lines[lid], q) for lid, q in quantities.items() if q]
        if not todo:
            return transfer
        for ln, q in todo:
            if q > ln.outstanding:
                raise TransferError(_("%(code)s 到货 %(qty)s 件，超过未到数量 %(left)s 件") % {
                    "code": ln.sku.code, "qty": q, "left": ln.outstanding})
        reference = f"transfer:{transfer.pk}"
        actor_id, label = _who(actor, actor_label)
        movements = []
        for ln, q in sorted(todo, key=lambda t: t[0].sku_id):
            level = _level(tenant_id, transfer.destination_id, ln.sku_id)
            StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + q)
            TransferLine.objects.filter(pk=ln.pk).update(received_quantity=F("received_quantity") + q)
            ln.received_quantity += q
            movements.append(StockMovement(tenant_id=tenant_id, warehouse_id=transfer.destination_id,
                                           sku_id=ln.sku_id, kind=MovementKind.TRANSFER_IN, on_hand_delta=q,
                                           reference=reference, actor_id=actor_id, actor_label=label))
        StockMovement.objects.bulk_create(movements)
        complete = all(ln.outstanding == 0 for ln in lines.values())
        transfer.status = TransferStatus.RECEIVED if complete else TransferStatus.PARTIALLY_RECEIVED
        if complete:
            transfer.received_at = timezone.now()
        transfer.save(update_fields=["status", "received_at"])
        _note_stock_changed(tenant_id, [ln.sku_id for ln, _q in todo])
        return transfer


def transfer_close(*, tenant_id: int, transfer_id: int, reason: str = "", actor=None) -> TransferOrder:
    """Close a transfer whose remaining goods will not arrive: the rest is written off as lost in
    transit (a StockWriteOff per line; no ledger row: the goods left on_hand when shipped)."""
    with transaction.atomic():
        transfer = _transfer_locked(tenant_id, transfer_id)
        if transfer.status in (TransferStatus.CLOSED, TransferStatus.RECEIVED):
            return transfer
        _require_status(transfer, TransferStatus.SHIPPED, TransferStatus.PARTIALLY_RECEIVED)
        reason = reason.strip() or _("调拨在途丢失")
        reference = f"transfer:{transfer.pk}"
        for ln in transfer.lines.select_for_update().order_by("sku_id"):
            left = ln.outstanding
            if left <= 0:
                continue
            TransferLine.objects.filter(pk=ln.pk).update(lost_quantity=F("lost_quantity") + left)
            StockWriteOff.objects.create(tenant_id=tenant_id, warehouse_id=transfer.source_id, sku_id=ln.sku_id,
                                         quantity=left, in_transit=True, reason=reason[:200], reference=reference,
                                         created_by=actor)
        transfer.status = TransferStatus.CLOSED
        transfer.closed_at = timezone.now()
        transfer.save(update_fields=["status", "closed_at"])
        logger.info("transfer closed short tenant=%s transfer=%s", tenant_id, transfer.pk)
        return transfer


# --- transfer suggestions -----------------------------------------------------------------------
SUGGEST_VELOCITY_DAYS = 7      #: sales window for the velocity
SUGGEST_COVER_DAYS = 7         #: each warehouse should hold this many days of its own sales
SUGGEST_DISMISS_QUIET_HOURS = 24  #: a dismissed (source, destination) pair is not suggested again for this long


@dataclass
class _Need:
    short: int
    target: int
    available: int
    incoming: int
    cross: int = 0  # units its region's open orders hold in other warehouses (shipped cross-region)

    @property
    def missing(self) -> int:
        return self.short + self.cross + self.target - self.available - self.incoming


def transfer_suggest(*, tenant_id: int, now=None, velocity_days: int = SUGGEST_VELOCITY_DAYS,
                     cover_days: int = SUGGEST_COVER_DAYS) -> list[TransferOrder]:
    """Propose transfers from warehouses with surplus to warehouses short for their demand.

    Demand of a warehouse for a SKU = units short in open orders shipping to its regions + units
    those orders hold in other warehouses (they would ship cross-region: slower and dearer) + its
    sales of the last `velocity_days` scaled to `cover_days`. It is short by demand − available −
    incoming (in transit, or in accepted / hand-made drafts). Another warehouse's surplus =
    available − its own demand − what it already promised to other transfers.

    A suggestion is a draft TransferOrder(suggested=True) with the reason. Re-running replaces
    untouched suggestions (and drops those no longer needed); accepted or edited ones stay and
    count as incoming. Returns the pending suggestions after the run."""
    from .selectors import available_by_level, cross_region_demand, shipped_units, short_demand_by_warehouse

    now = now or timezone.now()
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant_id).first()  # one run per tenant at a time
        warehouses = list(Warehouse.objects.filter(tenant_id=tenant_id, active=True).order_by("priority", "id"))
        by_id = {w.pk: w for w in warehouses}
        pending = list(TransferOrder.objects.select_for_update().filter(
            tenant_id=tenant_id, status=TransferStatus.DRAFT, suggested=True, accepted_at=None, edited_at=None))
        pending_ids = {t.pk for t in pending}

        short = short_demand_by_warehouse(tenant_id=tenant_id, warehouses=warehouses)
        cross = cross_region_demand(tenant_id=tenant_id, warehouses=warehouses)
        shipped = shipped_units(tenant_id=tenant_id, days=velocity_days, now=now)
        sku_ids = sorted({s for s, _w in short} | {s for s, _w in shipped} | {s for s, _w in cross})
        avail = available_by_level(tenant_id=tenant_id, sku_ids=sku_ids) if sku_ids else {}
        incoming: dict[tuple[int, int], int] = defaultdict(int)
        outgoing: dict[tuple[int, int], int] = defaultdict(int)
        for ln in TransferLine.objects.filter(tenant_id=tenant_id, sku_id__in=sku_ids).filter(
                Q(transfer__status__in=[TransferStatus.SHIPPED, TransferStatus.PARTIALLY_RECEIVED])
                | Q(transfer__status=TransferStatus.DRAFT)).exclude(transfer_id__in=pending_ids).values(
                "sku_id", "quantity", "received_quantity", "lost_quantity", "transfer__status",
                "transfer__source_id", "transfer__destination_id"):
            left = ln["quantity"] - ln["received_quantity"] - ln["lost_quantity"]
            incoming[(ln["sku_id"], ln["transfer__destination_id"])] += left
            if ln["transfer__status"] == TransferStatus.DRAFT:
                outgoing[(ln["sku_id"], ln["transfer__source_id"])] += left
        quiet_since = now - timedelta(hours=SUGGEST_DISMISS_QUIET_HOURS)
        quiet = set(TransferOrder.objects.filter(
            tenant_id=tenant_id, suggested=True, status=TransferStatus.DISMISSED, closed_at__gte=quiet_since)
            .values_list("source_id", "destination_id"))
        codes = dict(Sku.objects.filter(tenant_id=tenant_id, pk__in=sku_ids).values_list("pk", "code"))

        proposals: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
        reasons: dict[tuple[int, int], list[str]] = defaultdict(list)
        for sid in sku_ids:
            needs: dict[int, _Need] = {}
            surplus: dict[int, int] = {}
            for w in warehouses:
                key = (sid, w.pk)
                target = -(-shipped.get(key, 0) * cover_days // velocity_days)  # ceil
                need = _Need(short.get(key, 0), target, avail.get(key, 0), incoming.get(key, 0), cross.get(key, 0))
                if need.missing > 0:
                    needs[w.pk] = need
                else:
                    spare = need.available - need.short - need.target - outgoing.get(key, 0)
                    if spare > 0:
                        surplus[w.pk] = spare
            for dst, need in needs.items():  # warehouses in priority order
                missing = need.missing
                for src in sorted(surplus, key=lambda w: (-surplus[w], by_id[w].priority, w)):
                    if missing <= 0:
                        break
                    if surplus[src] <= 0 or (src, dst) in quiet:
                        continue
                    qty = min(missing, surplus[src])
                    surplus[src] -= qty
                    missing -= qty
                    proposals[(src, dst)][sid] = proposals[(src, dst)].get(sid, 0) + qty
                    reasons[(src, dst)].append(_(
                        "%(dst)s 缺 %(code)s %(missing)s 件（缺货订单 %(short)s 件 + 跨区占用 %(cross)s 件"
                        " + %(days)s 天备货 %(target)s 件"
                        " − 可用 %(avail)s 件 − 在途 %(incoming)s 件）；%(src)s 富余 %(spare)s 件，建议调拨 %(qty)s 件") % {
                        "dst": by_id[dst].name, "code": codes.get(sid, sid), "missing": need.missing,
                        "short": need.short, "cross": need.cross, "days": cover_days, "target": need.target,
                        "avail": need.available,
                        "incoming": need.incoming, "src": by_id[src].name, "spare": surplus[src] + qty, "qty": qty})

        by_pair = {(t.source_id, t.destination_id): t for t in pending}
        result = []
        for pair, lines in sorted(proposals.items()):
            reason = "\n".join(reasons[pair])
            transfer = by_pair.pop(pair, None)
            if transfer is None:
                transfer = transfer_create(tenant_id=tenant_id, source_id=pair[0], destination_id=pair[1],
                                           lines=lines, reason=reason, suggested=True)
            else:
                current = dict(transfer.lines.values_list("sku_id", "quantity"))
                if current != lines:
                    transfer.lines.all().delete()
                    TransferLine.objects.bulk_create([
                        TransferLine(tenant_id=tenant_id, transfer=transfer, sku_id=s, quantity=q)
                        for s, q in sorted(lines.items())])
                if transfer.reason != reason:
                    transfer.reason = reason
                    transfer.save(update_fields=["reason"])
            result.append(transfer)
        for stale in by_pair.values():  # no longer needed and never touched by anyone
            stale.delete()
        logger.info("transfer suggestions tenant=%s pending=%s dropped=%s", tenant_id, len(result), len(by_pair))
        return result
