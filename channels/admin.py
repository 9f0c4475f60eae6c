from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from inventory.models import Warehouse
from oms.admin_base import ReadOnlyTenantAdmin, TenantAdmin
from oms.crypto import mask
from oms.roles import Area

from . import services, tasks
from .models import ChannelCall, Listing, PullRun, RawOrder, Shop


class ShopForm(forms.ModelForm):
    """Credentials are write-only: the stored values are never sent back to the browser."""

    new_credentials = forms.JSONField(label=_("更新接口凭证"), required=False,
                                      help_text=_("JSON，例如 {\"app_key\": \"...\", \"app_secret\": \"...\"}；"
                                                  "留空保持不变"),
                                      widget=forms.Textarea(attrs={"rows": 3}))

    # Shop.warehouses goes through a tenant-owned table, which the admin does not edit by itself
    warehouses = forms.ModelMultipleChoiceField(
        label=Shop._meta.get_field("warehouses").verbose_name, required=False,
        help_text=Shop._meta.get_field("warehouses").help_text, queryset=Warehouse.objects.none(),
        widget=FilteredSelectMultiple(Shop._meta.get_field("warehouses").verbose_name, is_stacked=False))
    tenant_id: int | None = None  # set per request by ShopAdmin.get_form

    class Meta:
        model = Shop
        exclude = ("credentials",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouses"].queryset = Warehouse.objects.filter(tenant_id=self.tenant_id)

    def save(self, commit=True):
        new = self.cleaned_data.get("new_credentials")
        if new:
            self.instance.credentials = new
        return super().save(commit)

    def _save_m2m(self):
        warehouses = self.cleaned_data.pop("warehouses", None)
        super()._save_m2m()
        if warehouses is not None:
            self.instance.warehouses.set(warehouses, through_defaults={"tenant_id": self.instance.tenant_id})


@admin.register(Shop)
class ShopAdmin(TenantAdmin):
    area = Area.CHANNELS
    form = ShopForm
    list_display = ("name", "platform", "enabled", "pull_interval_minutes", "high_water_mark", "last_pull_at",
                    "safety_stock", "allocation_ratio")
    list_filter = ("platform", "enabled")
    search_fields = ("name", "platform_shop_id")
    readonly_fields = ("credentials_masked", "high_water_mark", "last_pull_at", "last_pull_error")
    actions = ["pull_now"]

    #: what every listing of the shop is told depends on these: a change re-pushes availability
    AVAILABILITY_FIELDS = frozenset({"enabled", "safety_stock", "allocation_ratio", "warehouses"})

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"tenant_id": getattr(request.tenant, "pk", None)})

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        shop = form.instance
        if change and self.AVAILABILITY_FIELDS & set(form.changed_data):
            sku_ids = sorted(set(Listing.objects.filter(tenant_id=shop.tenant_id, shop=shop)
                                 .values_list("sku_id", flat=True)))
            transaction.on_commit(partial(services.schedule_availability_push, tenant_id=shop.tenant_id,
                                          sku_ids=sku_ids))

    @admin.action(description=_("立即拉单"), permissions=["change"])
    def pull_now(self, request, queryset):
        for shop in queryset:
            tasks.pull_shop.delay(shop.tenant_id, shop.pk)
        self.message_user(request, _("已提交 %(n)d 个店铺的拉单任务") % {"n": queryset.count()})

    @admin.display(description=_("当前凭证"))
    def credentials_masked(self, obj):
        return ", ".join(f"{k}={mask(v)}" for k, v in sorted((obj.credentials or {}).items())) or "-"


@admin.register(Listing)
class ListingAdmin(TenantAdmin):
    area = Area.CHANNELS
    list_display = ("shop", "platform_item_id", "platform_sku_id", "outer_id", "sku", "push_enabled",
                    "last_pushed_quantity", "last_pushed_at")
    list_filter = ("shop", "push_enabled")
    search_fields = ("platform_item_id", "platform_sku_id", "outer_id", "sku__code")
    list_select_related = ("shop", "sku")
    readonly_fields = ("last_pushed_quantity", "last_pushed_at")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change or {"sku", "push_enabled"} & set(form.changed_data):  # the platform hears the new figure
            transaction.on_commit(partial(services.schedule_availability_push, tenant_id=obj.tenant_id,
                                          sku_ids=[obj.sku_id]))
        n = services.listing_saved(listing=obj)
        if n:
            self.message_user(request, _("已重新处理 %(n)d 个待匹配订单") % {"n": n})


@admin.register(RawOrder)
class RawOrderAdmin(ReadOnlyTenantAdmin):
    area = Area.CHANNELS
    list_display = ("platform_order_id", "shop", "source", "outcome", "received_at", "processed_at", "attempts")
    list_filter = ("outcome", "source", "shop")
    search_fields = ("platform_order_id", "error")
    list_select_related = ("shop",)
    readonly_fields = ("shop", "platform_order_id", "source", "outcome", "error", "received_at", "processed_at",
                       "attempts", "payload_pretty")
    exclude = ("payload", "payload_hash")
    actions = ["replay"]

    @admin.display(description=_("原始报文"))
    def payload_pretty(self, obj):
        import json

        from django.utils.html import format_html

        return format_html("<pre style='white-space:pre-wrap'>{}</pre>",
                           json.dumps(obj.payload, ensure_ascii=False, indent=2))

    def has_change_permission(self, request, obj=None):
        return self._can(request, "change") and obj is None

    @admin.action(description=_("重新处理所选报文"), permissions=["change"])
    def replay(self, request, queryset):
        results = {}
        for raw in queryset.select_related("shop"):
            outcome = services.raw_process(raw=raw)
            results[outcome] = results.get(outcome, 0) + 1
        self.message_user(request, ", ".join(f"{k}: {v}" for k, v in results.items()) or "-",
                          messages.SUCCESS if "failed" not in results else messages.WARNING)


@admin.register(ChannelCall)
class ChannelCallAdmin(ReadOnlyTenantAdmin):
    area = Area.CHANNELS
    list_display = ("created_at", "shop", "kind", "reference", "quantity", "ok", "attempt", "error")
    list_filter = ("kind", "ok", "shop")
    list_select_related = ("shop",)


@admin.register(PullRun)
class PullRunAdmin(ReadOnlyTenantAdmin):
    area = Area.CHANNELS
    list_display = ("shop", "started_at", "finished_at", "status", "fetched", "created", "updated", "unchanged",
                    "failed", "error")
    list_filter = ("status", "shop")
    list_select_related = ("shop",)
