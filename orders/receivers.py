"""What orders do when other apps' domain signals fire."""

import functools

from django.db import transaction


def on_stock_changed(sender, *, tenant_id, sku_ids, **kwargs):
    """Stock arrived (or moved): re-try orders held out of stock for these SKUs, in a task
    after commit. Cheap check first, so ordinary stock changes enqueue nothing."""
    from .models import Hold, HoldReason

    if not Hold.objects.filter(tenant_id=tenant_id, reason=HoldReason.OUT_OF_STOCK, resolved_at=None).exists():
        return
    from . import tasks

    transaction.on_commit(functools.partial(tasks.retry_held_for_stock.delay, tenant_id, sorted(sku_ids)))
