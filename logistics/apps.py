from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogisticsConfig(AppConfig):
    name = "logistics"
    verbose_name = _("物流")

    def ready(self):
        from oms import signals

        from . import receivers

        signals.order_cancelled.connect(receivers.on_order_cancelled, dispatch_uid="logistics.cancel_waybills")
