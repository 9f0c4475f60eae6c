import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(time_limit=1800, soft_time_limit=1700)
def reconcile_stock(tenant_id: int | None = None) -> int:
    """Periodic: recompute levels from the ledger and report drift (never fix it silently)."""
    drifts = services.stock_reconcile(tenant_id=tenant_id)
    if drifts:
        logger.error("stock reconciliation found %d drifting levels", len(drifts))
    return len(drifts)
