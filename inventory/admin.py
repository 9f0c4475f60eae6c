from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from oms.admin_base import ReadOnlyTenantAdmin, TenantAdmin, TenantTabularInline
from oms.roles import Area

from .models import Reservation, Sku, SkuComponent, StockLevel, StockMovement, Warehouse


class SkuComponentInline(TenantTabularInline):
    model = SkuComponent
    fk_name = "combo"
    area = Area.INVENTORY


@admin.register(Sku)
class SkuAdmin(TenantAdmin):
    area = Area.INVENTORY
    list_display = ("code", "name", "is_combo", "reference_price", "weight_grams", "active")
    list_filter = ("is_combo", "active")
    search_fields = ("code", "name", "barcode")
    inlines = [SkuComponentInline]


@admin.register(Warehouse)
class WarehouseAdmin(TenantAdmin):
    area = Area.INVENTORY
    list_display = ("code", "name", "province", "city", "priority", "active")
    search_fields = ("code", "name", "province")


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyTenantAdmin):
    """Levels change only through stock services (so the ledger stays complete)."""

    area = Area.INVENTORY
    list_display = ("sku", "warehouse", "on_hand", "reserved", "available_display", "bin_location", "updated_at")
    list_filter = ("warehouse",)
    search_fields = ("sku__code", "sku__name")
    list_select_related = ("sku", "warehouse")

    @admin.display(description=_("可用"))
    def available_display(self, obj):
        return obj.available


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyTenantAdmin):
    area = Area.INVENTORY
    list_display = ("created_at", "sku", "warehouse", "kind", "on_hand_delta", "reserved_delta", "reference")
    list_filter = ("kind", "warehouse")
    search_fields = ("sku__code", "reference")
    list_select_related = ("sku", "warehouse")


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyTenantAdmin):
    area = Area.INVENTORY
    list_display = ("order_id", "line_id", "sku", "warehouse", "quantity", "status", "created_at")
    list_filter = ("status", "warehouse")
    search_fields = ("sku__code",)
    list_select_related = ("sku", "warehouse")
