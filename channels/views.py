"""Channel pages. The SKU availability page lives here because it shows what each shop is told
(channels), next to the stock it is computed from (inventory sits below channels)."""

from __future__ import annotations

from django.http import Http404
from django.views.generic import TemplateView

from inventory import selectors as stock_selectors
from inventory.models import Sku
from oms.roles import Area
from oms.views_base import TenantViewMixin

from . import services
from .models import Listing, Shop


class SkuAvailabilityView(TenantViewMixin, TemplateView):
    """/channels/skus/<sku_id>/: per shop the quantity pushed and how it is made up; per warehouse
    on hand / reserved / available / in transit; open low-stock alerts; recent ledger rows."""

    area = Area.CHANNELS
    template_name = "channels/sku_availability.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        tenant_id = self.tenant.pk
        try:
            sku = stock_selectors.sku_get(tenant_id=tenant_id, pk=int(kwargs["sku_id"]))
        except (Sku.DoesNotExist, ValueError):
            raise Http404
        listings: dict[int, list[Listing]] = {}
        for ln in Listing.objects.filter(tenant_id=tenant_id, sku_id=sku.pk).order_by("id"):
            listings.setdefault(ln.shop_id, []).append(ln)
        shops = [{"shop": shop, "availability": services.sku_channel_availability(shop=shop, sku_id=sku.pk),
                  "listings": listings.get(shop.pk, [])}
                 for shop in Shop.objects.filter(tenant_id=tenant_id).order_by("name", "id")]
        stock = stock_selectors.sku_stock(tenant_id=tenant_id, sku_id=sku.pk)
        ctx.update(
            sku=sku, shops=shops, stock=stock,
            totals={"on_hand": sum(s.on_hand for s in stock), "reserved": sum(s.reserved for s in stock),
                    "available": sum(s.available for s in stock), "in_transit": sum(s.in_transit for s in stock)},
            components=list(sku.components.select_related("component")) if sku.is_combo else [],
            alerts=list(stock_selectors.sku_open_alerts(tenant_id=tenant_id, sku_id=sku.pk)),
            movements=list(stock_selectors.sku_movements(tenant_id=tenant_id, sku_id=sku.pk)),
        )
        return ctx
