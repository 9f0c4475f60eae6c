"""One look at the whole fan-out: every receiver connected to every domain signal."""

import weakref

from oms import signals


def _receivers(signal):
    out = []
    for entry in signal.receivers:
        ref = entry[1]
        fn = ref() if isinstance(ref, weakref.ReferenceType) else ref
        out.append(f"{fn.__module__}.{fn.__qualname__}")
    return sorted(out)


def test_the_complete_list_of_connected_receivers():
    connected = {name: _receivers(sig) for name, sig in signals.ALL_SIGNALS.items()}
    assert connected == {
        "order_accepted": ["inventory.receivers.on_order_accepted"],
        "orders_accepted": ["inventory.receivers.on_orders_accepted"],
        "order_released": ["inventory.receivers.on_order_released"],
        "order_cancelled": ["logistics.receivers.on_order_cancelled"],
        "shipment_shipped": ["channels.receivers.on_shipment_shipped", "inventory.receivers.on_shipment_shipped",
                             "notifications.receivers.on_shipment_shipped"],
        "return_received": ["inventory.receivers.on_return_received"],
        "shipment_status_changed": ["notifications.receivers.on_shipment_status_changed"],
        "stock_changed": ["channels.receivers.on_stock_changed", "inventory.receivers.on_stock_changed",
                          "orders.receivers.on_stock_changed"],
        "low_stock_alert_raised": ["notifications.receivers.on_low_stock_alert_raised"],
    }
