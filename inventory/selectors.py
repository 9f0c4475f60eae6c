"""Read queries on stock that other apps and views share."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.apps import apps
from django.db.models import F, Sum
from django.utils import timezone

from .models import (
    LowStockAlert,
    MovementKind,
    ReorderPoint,
    Reservation,
    ReservationStatus,
    Sku,
    StockLevel,
    StockMovement,
    TransferLine,
    TransferOrder,
    TransferStatus,
    Warehouse,
)


def order_shortages(*, tenant_id: int, order_id: int) -> list[tuple[int, int]]:
    """[(sku_id, missing quantity)] of an order's current reservation; empty when complete."""
    return list(
        Reservation.objects.filter(tenant_id=tenant_id, order_id=order_id, status=ReservationStatus.SHORT)
        .values("sku_id").annotate(q=Sum("quantity")).values_list("sku_id", "q")
    )


def order_reserved_units(*, tenant_id: int, order_id: int) -> int:
    return Reservation.objects.filter(
        tenant_id=tenant_id, order_id=order_id, status=ReservationStatus.ACTIVE
    ).aggregate(s=Sum("quantity"))["s"] or 0


def sku_available(*, tenant_id: int, sku_id: int, warehouse_ids: list[int] | None = None) -> int:
    qs = StockLevel.objects.filter(tenant_id=tenant_id, sku_id=sku_id)
    if warehouse_ids is not None:
        qs = qs.filter(warehouse_id__in=warehouse_ids)
    return qs.aggregate(a=Sum(F("on_hand") - F("reserved")))["a"] or 0


# --- levels, sales, transit ---------------------------------------------------------------------
def available_by_level(*, tenant_id: int, sku_ids: list[int] | None = None, active_only: bool = True
                       ) -> dict[tuple[int, int], int]:
    """{(sku_id, warehouse_id): on_hand - reserved} for the tenant's (active) warehouses."""
    qs = StockLevel.objects.filter(tenant_id=tenant_id)
    if sku_ids is not None:
        qs = qs.filter(sku_id__in=sku_ids)
    if active_only:
        qs = qs.filter(warehouse__active=True)
    return {(s, w): a for s, w, a in qs.annotate(a=F("on_hand") - F("reserved")).values_list("sku_id", "warehouse_id", "a")}


def shipped_units(*, tenant_id: int, days: int, sku_ids: list[int] | None = None, now=None
                  ) -> dict[tuple[int, int], int]:
    """{(sku_id, warehouse_id): units shipped in the last `days` days}, from the ledger (kind ship)."""
    since = (now or timezone.now()) - timedelta(days=days)
    qs = StockMovement.objects.filter(tenant_id=tenant_id, kind=MovementKind.SHIP, created_at__gte=since)
    if sku_ids is not None:
        qs = qs.filter(sku_id__in=sku_ids)
    return {(r["sku_id"], r["warehouse_id"]): -(r["q"] or 0)
            for r in qs.values("sku_id", "warehouse_id").annotate(q=Sum("on_hand_delta"))}


def in_transit(*, tenant_id: int, sku_ids: list[int] | None = None) -> dict[tuple[int, int], int]:
    """{(sku_id, destination warehouse id): units shipped by a transfer and not yet arrived}."""
    qs = TransferLine.objects.filter(
        tenant_id=tenant_id, transfer__status__in=[TransferStatus.SHIPPED, TransferStatus.PARTIALLY_RECEIVED])
    if sku_ids is not None:
        qs = qs.filter(sku_id__in=sku_ids)
    out: dict[tuple[int, int], int] = defaultdict(int)
    for sid, wid, left in qs.annotate(left=F("quantity") - F("received_quantity") - F("lost_quantity")).values_list(
            "sku_id", "transfer__destination_id", "left"):
        out[(sid, wid)] += left
    return dict(out)


def order_provinces(*, tenant_id: int, order_ids: list[int]) -> dict[int, str]:
    """{order_id: receiver province}. Orders sit above inventory, so the model is looked up by
    name (a read, no import); reservations carry only the order id."""
    if not order_ids:
        return {}
    order_model = apps.get_model("orders", "Order")
    return dict(order_model.objects.filter(tenant_id=tenant_id, pk__in=order_ids)
                .values_list("pk", "receiver_province"))


