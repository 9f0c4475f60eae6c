"""Customer-service lookup: one search box across all shops of the tenant.

Keys, each one small indexed query (exact or prefix, never a leading wildcard):
- our number OMS00000123 (or a bare 123 prefixed by OMS) -> primary key;
- platform order id -> (tenant, platform_order_id);
- receiver phone, full -> (tenant, receiver_phone);
- last 4 digits of the phone + receiver name ("张三 5678" / "5678 张三") -> name equality first;
- receiver name, buyer nickname -> equality;
- buyer e-mail, exact (as typed or lower-cased) -> (tenant, buyer_email);
- tracking number -> shipments (tenant, tracking_number).
Results never cross tenants: every query starts with the tenant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.apps import apps
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from oms.roles import Area
from oms.views_base import TenantViewMixin

from .filters import our_number_pk
from .models import Hold, Order

LIMIT = 50
PHONE = re.compile(r"^\+?[\d\- ]{7,20}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LAST4_NAME = re.compile(r"^(?:(\d{4})\s+(\S.{0,49})|(\S.{0,49}?)\s+(\d{4}))$")

KEY_LABELS = {
    "number": gettext_lazy("OMS 单号"),
    "platform_order_id": gettext_lazy("平台订单号"),
    "phone": gettext_lazy("收件人电话"),
    "phone_last4": gettext_lazy("电话后四位+姓名"),
    "receiver_name": gettext_lazy("收件人"),
    "buyer_nick": gettext_lazy("买家昵称"),
    "buyer_email": gettext_lazy("买家邮箱"),
    "tracking_number": gettext_lazy("运单号"),
}


@dataclass
class Hit:
    order: Order
    keys: list[str]

    @property
    def key_labels(self) -> str:
        return "、".join(str(KEY_LABELS[k]) for k in self.keys)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def lookup_orders(*, tenant_id: int, query: str, limit: int = LIMIT) -> list[Hit]:
    """Orders of the tenant matching the query by any key; newest first, with the keys that matched."""
    text = query.strip()[:100]
    if not text:
        return []
    base = Order.objects.filter(tenant_id=tenant_id)
    found: dict[int, list[str]] = {}

    def add(key: str, qs):
        for pk in qs.values_list("pk", flat=True)[:limit]:
            found.setdefault(pk, [])
            if key not in found[pk]:
                found[pk].append(key)

    pk = our_number_pk(text)
    if pk is not None:
        add("number", base.filter(pk=pk))
    add("platform_order_id", base.filter(platform_order_id=text))
    if PHONE.match(text):
        digits = _digits(text)
        phones = {text, digits}
        if digits.startswith("86") and len(digits) == 13:
            phones.add(digits[2:])
        if len(digits) == 11:
            phones |= {f"+86{digits}", f"86{digits}", f"+86 {digits}"}
        add("phone", base.filter(receiver_phone__in=sorted(phones)))
    m = LAST4_NAME.match(text)
    if m:
        last4, name = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        add("phone_last4", base.filter(receiver_name=name.strip(), receiver_phone__endswith=last4))
    add("receiver_name", base.filter(receiver_name=text))
    add("buyer_nick", base.filter(buyer_nick=text))
    if EMAIL.match(text):
        add("buyer_email", base.filter(buyer_email__in=sorted({text, text.lower()})))
    Shipment = apps.get_model("logistics", "Shipment")
    tracked = Shipment.objects.filter(tenant_id=tenant_id, tracking_number__in=sorted({text, text.upper()}))
    add("tracking_number", base.filter(pk__in=tracked.values("order_id")))
    if not found:
        return []
    orders = (base.filter(pk__in=list(found)[: limit * 2]).select_related("shop", "warehouse")
              .prefetch_related(Prefetch("holds", queryset=Hold.objects.filter(resolved_at=None), to_attr="open_holds"),
                                Prefetch("shipments", queryset=Shipment.objects.select_related("carrier").order_by("pk")))
              .order_by("-placed_at", "-id")[:limit])
    return [Hit(order=o, keys=found[o.pk]) for o in orders]


class LookupView(TenantViewMixin, TemplateView):
    area = Area.ORDERS
    template_name = "console/lookup.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        q = (self.request.GET.get("q") or "").strip()
        ctx["q"] = q
        ctx["hits"] = lookup_orders(tenant_id=self.tenant.pk, query=q) if q else []
        ctx["searched"] = bool(q)
        ctx["hint"] = _("平台订单号、OMS 单号、收件人电话（或后四位+姓名）、收件人、买家昵称、买家邮箱、运单号")
        return ctx
