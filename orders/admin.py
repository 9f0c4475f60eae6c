import json

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from oms.admin_base import ReadOnlyTenantAdmin, TenantAdmin, TenantTabularInline
from oms.roles import Area

from . import rules, services
from .models import (
    Blacklist,
    GiftRule,
    Hold,
    Order,
    OrderEvent,
    OrderLine,
    OrderSettings,
    OrderSource,
    ReturnLine,
    ReturnRequest,
    ReviewRule,
)


# Read-only fields come from oms/write_paths.py (every field a service owns); the admins below
# list only what they show and the non-editable columns they show.
class OrderLineInline(TenantTabularInline):
    model = OrderLine
    area = Area.ORDERS
    fields = ("platform_line_id", "title", "outer_sku_id", "sku", "sku_by_hand", "quantity", "unit_price", "amount",
              "refund_status", "refund_reason", "is_gift")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class HoldInline(TenantTabularInline):
    model = Hold
    area = Area.ORDERS
    fields = ("reason", "detail", "until", "created_at", "resolved_at", "resolution_note")
    readonly_fields = ("created_at",)
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class OrderEventInline(TenantTabularInline):
    model = OrderEvent
    area = Area.ORDERS
    fields = ("created_at", "type", "message", "actor", "actor_label")
    readonly_fields = ("created_at",)
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(TenantAdmin):
    area = Area.ORDERS
    list_display = ("number_display", "platform_order_id", "shop", "kind", "status", "warehouse", "receiver_name",
                    "receiver_province", "paid_amount", "currency", "paid_at", "urgent")
    list_filter = ("status", "kind", "platform", "shop", "urgent")
    search_fields = ("platform_order_id", "receiver_name", "receiver_phone", "buyer_nick")
    list_select_related = ("shop",)
    date_hierarchy = "paid_at"
    # every field is owned by a service (oms/write_paths.py): the change page is a view page that
    # links each field to its action on the order page
    fields = ("shop", "platform", "platform_order_id", "platform_status", "status", "kind", "warehouse", "urgent",
              "placed_at", "paid_at", "platform_modified_at", "goods_amount", "shipping_amount", "discount_amount",
              "paid_amount", "currency", "buyer_nick", "buyer_email", "receiver_name", "receiver_phone",
              "receiver_country", "receiver_province", "receiver_city", "receiver_district", "receiver_address",
              "receiver_postcode", "buyer_note", "seller_note", "fulfilled_by_platform")
    inlines = [OrderLineInline, HoldInline, OrderEventInline]
    actions = ["approve_selected", "allocate_selected", "review_selected", "merge_selected", "cancel_selected"]
    ordering = ("-urgent", "paid_at", "id")

    @admin.display(description=_("订单号"), ordering="pk")
    def number_display(self, obj):
        return obj.number

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("审核通过所选订单"), permissions=["change"])
    def approve_selected(self, request, queryset):
        self._bulk(request, queryset, lambda o: services.order_approve(order=o, actor=request.user))

    @admin.action(description=_("分仓所选订单"), permissions=["change"])
    def allocate_selected(self, request, queryset):
        self._bulk(request, queryset.order_by("-urgent", "paid_at", "id"),
                   lambda o: services.order_allocate(order=o, actor=request.user))

    @admin.action(description=_("重新审单"), permissions=["change"])
    def review_selected(self, request, queryset):
        self._bulk(request, queryset, lambda o: services.order_review(order=o, actor=request.user))

    @admin.action(description=_("合并所选订单"), permissions=["change"])
    def merge_selected(self, request, queryset):
        try:
            merged = services.order_merge(orders=list(queryset), actor=request.user)
        except services.OrderActionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, _("已合并为 %(n)s") % {"n": merged.number}, messages.SUCCESS)

    @admin.action(description=_("取消所选订单"), permissions=["change"])
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
class HoldAdmin(TenantAdmin):
    """Holds open and close through orders.services (order page, the worklists, this list's action)."""

    area = Area.ORDERS
    list_display = ("order", "reason", "detail", "created_at", "resolved_at")
    list_filter = ("reason",)
    search_fields = ("order__platform_order_id", "detail")
    list_select_related = ("order",)
    fields = ("order", "reason", "detail", "until", "created_at", "resolved_at", "resolved_by", "resolution_note",
              "auto_released", "data_display")
    readonly_fields = ("created_at", "data_display")
    actions = ["resolve_selected"]

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("数据"))
    def data_display(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>",
                           json.dumps(obj.data, ensure_ascii=False, indent=2)) if obj.data else "-"

    @admin.action(description=_("解除所选挂起"), permissions=["change"])
    def resolve_selected(self, request, queryset):
        n = 0
        for hold in queryset.filter(resolved_at=None):
            n += services.hold_resolve(hold=hold, actor=request.user, note=str(_("后台批量解除")))
        self.message_user(request, _("已解除 %(n)d 个挂起") % {"n": n})


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyTenantAdmin):
    area = Area.ORDERS
    list_display = ("created_at", "order", "type", "message", "actor", "actor_label")
    list_filter = ("type",)
    search_fields = ("order__platform_order_id", "message")
    list_select_related = ("order", "actor")


