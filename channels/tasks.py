"""Celery tasks of channels: thin wrappers that load ids and call one service."""

import logging

from celery import shared_task

from . import services
from .adapters.base import AdapterError

logger = logging.getLogger(__name__)


@shared_task(time_limit=60, oms_system_scope=True)  # every shop of every tenant
def dispatch_due_pulls() -> int:
    """Beat runs this every minute: enqueue a pull for each enabled shop whose interval passed."""
    due = services.shops_due()
    for tenant_id, shop_id in due:
        pull_shop.delay(tenant_id, shop_id)
    return len(due)


@shared_task(time_limit=1800, soft_time_limit=1750)
def pull_shop(tenant_id: int, shop_id: int) -> dict:
    try:
        run = services.shop_pull(tenant_id=tenant_id, shop_id=shop_id)
    except services.ShopBusy:
        logger.info("tenant=%s shop=%s pull skipped: another pull is running", tenant_id, shop_id)
        return {"skipped": True}
    return {"run": run.pk, "status": run.status, "fetched": run.fetched, "created": run.created}


@shared_task(time_limit=120, oms_system_scope=True)  # runs of every tenant
def reap_stale_pulls() -> int:
    """Beat runs this every few minutes: pull runs left "running" by a dead worker are marked failed."""
    return len(services.pull_runs_reap())


@shared_task(bind=True, max_retries=8, time_limit=120, acks_late=True)
def push_listing(self, tenant_id: int, listing_id: int, version: int | None = None) -> int | None:
    try:
        call = services.listing_push(tenant_id=tenant_id, listing_id=listing_id, version=version,
                                     attempt=self.request.retries + 1)
    except services.PushSuperseded:
        return None
    except AdapterError as exc:
        if not exc.retryable:
            return None
        raise self.retry(exc=exc, countdown=min(600, 2 ** (self.request.retries + 1)))
    return call.quantity


@shared_task(bind=True, max_retries=10, time_limit=120, acks_late=True)
def confirm_shipment(self, tenant_id: int, order_id: int, shipment_id: int, carrier_code: str,
                     tracking_number: str) -> bool:
    try:
        calls = services.shipment_confirm(tenant_id=tenant_id, order_id=order_id, shipment_id=shipment_id,
                                          carrier_code=carrier_code, tracking_number=tracking_number,
                                          attempt=self.request.retries + 1)
    except AdapterError as exc:
        if not exc.retryable:
            return False
        raise self.retry(exc=exc, countdown=min(1800, 5 * 2 ** self.request.retries))
    return all(c.ok for c in calls)
