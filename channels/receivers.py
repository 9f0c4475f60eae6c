"""What channels do when other apps' domain signals fire."""

import functools

from django.db import transaction


def on_stock_changed(sender, *, tenant_id, sku_ids, **kwargs):
    """Availability changed: schedule a coalesced push to every listing of these SKUs."""
    from . import services

    services.schedule_availability_push(tenant_id=tenant_id, sku_ids=list(sku_ids))


def on_shipment_shipped(sender, *, tenant_id, shipment_id, order_id, lines, carrier_code, tracking_number,
                        **kwargs):
    """Tell the platform, after commit, in a task (network never inside the transaction)."""
    from . import tasks

    transaction.on_commit(functools.partial(
        tasks.confirm_shipment.delay, tenant_id, order_id, shipment_id, carrier_code, tracking_number))
