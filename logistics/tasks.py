"""Celery tasks of logistics: thin wrappers that take ids (tenant first) and call one service."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost: a job whose worker dies is delivered again (the claim in
# bulk_ship_run makes a second delivery of a live or finished job harmless)
@shared_task(time_limit=1800, soft_time_limit=1750, acks_late=True, reject_on_worker_lost=True)
def bulk_ship(tenant_id: int, job_id: int) -> dict:
    job = services.bulk_ship_run(tenant_id=tenant_id, job_id=job_id)
    return {"job": job.pk, "status": job.status, "done": job.done, "failed": job.failed}


@shared_task(bind=True, time_limit=120, soft_time_limit=110, acks_late=True, max_retries=8)
def cancel_order_waybills(self, tenant_id: int, order_id: int) -> list[int]:
    """A cancelled order's unshipped parcels give their numbers back (idempotent: a cancelled
    parcel is skipped); a carrier refusal is retried with back-off."""
    try:
        return services.waybills_cancel_for_order(tenant_id=tenant_id, order_id=order_id)
    except services.ShipmentError as exc:
        raise self.retry(exc=exc, countdown=min(3600, 60 * 2 ** self.request.retries))


@shared_task(time_limit=120, oms_system_scope=True)  # jobs of every tenant
def reap_stale_bulk_jobs() -> int:
    """Beat runs this every few minutes: jobs left "running" by a dead worker are queued again."""
    return len(services.bulk_ship_reap())


@shared_task(time_limit=120, oms_system_scope=True)  # shipments of every tenant
def dispatch_tracking_polls() -> int:
    """Beat runs this every few minutes: queue a poll for each shipment whose next_poll_at is due."""
    due = services.tracking_claim_due()
    for tenant_id, shipment_id in due:
        poll_shipment.delay(tenant_id, shipment_id)
    return len(due)


@shared_task(time_limit=90, soft_time_limit=80, acks_late=True)
def poll_shipment(tenant_id: int, shipment_id: int) -> str:
    return services.tracking_poll(tenant_id=tenant_id, shipment_id=shipment_id).status
