from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("订单")

    def ready(self):
        from oms import signals

        from . import receivers

        signals.stock_changed.connect(receivers.on_stock_changed, dispatch_uid="orders.retry_held_for_stock")
