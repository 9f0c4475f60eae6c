from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    label = "channels"
    verbose_name = _("店铺与渠道")

    def ready(self):
        from oms import signals

        from . import receivers

        signals.stock_changed.connect(receivers.on_stock_changed, dispatch_uid="channels.push_availability")
        signals.shipment_shipped.connect(receivers.on_shipment_shipped, dispatch_uid="channels.confirm_shipment")