def region_warehouse(warehouses: list[Warehouse], province: str) -> int | None:
    """The first warehouse (by priority) whose regions contain the province."""
    for w in warehouses:
        if province and province in (w.regions or []):
            return w.pk
    return None


def short_demand_by_warehouse(*, tenant_id: int, warehouses: list[Warehouse]) -> dict[tuple[int, int], int]:
    """{(sku_id, warehouse_id): units short} over open orders (short reservations), each order
    counted for the warehouse whose regions contain its receiver province."""
    rows = list(Reservation.objects.filter(tenant_id=tenant_id, status=ReservationStatus.SHORT)
                .values_list("order_id", "sku_id", "quantity"))
    provinces = order_provinces(tenant_id=tenant_id, order_ids=sorted({r[0] for r in rows}))
    out: dict[tuple[int, int], int] = defaultdict(int)
    for order_id, sku_id, qty in rows:
        wid = region_warehouse(warehouses, provinces.get(order_id, ""))
        if wid is not None:
            out[(sku_id, wid)] += qty
    return dict(out)


def cross_region_demand(*, tenant_id: int, warehouses: list[Warehouse]) -> dict[tuple[int, int], int]:
    """{(sku_id, region warehouse id): units} that ALLOCATED orders of a warehouse's regions hold
    in OTHER warehouses: the allocation had to ship them cross-region because the region's
    warehouse could not fill them -- stock that warehouse should have had. (Before allocation a
    reservation's warehouse is provisional and says nothing.)"""
    rows = list(Reservation.objects.filter(tenant_id=tenant_id, status=ReservationStatus.ACTIVE)
                .values_list("order_id", "sku_id", "warehouse_id", "quantity"))
    order_model = apps.get_model("orders", "Order")
    provinces = dict(order_model.objects.filter(
        tenant_id=tenant_id, pk__in=sorted({r[0] for r in rows}), status__in=["allocated", "picking"])
        .values_list("pk", "receiver_province"))
    out: dict[tuple[int, int], int] = defaultdict(int)
    for order_id, sku_id, warehouse_id, qty in rows:
        if order_id not in provinces:
            continue
        wid = region_warehouse(warehouses, provinces[order_id])
        if wid is not None and wid != warehouse_id:
            out[(sku_id, wid)] += qty
    return dict(out)


# --- low stock --------------------------------------------------------------------------------
COVER_WINDOW_DAYS = 30


@dataclass
class LowStockRow:
    alert: LowStockAlert
    available: int
    shipped_30d: int

    @property
    def daily_sales(self) -> Decimal:
        return (Decimal(self.shipped_30d) / COVER_WINDOW_DAYS).quantize(Decimal("0.01"))

    @property
    def days_of_cover(self) -> Decimal | None:
        """Days the available stock lasts at the last 30 days' pace; None without sales."""
        if self.shipped_30d <= 0:
            return None
        return (Decimal(max(self.available, 0)) * COVER_WINDOW_DAYS / self.shipped_30d).quantize(Decimal("0.1"))


def low_stock_rows(*, tenant_id: int, include_cleared: bool = False, now=None) -> list[LowStockRow]:
    """Open low-stock alerts with the current available stock and days of cover."""
    alerts = LowStockAlert.objects.filter(tenant_id=tenant_id).select_related("sku", "warehouse")
    if not include_cleared:
        alerts = alerts.filter(cleared_at=None)
    alerts = list(alerts.order_by("-raised_at", "-id")[:500])
    sku_ids = sorted({a.sku_id for a in alerts})
    avail = available_by_level(tenant_id=tenant_id, sku_ids=sku_ids)
    shipped = shipped_units(tenant_id=tenant_id, days=COVER_WINDOW_DAYS, sku_ids=sku_ids, now=now)
    rows = []
    for a in alerts:
        if a.warehouse_id is None:
            av = sum(q for (s, _w), q in avail.items() if s == a.sku_id)
            sh = sum(q for (s, _w), q in shipped.items() if s == a.sku_id)
        else:
            av = avail.get((a.sku_id, a.warehouse_id), 0)
            sh = shipped.get((a.sku_id, a.warehouse_id), 0)
        rows.append(LowStockRow(a, av, sh))
    rows.sort(key=lambda r: (r.days_of_cover is None, r.days_of_cover or 0, r.available))
    return rows


