import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(time_limit=1800, soft_time_limit=1700, oms_system_scope=True)  # no tenant_id: all
def reconcile_stock(tenant_id: int | None = None) -> int:
    """Periodic: recompute levels from the ledger and report drift (never fix it silently)."""
    drifts = services.stock_reconcile(tenant_id=tenant_id)
    if drifts:
        logger.error("stock reconciliation found %d drifting levels", len(drifts))
    return len(drifts)


@shared_task(time_limit=600, soft_time_limit=540, oms_system_scope=True)  # no tenant_id: all
def suggest_transfers(tenant_id: int | None = None) -> int:
    """Periodic: propose transfers for every tenant (or one). Returns pending suggestions."""
    from oms.models import Tenant

    tenant_ids = [tenant_id] if tenant_id is not None else list(Tenant.objects.values_list("pk", flat=True))
    total = 0
    for tid in tenant_ids:
        total += len(services.transfer_suggest(tenant_id=tid))
    return total

