"""Read queries of logistics that views, tasks and services share."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Min, Q
from django.utils import timezone

from inventory.models import Reservation, ReservationStatus
from oms.privacy import mask_name, mask_phone  # noqa: F401 (the masks of this module's callers)
from orders.models import Order

from .models import (
    BulkShipJob,
    CarrierService,
    LogisticsSettings,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)

ACTIVE_STATUSES = (ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY,
                   ShipmentStatus.PROBLEM)
FINAL_STATUSES = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.CANCELLED)
SHIPPABLE_ORDER_STATUSES = ("allocated", "picking")
_PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")


def province_key(name: str) -> str:
    """"新疆维吾尔自治区" / "新疆" -> "新疆"; "北京市" -> "北京": compare provinces by this."""
    name = (name or "").strip()
    for suffix in _PROVINCE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def logistics_settings(*, tenant_id: int) -> LogisticsSettings:
    """The tenant's settings row, or the defaults (unsaved) when the tenant has none yet."""
    return LogisticsSettings.objects.filter(tenant_id=tenant_id).first() or LogisticsSettings(tenant_id=tenant_id)


def shippable_orders(*, tenant_id: int):
    """Orders 一键发货 may take: allocated/picking, a warehouse, active reservations, no shortage,
    and no live parcel that already left."""
    active = Reservation.objects.filter(tenant_id=tenant_id, status=ReservationStatus.ACTIVE).values("order_id")
    short = Reservation.objects.filter(tenant_id=tenant_id, status=ReservationStatus.SHORT).values("order_id")
    left = Shipment.objects.filter(tenant_id=tenant_id).exclude(
        status__in=[ShipmentStatus.CREATED, ShipmentStatus.LABELLED, ShipmentStatus.CANCELLED]).values("order_id")
    return (Order.objects.filter(tenant_id=tenant_id, status__in=SHIPPABLE_ORDER_STATUSES, warehouse__isnull=False,
                                 pk__in=active)
            .exclude(pk__in=short).exclude(pk__in=left).select_related("shop", "warehouse").order_by("paid_at", "id"))


def shipments_due(*, now: datetime | None = None, limit: int = 500) -> list[tuple[int, int]]:
    now = now or timezone.now()
    return list(Shipment.objects.filter(next_poll_at__lte=now, status__in=ACTIVE_STATUSES)
                .exclude(tracking_number="").order_by("next_poll_at").values_list("tenant_id", "id")[:limit])


def bulk_job(*, tenant_id: int, job_id: int) -> BulkShipJob:
    return BulkShipJob.objects.get(tenant_id=tenant_id, pk=job_id)


# --- carrier scorecards -------------------------------------------------------------------
@dataclass
class Scorecard:
    carrier_id: int
    carrier_name: str
    province: str
    shipments: int
    delivered: int
    median_hours: float | None
    on_time_rate: float | None
    problem_rate: float
    return_rate: float

    @property
    def service_score(self) -> float:
        """Higher is better: on time, few problems, few returns."""
        return (self.on_time_rate or 0.0) - self.problem_rate - self.return_rate


def carrier_scorecards(*, tenant_id: int, days: int | None = None, now: datetime | None = None,
                       province: str | None = None) -> list[Scorecard]:
    """Per carrier and destination province, over shipments that left in the last `days`:
    median hours from pick-up (first tracking event) to delivery, on-time rate against the
    service's promised hours, problem rate and return rate."""
    now = now or timezone.now()
    days = days or logistics_settings(tenant_id=tenant_id).scorecard_days
    qs = Shipment.objects.filter(tenant_id=tenant_id, carrier__isnull=False, shipped_at__gte=now - timedelta(days=days))
    rows = list(qs.values("id", "carrier_id", "carrier__name", "service", "status", "shipped_at", "delivered_at",
                          "order__receiver_province"))
    if province:
        key = province_key(province)
        rows = [r for r in rows if province_key(r["order__receiver_province"]) == key]
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    first_event = dict(TrackingEvent.objects.filter(tenant_id=tenant_id, shipment_id__in=ids)
                       .values("shipment_id").annotate(t=Min("occurred_at")).values_list("shipment_id", "t"))
    problems = set(TrackingEvent.objects.filter(tenant_id=tenant_id, shipment_id__in=ids)
                   .filter(Q(status=ShipmentStatus.PROBLEM) | Q(status=ShipmentStatus.RETURNED))
                   .values_list("shipment_id", flat=True))
    promises: dict[tuple[int, str], int] = {}
    defaults: dict[int, int] = {}
    for s in CarrierService.objects.filter(tenant_id=tenant_id):
        promises[(s.carrier_id, s.code)] = s.promised_hours
        if s.is_default or s.carrier_id not in defaults:
            defaults[s.carrier_id] = s.promised_hours
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["carrier_id"], province_key(r["order__receiver_province"])), []).append(r)
    out = []
    for (carrier_id, prov), items in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        hours, on_time, judged = [], 0, 0
        for r in items:
            if r["status"] != ShipmentStatus.DELIVERED or not r["delivered_at"]:
                continue
            start = first_event.get(r["id"]) or r["shipped_at"]
            h = max(0.0, (r["delivered_at"] - start).total_seconds() / 3600)
            hours.append(h)
            promise = promises.get((carrier_id, r["service"])) or defaults.get(carrier_id)
            if promise:
                judged += 1
                on_time += h <= promise
        n = len(items)
        out.append(Scorecard(
            carrier_id=carrier_id, carrier_name=items[0]["carrier__name"], province=prov, shipments=n,
            delivered=len(hours), median_hours=round(statistics.median(hours), 1) if hours else None,
            on_time_rate=(on_time / judged) if judged else None,
            problem_rate=sum(1 for r in items if r["id"] in problems and r["status"] != ShipmentStatus.RETURNED) / n,
            return_rate=sum(1 for r in items if r["status"] == ShipmentStatus.RETURNED) / n,
        ))
    return out


def tracking_timeline(*, tenant_id: int, shipment_id: int) -> list[TrackingEvent]:
    return list(TrackingEvent.objects.filter(tenant_id=tenant_id, shipment_id=shipment_id).order_by("-occurred_at", "-id"))


# --- public tracking lookup -----------------------------------------------------------------
def public_order_lookup(*, number: str, phone_last4: str) -> Order | None:
    """Across tenants (the page is public): by platform order id or our number "OMS00000123";
    only an order whose receiver phone ends in these 4 digits counts."""
    number = (number or "").strip()
    digits = (phone_last4 or "").strip()
    if not number or len(digits) != 4 or not digits.isdigit():
        return None
    q = Q(platform_order_id=number)
    upper = number.upper()
    if upper.startswith("OMS") and upper[3:].isdigit():
        q |= Q(pk=int(upper[3:]))
    for order in Order.objects.filter(q).order_by("-placed_at", "-id")[:20]:
        phone = "".join(ch for ch in order.receiver_phone if ch.isdigit())
        if len(phone) >= 4 and phone[-4:] == digits:
            return order
    return None