# --- one SKU --------------------------------------------------------------------------------------
@dataclass
class WarehouseStock:
    warehouse: Warehouse
    on_hand: int
    reserved: int
    in_transit: int
    reorder_point: int | None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def sku_get(*, tenant_id: int, pk) -> Sku:
    """One SKU of the tenant; another tenant's id raises Sku.DoesNotExist (-> 404)."""
    return Sku.objects.filter(tenant_id=tenant_id).get(pk=pk)


def sku_stock(*, tenant_id: int, sku_id: int) -> list[WarehouseStock]:
    """Per warehouse (every warehouse of the tenant, active first): on hand, reserved, in transit."""
    levels = {lv.warehouse_id: lv for lv in StockLevel.objects.filter(tenant_id=tenant_id, sku_id=sku_id)}
    transit = {w: q for (_s, w), q in in_transit(tenant_id=tenant_id, sku_ids=[sku_id]).items()}
    points = dict(ReorderPoint.objects.filter(tenant_id=tenant_id, sku_id=sku_id, warehouse__isnull=False)
                  .values_list("warehouse_id", "reorder_point"))
    out = []
    for w in Warehouse.objects.filter(tenant_id=tenant_id).order_by("-active", "priority", "id"):
        lv = levels.get(w.pk)
        if lv is None and not w.active and not transit.get(w.pk):
            continue
        out.append(WarehouseStock(w, lv.on_hand if lv else 0, lv.reserved if lv else 0, transit.get(w.pk, 0),
                                  points.get(w.pk)))
    return out


def sku_movements(*, tenant_id: int, sku_id: int, limit: int = 30):
    return (StockMovement.objects.filter(tenant_id=tenant_id, sku_id=sku_id).select_related("warehouse", "actor")
            .order_by("-created_at", "-id")[:limit])


def sku_open_alerts(*, tenant_id: int, sku_id: int):
    return LowStockAlert.objects.filter(tenant_id=tenant_id, sku_id=sku_id, cleared_at=None).select_related("warehouse")


# --- transfers ------------------------------------------------------------------------------------
def transfer_list(*, tenant_id: int, status: str | None = None, suggested: bool | None = None):
    qs = TransferOrder.objects.filter(tenant_id=tenant_id).select_related("source", "destination") \
        .annotate(units=Sum("lines__quantity"), received_units=Sum("lines__received_quantity"))
    if status:
        qs = qs.filter(status=status)
    if suggested is not None:
        qs = qs.filter(suggested=suggested)
    return qs.order_by("-id")


def transfer_get(*, tenant_id: int, pk) -> TransferOrder:
    """One transfer of the tenant; another tenant's id raises TransferOrder.DoesNotExist (-> 404)."""
    return TransferOrder.objects.filter(tenant_id=tenant_id).select_related("source", "destination").get(pk=pk)


def transfer_lines(*, transfer: TransferOrder):
    return transfer.lines.select_related("sku").order_by("sku__code")


# --- export -----------------------------------------------------------------------------------
def reorder_points_by_level(*, tenant_id: int) -> dict[tuple[int, int], int]:
    """{(warehouse_id, sku_id): reorder point} of the per-warehouse reorder points."""
    return {(w, s): p for w, s, p in ReorderPoint.objects.filter(tenant_id=tenant_id, warehouse__isnull=False)
            .values_list("warehouse_id", "sku_id", "reorder_point")}


def orders_shortages(*, tenant_id: int, order_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """{order_id: [(sku_id, missing quantity)]} for the orders whose reservation came back short."""
    out: dict[int, list[tuple[int, int]]] = {}
    for order_id, sku_id, qty in (Reservation.objects.filter(tenant_id=tenant_id, order_id__in=order_ids,
                                                              status=ReservationStatus.SHORT)
                                  .values("order_id", "sku_id").annotate(q=Sum("quantity"))
                                  .values_list("order_id", "sku_id", "q")):
        out.setdefault(order_id, []).append((sku_id, qty))
    return out
