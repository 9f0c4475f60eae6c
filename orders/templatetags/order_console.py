"""{% order_extras order %}: what the order page shows beyond lines and holds -- the parcels
with their tracking timeline, the messages sent to the buyer, the raw platform payloads, and
the stock of each line's SKU per warehouse. Read-only; every query is scoped to the order's
tenant. Other apps' models are looked up by name (orders sits below logistics / channels /
notifications), so this stays a read-only view helper."""

from __future__ import annotations

import json

from django import template
from django.apps import apps
from django.db.models import Prefetch

from inventory.models import SkuComponent, StockLevel, Warehouse

from ..selectors import order_platform_refs

register = template.Library()


def order_extras_data(order) -> dict:
    tid = order.tenant_id
    Shipment = apps.get_model("logistics", "Shipment")
    TrackingEvent = apps.get_model("logistics", "TrackingEvent")
    Notification = apps.get_model("notifications", "Notification")
    RawOrder = apps.get_model("channels", "RawOrder")
    shipments = list(Shipment.objects.filter(tenant_id=tid, order_id=order.pk).select_related("carrier")
                     .prefetch_related(Prefetch("tracking_events", queryset=TrackingEvent.objects.filter(tenant_id=tid)
                                                .order_by("-occurred_at", "-id"))).order_by("pk"))
    notifications = list(Notification.objects.filter(tenant_id=tid, order_id=order.pk).order_by("-created_at", "-id")[:50])
    refs = order_platform_refs(order=order)
    raws = []
    for shop_id, pid in refs[:20]:
        for raw in RawOrder.objects.filter(tenant_id=tid, shop_id=shop_id, platform_order_id=pid).order_by("-received_at")[:5]:
            raws.append({"raw": raw, "pretty": json.dumps(raw.payload, ensure_ascii=False, indent=2, sort_keys=True)})
    lines = list(order.lines.filter(tenant_id=tid).select_related("sku").order_by("pk"))
    sku_ids = {ln.sku_id for ln in lines if ln.sku_id}
    components: dict[int, list] = {}
    for c in SkuComponent.objects.filter(tenant_id=tid, combo_id__in=sku_ids).select_related("component"):
        components.setdefault(c.combo_id, []).append(c)
    wanted = sku_ids | {c.component_id for cs in components.values() for c in cs}
    warehouses = list(Warehouse.objects.filter(tenant_id=tid, active=True).order_by("priority", "id"))
    levels = {(lv.sku_id, lv.warehouse_id): lv for lv in StockLevel.objects.filter(tenant_id=tid, sku_id__in=wanted)}
    stock_rows = []
    for ln in lines:
        if not ln.sku_id:
            continue
        skus = [(ln.sku, 1)] if ln.sku_id not in components else [(c.component, c.quantity) for c in components[ln.sku_id]]
        for sku, per in skus:
            cells = []
            for w in warehouses:
                lv = levels.get((sku.pk, w.pk))
                cells.append({"on_hand": lv.on_hand if lv else 0, "reserved": lv.reserved if lv else 0,
                              "available": (lv.on_hand - lv.reserved) if lv else 0})
            stock_rows.append({"line": ln, "sku": sku, "per": per, "component": sku.pk != ln.sku_id, "cells": cells})
    return {"shipments": shipments, "notifications": notifications, "raws": raws, "warehouses": warehouses,
            "stock_rows": stock_rows}


@register.inclusion_tag("console/_order_extras_body.html")
def order_extras(order):
    return {"order": order, **order_extras_data(order)}
