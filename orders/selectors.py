from __future__ import annotations

from .models import Order


def order_get(*, tenant, pk) -> Order:
    """One order of the tenant; another tenant's id raises Order.DoesNotExist (-> 404)."""
    return Order.objects.for_tenant(tenant).select_related("shop", "warehouse").get(pk=pk)


def order_list(*, tenant):
    return Order.objects.for_tenant(tenant).select_related("shop").order_by("-urgent", "paid_at", "id")
