from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = _("库存")

    def ready(self):
        from oms import signals

        from . import receivers

        signals.order_accepted.connect(receivers.on_order_accepted, dispatch_uid="inventory.reserve")
        signals.orders_accepted.connect(receivers.on_orders_accepted, dispatch_uid="inventory.reserve_many")
        signals.order_released.connect(receivers.on_order_released, dispatch_uid="inventory.release")
        signals.shipment_shipped.connect(receivers.on_shipment_shipped, dispatch_uid="inventory.consume")
        signals.return_received.connect(receivers.on_return_received, dispatch_uid="inventory.restock")
        signals.stock_changed.connect(receivers.on_stock_changed, dispatch_uid="inventory.low_stock")
