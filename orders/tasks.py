"""Celery tasks of orders: thin, ids in, one service call each, time limits set."""

from __future__ import annotations

import logging

from celery import shared_task

from oms.models import Tenant

from . import services

logger = logging.getLogger(__name__)


@shared_task(time_limit=300, soft_time_limit=280, acks_late=True)
def retry_held_for_stock(tenant_id: int, sku_ids: list[int]) -> int:
    """Stock of these SKUs changed: re-try orders held out of stock for them (urgent, oldest first)."""
    tried = services.orders_retry_stock(tenant_id=tenant_id, sku_ids=list(sku_ids))
    if tried:
        logger.info("stock re-try tenant=%s orders=%s", tenant_id, tried)
    return len(tried)


@shared_task(time_limit=120, soft_time_limit=110, acks_late=True, oms_system_scope=True)  # all tenants
def release_timed_holds() -> int:
    """Periodic: holds "until ..." whose time has come release themselves."""
    return services.holds_release_due()


@shared_task(time_limit=600, soft_time_limit=570, acks_late=True)
def allocate_tenant(tenant_id: int) -> dict:
    return services.orders_allocate_queue(tenant_id=tenant_id)


@shared_task(time_limit=60, soft_time_limit=50, oms_system_scope=True)  # one run per tenant
def dispatch_allocation() -> int:
    """Periodic: one allocation run per tenant that allocates automatically."""
    from .models import OrderSettings

    manual = set(OrderSettings.objects.filter(auto_allocate=False).values_list("tenant_id", flat=True))
    ids = [t for t in Tenant.objects.values_list("pk", flat=True) if t not in manual]
    for tenant_id in ids:
        allocate_tenant.delay(tenant_id)
    return len(ids)
