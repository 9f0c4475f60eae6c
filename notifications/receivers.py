"""What notifications do when other apps' domain signals fire. Runs inside the sender's
transaction: the outbox row commits with the event, the send happens after commit in a task.
A notification problem never breaks the sender (a shipment is not rolled back for an SMS)."""

import logging

from . import services

logger = logging.getLogger(__name__)


def on_shipment_shipped(sender, *, tenant_id, shipment_id, order_id, carrier_code="", tracking_number="", **kwargs):
    try:
        services.notify_shipment_event(tenant_id=tenant_id, event=services.Event.SHIPPED, shipment_id=shipment_id,
                                       order_id=order_id, carrier_code=carrier_code, tracking_number=tracking_number)
    except Exception:
        logger.exception("tenant=%s shipment=%s shipped notification not queued", tenant_id, shipment_id)


def on_shipment_status_changed(sender, *, tenant_id, shipment_id, order_id, status, **kwargs):
    event = services.STATUS_EVENTS.get(str(status))
    if event is None:
        return
    try:
        services.notify_shipment_event(tenant_id=tenant_id, event=event, shipment_id=shipment_id, order_id=order_id)
    except Exception:
        logger.exception("tenant=%s shipment=%s %s notification not queued", tenant_id, shipment_id, event)


def on_low_stock_alert_raised(sender, *, tenant_id, alert_id, sku_id, warehouse_id=None, available=0,
                              reorder_point=0, **kwargs):
    try:
        services.notify_low_stock(tenant_id=tenant_id, alert_id=alert_id, sku_id=sku_id, warehouse_id=warehouse_id,
                                  available=available, reorder_point=reorder_point)
    except Exception:
        logger.exception("tenant=%s low-stock alert=%s notification not queued", tenant_id, alert_id)
