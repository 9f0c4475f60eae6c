from django.contrib import admin, messages
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin

from oms.admin_base import ReadOnlyTenantAdmin, TenantAdmin, TenantTabularInline, _role, _tenant_id
from oms.roles import CHANGE, VIEW, Area, role_can

from . import services
from .models import (
    LowStockAlert,
    ReorderPoint,
    Reservation,
    Sku,
    SkuComponent,
    StockLevel,
    StockMovement,
    StockWriteOff,
    TransferLine,
    TransferOrder,
    TransferStatus,
    Warehouse,
)
from .resources import StockLevelResource


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

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and ({"is_combo", "active"} & set(form.changed_data) or any(f.has_changed() for f in formsets)):
            services.sku_saved(tenant_id=_tenant_id(request), sku_id=form.instance.pk)


@admin.register(Warehouse)
class WarehouseAdmin(TenantAdmin):
    area = Area.INVENTORY
    list_display = ("code", "name", "province", "city", "priority", "active")
    search_fields = ("code", "name", "province")


@admin.register(StockLevel)
class StockLevelAdmin(ImportExportMixin, ReadOnlyTenantAdmin):
    """Levels change only through stock services (so the ledger stays complete). The CSV import
    is a stock count through those services (inventory.resources), scoped to the tenant."""

    area = Area.INVENTORY
    resource_classes = [StockLevelResource]

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {"tenant_id": _tenant_id(request), "actor": request.user}

    def has_import_permission(self, request):
        return _tenant_id(request) is not None and role_can(_role(request), self.area, CHANGE)

    def has_export_permission(self, request):
        return _tenant_id(request) is not None and (role_can(_role(request), self.area, VIEW)
                                                    or role_can(_role(request), self.area, CHANGE))
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
    list_display = ("created_at", "sku", "warehouse", "kind", "on_hand_delta", "reserved_delta", "reference", "actor",
                    "actor_label")
    list_filter = ("kind", "warehouse")
    search_fields = ("sku__code", "reference")
    list_select_related = ("sku", "warehouse", "actor")


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyTenantAdmin):
    area = Area.INVENTORY
    list_display = ("order_id", "line_id", "sku", "warehouse", "quantity", "status", "created_at")
    list_filter = ("status", "warehouse")
    search_fields = ("sku__code",)
    list_select_related = ("sku", "warehouse")


