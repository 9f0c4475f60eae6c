from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("通知")

    def ready(self):
        from oms import signals

        from . import receivers

        signals.shipment_shipped.connect(receivers.on_shipment_shipped, dispatch_uid="notifications.shipped")
        signals.shipment_status_changed.connect(receivers.on_shipment_status_changed,
                                                dispatch_uid="notifications.shipment_status")
        signals.low_stock_alert_raised.connect(receivers.on_low_stock_alert_raised,
                                               dispatch_uid="notifications.low_stock")
