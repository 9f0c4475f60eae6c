"""What logistics does when other apps' domain signals fire (inside the sender's transaction)."""

import functools

from django.db import transaction


def on_order_cancelled(sender, *, tenant_id, order_id, **kwargs):
    """An order was cancelled before it shipped: if it has an unshipped parcel, give its waybill
    number back to the carrier, after commit, in a task (a carrier call)."""
    from .models import Shipment, ShipmentStatus

    if not Shipment.objects.filter(tenant_id=tenant_id, order_id=order_id,
                                   status__in=[ShipmentStatus.CREATED, ShipmentStatus.LABELLED]).exists():
        return
    from . import tasks

    transaction.on_commit(functools.partial(tasks.cancel_order_waybills.delay, tenant_id, order_id))
