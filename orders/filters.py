"""django-filter FilterSets of orders. Every choice queryset is the request's tenant's.

The free text `q` matches exactly on indexed columns (our number OMS00000123 -> pk, platform
order id, receiver phone) and on receiver name / buyer nick; never a leading-wildcard LIKE.
"""

from __future__ import annotations

import re

import django_filters as filters
from django.apps import apps
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import DateRangeWidget

from inventory.models import Warehouse

from .models import Hold, HoldReason, Order, OrderLine
from .states import OrderStatus

DATE_RANGE = DateRangeWidget(attrs={"type": "date"})
OUR_NUMBER = re.compile(r"^OMS0*(\d{1,12})$", re.IGNORECASE)


def our_number_pk(text: str) -> int | None:
    m = OUR_NUMBER.match(text.strip())
    return int(m.group(1)) if m else None


def _tenant_id(request) -> int | None:
    tenant = getattr(request, "tenant", None)
    return tenant.pk if tenant else None


def _shops(request):
    Shop = apps.get_model("channels", "Shop")
    return Shop.objects.filter(tenant_id=_tenant_id(request)).order_by("name")


def _warehouses(request):
    return Warehouse.objects.filter(tenant_id=_tenant_id(request)).order_by("priority", "id")


def _carriers(request):
    return apps.get_model("logistics", "Carrier").objects.order_by("code")


def _platform_choices():
    return apps.get_model("channels", "Shop")._meta.get_field("platform").choices


class OrderFilterSet(filters.FilterSet):
    q = filters.CharFilter(label=_("搜索"), method="filter_q",
                           help_text=_("平台订单号、OMS 单号、收件人、电话、买家昵称"))
    shop = filters.ModelChoiceFilter(label=_("店铺"), queryset=_shops)
    platform = filters.ChoiceFilter(label=_("平台"), choices=_platform_choices)
    status = filters.MultipleChoiceFilter(label=_("状态"), choices=OrderStatus.choices)
    hold_reason = filters.ChoiceFilter(label=_("挂起原因"), choices=HoldReason.choices, method="filter_hold_reason")
    paid = filters.DateFromToRangeFilter(label=_("付款日期"), field_name="paid_at", widget=DATE_RANGE)
    created = filters.DateFromToRangeFilter(label=_("创建日期"), field_name="created_at", widget=DATE_RANGE)
    province = filters.CharFilter(label=_("省"), field_name="receiver_province")
    city = filters.CharFilter(label=_("市"), field_name="receiver_city")
    sku = filters.CharFilter(label=_("SKU 编码"), method="filter_sku")
    warehouse = filters.ModelChoiceFilter(label=_("发货仓"), queryset=_warehouses)
    carrier = filters.ModelChoiceFilter(label=_("快递"), queryset=_carriers, method="filter_carrier")
    urgent = filters.BooleanFilter(label=_("加急"))
    amount = filters.RangeFilter(label=_("实付金额"), field_name="paid_amount")

    class Meta:
        model = Order
        fields = ["q", "shop", "platform", "status", "hold_reason", "paid", "created", "province", "city", "sku",
                   "warehouse", "carrier", "urgent", "amount"]

    def filter_q(self, qs, name, value):
        text = (value or "").strip()
        if not text:
            return qs
        cond = Q(platform_order_id=text) | Q(receiver_phone=text) | Q(receiver_name=text) | Q(buyer_nick=text)
        pk = our_number_pk(text)
        if pk is not None:
            cond |= Q(pk=pk)
        return qs.filter(cond)

    def filter_hold_reason(self, qs, name, value):
        if not value:
            return qs
        return qs.filter(Exists(Hold.objects.filter(tenant_id=OuterRef("tenant_id"), order_id=OuterRef("pk"),
                                                    reason=value, resolved_at__isnull=True)))

    def filter_sku(self, qs, name, value):
        code = (value or "").strip()
        if not code:
            return qs
        return qs.filter(Exists(OrderLine.objects.filter(tenant_id=OuterRef("tenant_id"), order_id=OuterRef("pk"))
                                .filter(Q(sku__code=code) | Q(outer_sku_id=code))))

    def filter_carrier(self, qs, name, value):
        if not value:
            return qs
        Shipment = apps.get_model("logistics", "Shipment")
        return qs.filter(Exists(Shipment.objects.filter(tenant_id=OuterRef("tenant_id"), order_id=OuterRef("pk"),
                                                        carrier=value).exclude(status="cancelled")))
