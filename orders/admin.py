from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from oms.admin_base import ReadOnlyTenantAdmin, TenantAdmin, TenantTabularInline
from oms.roles import Area

from . import services
from .models import Hold, Order, OrderEvent, OrderLine


class OrderLineInline(TenantTabularInline):
    model = OrderLine
    area = Area.ORDERS
    fields = ("platform_line_id", "title", "outer_sku_id", "sku", "quantity", "unit_price", "amount",
              "refund_status", "is_gift")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class HoldInline(TenantTabularInline):
    model = Hold
    area = Area.ORDERS
    fields = ("reason", "detail", "until", "created_at", "resolved_at", "resolution_note")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class OrderEventInline(TenantTabularInline):
    model = OrderEvent
    area = Area.ORDERS
    fields = ("created_at", "type", "message", "actor", "actor_label")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(TenantAdmin):
    area = Area.ORDERS
    list_display = ("number_display", "platform_order_id", "shop", "status", "receiver_name",
                    "receiver_province", "paid_amount", "currency", "paid_at", "urgent")
    list_filter = ("status", "platform", "shop", "urgent")
    search_fields = ("platform_order_id", "receiver_name", "receiver_phone", "buyer_nick")
    list_select_related = ("shop",)
    date_hierarchy = "paid_at"
    readonly_fields = ("shop", "platform", "platform_order_id", "platform_status", "status", "placed_at",
                       "paid_at", "platform_modified_at", "goods_amount", "shipping_amount", "discount_amount",
                       "paid_amount", "currency", "buyer_nick", "warehouse", "fulfilled_by_platform")
    fields = readonly_fields + ("receiver_name", "receiver_phone", "receiver_province", "receiver_city",
                                "receiver_district", "receiver_address", "receiver_postcode", "urgent",
                                "buyer_note", "seller_note")
    inlines = [OrderLineInline, HoldInline, OrderEventInline]
    actions = ["approve_selected", "cancel_selected"]

    @admin.display(description=_("订单号"), ordering="pk")
    def number_display(self, obj):
        return obj.number

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("审核通过所选订单"))
    def approve_selected(self, request, queryset):
        self._bulk(request, queryset, lambda o: services.order_approve(order=o, actor=request.user))

    @admin.action(description=_("取消所选订单"))
    def cancel_selected(self, request, queryset):
        self._bulk(request, queryset, lambda o: services.order_cancel(order=o, actor=request.user))

    def _bulk(self, request, queryset, fn):
        ok, failed = 0, []
        for order in queryset:
            try:
                fn(order)
                ok += 1
            except Exception as exc:  # reported per row; one failure never stops the batch
                failed.append(f"{order.number}: {exc}")
        if ok:
            self.message_user(request, _("成功 %(n)d 单") % {"n": ok}, messages.SUCCESS)
        for msg in failed:
            self.message_user(request, msg, messages.ERROR)


@admin.register(Hold)
class HoldAdmin(ReadOnlyTenantAdmin):
    area = Area.ORDERS
    list_display = ("order", "reason", "detail", "created_at", "resolved_at")
    list_filter = ("reason",)
    search_fields = ("order__platform_order_id", "detail")
    list_select_related = ("order",)
    actions = ["resolve_selected"]

    def has_change_permission(self, request, obj=None):
        return self._can(request, "change")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Hold._meta.fields]

    @admin.action(description=_("解除所选挂起"))
    def resolve_selected(self, request, queryset):
        n = 0
        for hold in queryset.filter(resolved_at=None):
            services.hold_resolve(hold=hold, actor=request.user, note=str(_("后台批量解除")))
            n += 1
        self.message_user(request, _("已解除 %(n)d 个挂起") % {"n": n})


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyTenantAdmin):
    area = Area.ORDERS
    list_display = ("created_at", "order", "type", "message", "actor", "actor_label")
    list_filter = ("type",)
    search_fields = ("order__platform_order_id", "message")
    list_select_related = ("order", "actor")