@admin.register(ReorderPoint)
class ReorderPointAdmin(TenantAdmin):
    """Saved through inventory.services.reorder_point_set, so the alert is re-evaluated at once."""

    area = Area.INVENTORY
    list_display = ("sku", "warehouse", "reorder_point", "reorder_quantity", "updated_at")
    list_filter = ("warehouse",)
    search_fields = ("sku__code", "sku__name")
    list_select_related = ("sku", "warehouse")

    def get_readonly_fields(self, request, obj=None):
        return ("sku", "warehouse") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        tenant_id = _tenant_id(request)
        if change and obj.tenant_id != tenant_id:
            raise Http404
        try:
            saved = services.reorder_point_set(tenant_id=tenant_id, sku_id=obj.sku_id, warehouse_id=obj.warehouse_id,
                                               reorder_point=obj.reorder_point, reorder_quantity=obj.reorder_quantity)
        except services.StockError as exc:
            raise Http404 from exc  # only another tenant's ids get here: the form offers the tenant's rows
        obj.pk, obj.tenant_id = saved.pk, saved.tenant_id

    def delete_model(self, request, obj):
        services.reorder_point_delete(tenant_id=_tenant_id(request), reorder_point_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for rp in queryset:
            services.reorder_point_delete(tenant_id=_tenant_id(request), reorder_point_id=rp.pk)


@admin.register(LowStockAlert)
class LowStockAlertAdmin(ReadOnlyTenantAdmin):
    area = Area.INVENTORY
    list_display = ("sku", "warehouse", "available", "reorder_point", "raised_at", "cleared_at")
    list_filter = ("warehouse",)
    search_fields = ("sku__code", "sku__name")
    list_select_related = ("sku", "warehouse")


@admin.register(StockWriteOff)
class StockWriteOffAdmin(ReadOnlyTenantAdmin):
    area = Area.INVENTORY
    list_display = ("created_at", "sku", "warehouse", "quantity", "in_transit", "reason", "reference", "created_by")
    list_filter = ("in_transit", "warehouse")
    search_fields = ("sku__code", "reason", "reference")
    list_select_related = ("sku", "warehouse", "created_by")


class TransferLineInline(TenantTabularInline):
    """Lines are entered with a new transfer (inventory.services.transfer_create); afterwards
    quantities change on the transfer page (through the services), never here."""

    model = TransferLine
    area = Area.INVENTORY
    fields = ("sku", "quantity", "received_quantity", "lost_quantity")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "sku":
            field.queryset = field.queryset.filter(is_combo=False)  # combos move as their components
        return field

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return obj is None and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return obj is None and super().has_delete_permission(request, obj)


@admin.register(TransferOrder)
class TransferOrderAdmin(TenantAdmin):
    area = Area.INVENTORY
    list_display = ("number_link", "source", "destination", "status", "suggested", "accepted_at", "created_at")
    list_filter = ("status", "suggested", "source", "destination")
    list_select_related = ("source", "destination")
    inlines = [TransferLineInline]
    actions = ["accept_selected", "ship_selected", "dismiss_selected"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("source", "destination", "note")
        return ("source", "destination", "status", "suggested", "reason", "note", "accepted_at",
                "edited_at", "shipped_at", "received_at", "closed_at", "created_by")

    def has_delete_permission(self, request, obj=None):
        return False  # dismiss instead: a transfer that moved stock is history

    @admin.display(description=_("单号"), ordering="id")
    def number_link(self, obj):
        return obj.number

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        # a new transfer is created with its lines by transfer_create, in save_related

    def save_related(self, request, form, formsets, change):
        if change:
            return super().save_related(request, form, formsets, change)
        lines: dict[int, int] = {}
        for formset in formsets:
            for line in formset.forms:
                data = getattr(line, "cleaned_data", None) or {}
                if data.get("sku") and data.get("quantity") and not data.get("DELETE"):
                    lines[data["sku"].pk] = lines.get(data["sku"].pk, 0) + data["quantity"]
        obj = form.instance
        transfer = services.transfer_create(tenant_id=_tenant_id(request), source_id=obj.source_id,
                                            destination_id=obj.destination_id, lines=lines, note=obj.note,
                                            actor=request.user)
        obj.pk, obj.tenant_id, obj.created_by = transfer.pk, transfer.tenant_id, request.user
        for formset in formsets:  # what the history entry lists as added
            formset.new_objects, formset.changed_objects, formset.deleted_objects = list(transfer.lines.all()), [], []

    def _each(self, request, queryset, service, done_msg):
        ok, failed = 0, []
        for transfer in queryset:
            try:
                service(tenant_id=_tenant_id(request), transfer_id=transfer.pk, actor=request.user)
                ok += 1
            except services.StockError as exc:
                failed.append(f"{transfer.number}: {exc}")
        if ok:
            self.message_user(request, done_msg % {"n": ok}, messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description=_("采纳所选调拨建议"), permissions=["change"])
    def accept_selected(self, request, queryset):
        self._each(request, queryset.filter(status=TransferStatus.DRAFT), services.transfer_accept, _("已采纳 %(n)s 张"))

    @admin.action(description=_("发出所选调拨单"), permissions=["change"])
    def ship_selected(self, request, queryset):
        self._each(request, queryset, services.transfer_ship, _("已发出 %(n)s 张"))

    @admin.action(description=_("驳回所选调拨单"), permissions=["change"])
    def dismiss_selected(self, request, queryset):
        self._each(request, queryset, services.transfer_dismiss, _("已驳回 %(n)s 张"))