class ReviewRuleAdmin(TenantAdmin):
    area = Area.ORDERS
    list_display = ("code", "enabled", "threshold", "updated_at")
    list_editable = ("enabled", "threshold")
    fields = ("code", "enabled", "threshold")

    def changelist_view(self, request, extra_context=None):
        if getattr(request, "tenant", None) is not None:
            rules.rule_settings(tenant_id=request.tenant.pk)  # defaults created on demand
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(ReviewRule, ReviewRuleAdmin)


@admin.register(OrderSettings)
class OrderSettingsAdmin(TenantAdmin):
    area = Area.ORDERS
    list_display = ("__str__", "auto_allocate", "allow_split", "auto_merge")

    def changelist_view(self, request, extra_context=None):
        if getattr(request, "tenant", None) is not None:
            rules.order_settings(tenant_id=request.tenant.pk)
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request, *args):
        return False


@admin.register(Blacklist)
class BlacklistAdmin(TenantAdmin):
    area = Area.ORDERS
    list_display = ("kind", "value", "note", "created_at")
    list_filter = ("kind",)
    search_fields = ("value", "note")


@admin.register(GiftRule)
class GiftRuleAdmin(TenantAdmin):
    area = Area.ORDERS
    list_display = ("name", "shop", "starts_at", "ends_at", "trigger_sku", "trigger_quantity", "min_paid_amount",
                    "gift_sku", "gift_quantity", "per_quantity", "enabled")
    list_filter = ("enabled", "shop")
    search_fields = ("name",)
    autocomplete_fields = ()


@admin.register(OrderSource)
class OrderSourceAdmin(ReadOnlyTenantAdmin):
    area = Area.ORDERS
    list_display = ("order", "source", "platform_order_id")
    search_fields = ("platform_order_id",)
    list_select_related = ("order", "source")


class ReturnLineInline(TenantTabularInline):
    model = ReturnLine
    area = Area.ORDERS
    fields = ("order_line", "quantity", "exchange_sku")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReturnRequest)
class ReturnRequestAdmin(TenantAdmin):
    area = Area.ORDERS
    list_display = ("number_display", "order", "kind", "status", "source", "refund_amount", "currency", "warehouse",
                    "created_at")
    list_filter = ("status", "kind", "source")
    search_fields = ("order__platform_order_id", "reason")
    list_select_related = ("order", "warehouse")
    # every field is owned by an after-sales service: the actions are on the order page and below
    fields = ("order", "kind", "status", "source", "reason", "refund_amount", "currency", "warehouse",
              "exchange_order", "note", "created_by", "created_at")
    readonly_fields = ("created_at",)
    inlines = [ReturnLineInline]
    actions = ["receive_selected", "restock_selected", "exchange_selected"]

    @admin.display(description=_("售后单号"), ordering="pk")
    def number_display(self, obj):
        return obj.number

    def has_add_permission(self, request, *args):
        return False  # requests start from the order page (they need shipped lines)

    def has_delete_permission(self, request, obj=None):
        return False

    def _bulk(self, request, queryset, fn):
        for rr in queryset.select_related("order"):
            try:
                fn(rr)
            except services.OrderActionError as exc:
                self.message_user(request, f"{rr.number}: {exc}", messages.ERROR)

    @admin.action(description=_("确认收到退货"), permissions=["change"])
    def receive_selected(self, request, queryset):
        self._bulk(request, queryset, lambda rr: services.return_receive(return_request=rr, actor=request.user))

    @admin.action(description=_("退货入库（发货仓）"), permissions=["change"])
    def restock_selected(self, request, queryset):
        """Into the warehouse that shipped the order; another warehouse is chosen on the order page."""

        def restock(rr):
            warehouse_id = rr.warehouse_id or rr.order.warehouse_id
            if warehouse_id is None:
                raise services.OrderActionError(_("订单没有发货仓，请在订单页面选择入库仓"))
            services.return_restock(return_request=rr, warehouse_id=warehouse_id, actor=request.user)

        self._bulk(request, queryset, restock)

    @admin.action(description=_("创建换货单"), permissions=["change"])
    def exchange_selected(self, request, queryset):
        self._bulk(request, queryset, lambda rr: services.return_create_exchange(return_request=rr, actor=request.user))
