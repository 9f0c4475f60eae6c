"""Read queries on stock that other apps and views share."""

from __future__ import annotations

from django.db.models import F, Sum

from .models import Reservation, ReservationStatus, StockLevel


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
