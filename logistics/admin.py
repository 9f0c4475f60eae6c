from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from oms.admin_base import ReadOnlyTenantAdmin, TenantAdmin, TenantTabularInline
from oms.crypto import mask
from oms.roles import Area

from . import services
from .models import (
    BulkShipJob,
    Carrier,
    CarrierAccount,
    CarrierRate,
    CarrierRule,
    CarrierService,
    LogisticsSettings,
    Shipment,
    ShipmentLine,
    TrackingEvent,
)


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
    list_display = ("priority", "id", "name", "strategy", "carrier", "service", "enabled")
    list_display_links = ("name",)
    list_filter = ("enabled", "strategy", "carrier")
    fieldsets = (
        (None, {"fields": ("name", "priority", "enabled")}),
        (_("条件（留空表示不限）"), {"fields": ("urgent", "buyer_express_keywords", "provinces", "remote",
                                      ("min_weight_grams", "max_weight_grams"),
                                      ("min_order_value", "max_order_value"), "shop")}),
        (_("选择"), {"fields": ("strategy", "carrier", "service")}),
    )


@admin.register(CarrierService)
class CarrierServiceAdmin(TenantAdmin):
    area = Area.LOGISTICS
    list_display = ("carrier", "code", "name", "promised_hours", "product_code", "is_default")
    list_filter = ("carrier",)


@admin.register(CarrierRate)
class CarrierRateAdmin(TenantAdmin):
    area = Area.LOGISTICS
    list_display = ("carrier", "service", "zone", "first_weight_grams", "first_price", "additional_weight_grams",
                    "additional_price", "currency")
    list_filter = ("carrier",)


@admin.register(LogisticsSettings)
class LogisticsSettingsAdmin(TenantAdmin):
    area = Area.LOGISTICS
    list_display = ("__str__", "default_parcel_grams", "packaging_grams", "scorecard_days")


class CarrierAccountForm(forms.ModelForm):
    """Credentials are write-only: shown masked, replaced only when new JSON is entered."""

    new_credentials = forms.JSONField(label=_("新的接口凭证 (JSON)"), required=False,
                                      help_text=_("留空保留现有凭证。顺丰：partner_id, check_word, monthly_card；"
                                                  "菜鸟：app_key, app_secret, session；快递100：customer, key"))

    class Meta:
        model = CarrierAccount
        fields = ("provider", "name", "api_base_url", "enabled")

    def save(self, commit=True):
        obj = super().save(commit=False)
        if self.cleaned_data.get("new_credentials"):
            obj.credentials = self.cleaned_data["new_credentials"]
        if commit:
            obj.save()
        return obj


@admin.register(CarrierAccount)
class CarrierAccountAdmin(TenantAdmin):
    area = Area.LOGISTICS
    form = CarrierAccountForm
    list_display = ("provider", "name", "api_base_url", "enabled", "credentials_masked")
    readonly_fields = ("credentials_masked",)

    @admin.display(description=_("已保存凭证"))
    def credentials_masked(self, obj):
        return ", ".join(f"{k}={mask(v)}" for k, v in sorted((obj.credentials or {}).items())) or "-"


class ShipmentLineInline(TenantTabularInline):
    model = ShipmentLine
    area = Area.LOGISTICS
    readonly_fields = ("order_line", "quantity")
    can_delete = False


class TrackingEventInline(TenantTabularInline):
    model = TrackingEvent
    area = Area.LOGISTICS
    readonly_fields = ("occurred_at", "status", "description", "location", "raw_state")
    can_delete = False


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyTenantAdmin):
    area = Area.LOGISTICS
    list_display = ("tracking_number", "order", "carrier", "service", "status", "choice_explanation", "shipped_at",
                    "delivered_at")
    list_filter = ("status", "carrier")
    search_fields = ("tracking_number", "order__platform_order_id")
    list_select_related = ("order", "carrier")
    exclude = ("print_data",)
    inlines = [ShipmentLineInline, TrackingEventInline]
    actions = ["poll_now"]

    def has_poll_permission(self, request):
        return self._can(request, "change")

    @admin.action(description=_("立即查询轨迹"), permissions=["poll"])
    def poll_now(self, request, queryset):
        for s in queryset:
            services.tracking_poll(tenant_id=request.tenant.pk, shipment_id=s.pk)
        messages.success(request, _("已查询 %(n)s 个包裹") % {"n": queryset.count()})


@admin.register(BulkShipJob)
class BulkShipJobAdmin(ReadOnlyTenantAdmin):
    area = Area.LOGISTICS
    list_display = ("id", "status", "total", "done", "failed", "created_by", "created_at", "finished_at")
    list_filter = ("status",)
