from django.contrib import admin

from oms.admin_base import ReadOnlyTenantAdmin, TenantAdmin, TenantTabularInline
from oms.roles import Area

from .models import Carrier, CarrierRule, Shipment, ShipmentLine, TrackingEvent


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    """A shared reference table: every staff user may read it, only operators change it."""

    list_display = ("code", "name", "kuaidi100_code", "cainiao_code")

    def has_module_permission(self, request):
        return request.user.is_superuser or getattr(request, "tenant", None) is not None

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    has_add_permission = has_delete_permission = has_change_permission


@admin.register(CarrierRule)
class CarrierRuleAdmin(TenantAdmin):
    area = Area.LOGISTICS
    list_display = ("priority", "name", "carrier", "service", "enabled")
    list_editable = ()


class ShipmentLineInline(TenantTabularInline):
    model = ShipmentLine
    area = Area.LOGISTICS
    readonly_fields = ("order_line", "quantity")
    can_delete = False


class TrackingEventInline(TenantTabularInline):
    model = TrackingEvent
    area = Area.LOGISTICS
    readonly_fields = ("occurred_at", "status", "description", "location")
    can_delete = False


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyTenantAdmin):
    area = Area.LOGISTICS
    list_display = ("tracking_number", "order", "carrier", "status", "shipped_at", "delivered_at")
    list_filter = ("status", "carrier")
    search_fields = ("tracking_number", "order__platform_order_id")
    list_select_related = ("order", "carrier")
    inlines = [ShipmentLineInline, TrackingEventInline]
