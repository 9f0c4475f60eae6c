"""Every domain signal of the system, declared in one place.

Apps send and receive these without importing each other, so dependencies stay one-way
(oms <- inventory <- orders <- logistics / channels; notifications listens). Never post_save.
Receivers that change data run inside the sender's transaction; anything that talks to the
network is scheduled with transaction.on_commit from a receiver.

Payloads (all keyword arguments, plain values, so they can be forwarded to Celery):

Every signal that moves stock (order_accepted, orders_accepted, order_released,
shipment_shipped, return_received) may also carry who caused it: actor_id (int | None, the
user) and actor_label (str: "user", "channel:taobao", "system", "import", ...); inventory writes
them on the ledger rows. Absent means the system.
"""

from django.dispatch import Signal

#: orders services, when a paid order enters or changes.
#: tenant_id: int, order_id: int,
#: lines: list[dict(line_id: int, sku_id: int, quantity: int)] -- mapped lines only.
#: Inventory reserves (a full or short reservation, never raises).
order_accepted = Signal()

#: orders bulk ingest, when a page of NEW paid orders enters at once. tenant_id: int,
#: orders: list[dict(order_id: int, lines: list[dict(line_id, sku_id, quantity)])], in the order
#: they should be served (urgent first, then oldest). Inventory reserves them all in one pass
#: (full or short per order, never raises).
orders_accepted = Signal()

#: orders services: cancel, split, merge, refund. tenant_id: int, order_id: int.
#: Inventory releases every active reservation of the order.
order_released = Signal()

#: orders services, inside the transaction that cancels an order before it shipped (by a person,
#: by the platform, or because every line was refunded). tenant_id: int, order_id: int,
#: reason: str. Logistics gives back the waybill numbers of its unshipped parcels (after commit,
#: in a task: a carrier call).
order_cancelled = Signal()

#: logistics services when a parcel leaves. tenant_id, shipment_id, order_id: int,
#: lines: list[dict(line_id, sku_id, quantity)], carrier_code: str, tracking_number: str.
#: Inventory consumes the reservation (on_hand and reserved both fall); channels confirm; notifications tell the buyer.
shipment_shipped = Signal()

#: orders services when returned goods are received. tenant_id, return_id: int,
#: warehouse_id: int, lines: list[dict(sku_id, quantity)]. Inventory restocks.
return_received = Signal()

#: logistics tracking. tenant_id, shipment_id: int, order_id: int, status: str.
shipment_status_changed = Signal()

#: inventory services, ONCE per transaction, on commit. tenant_id: int, sku_ids: list[int].
#: Channels push availability; inventory raises low-stock alerts.
stock_changed = Signal()

#: inventory, on commit, when a low-stock alert opens (available fell to or below a reorder
#: point; one alert per crossing, not one per order). tenant_id: int, alert_id: int, sku_id: int,
#: warehouse_id: int | None (None = the SKU over all warehouses), available: int, reorder_point: int.
#: Notifications tell the tenant's purchasing contacts.
low_stock_alert_raised = Signal()

ALL_SIGNALS = {
    "order_accepted": order_accepted,
    "orders_accepted": orders_accepted,
    "order_released": order_released,
    "order_cancelled": order_cancelled,
    "shipment_shipped": shipment_shipped,
    "return_received": return_received,
    "shipment_status_changed": shipment_status_changed,
    "stock_changed": stock_changed,
    "low_stock_alert_raised": low_stock_alert_raised,
}
