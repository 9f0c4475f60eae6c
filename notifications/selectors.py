"""Read queries of notifications: the facts a message is rendered from (read-only looks into
orders, logistics and inventory), effective templates, recipients, due messages, the outbox list.

The render context holds plain strings only, and never a phone number or an address (postal or
e-mail): it is stored with the message and shown to staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import Sku, Warehouse
from logistics.models import Carrier, Shipment
from oms.models import Tenant
from orders.models import Order

from .defaults import DEFAULTS, TemplateSpec
from .models import Contact, Notification, NotificationTemplate, SmsAccount


def tracking_url(platform_order_id: str) -> str:
    base = settings.OMS_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/logistics/track/?{urlencode({'order': platform_order_id})}"


#: receivers' countries whose buyers read Chinese; every other buyer reads English (the project
#: keeps no language per order: the receiver's country stands for it)
CHINESE_READING_COUNTRIES = frozenset({"CN", "HK", "MO", "TW"})


def buyer_language(country: str) -> str:
    """The language of the messages to a buyer whose parcel goes to this country."""
    code = "zh-hans" if (country or "CN").upper() in CHINESE_READING_COUNTRIES else "en"
    return code if code in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


@dataclass(frozen=True)
class BuyerMessageFacts:
    context: dict  #: the render context (stored with the message: no contact details)
    phone: str  #: the receiver's phone as stored on the order
    email: str  #: the buyer's e-mail as the platform sent it ("" when it sent none)
    language: str  #: the buyer's language (buyer_language)
    platform: str  #: the order's marketplace


def shipment_message_facts(*, tenant_id: int, shipment_id: int, order_id: int, carrier_code: str = "",
                           tracking_number: str = "") -> BuyerMessageFacts:
    """What a message about a shipment says, and where it goes. Raises Order.DoesNotExist."""
    order = Order.objects.for_tenant(tenant_id).select_related("shop").get(pk=order_id)
    shipment = Shipment.objects.for_tenant(tenant_id).select_related("carrier").filter(pk=shipment_id).first()
    carrier = shipment.carrier if shipment is not None else None
    if carrier is None and carrier_code:
        carrier = Carrier.objects.filter(code=carrier_code).first()
    tracking = tracking_number or (shipment.tracking_number if shipment is not None else "")
    tenant = Tenant.objects.get(pk=tenant_id)
    context = {
        "tenant_name": tenant.name,
        "shop_name": order.shop.name if order.shop_id else tenant.name,
        "platform_order_id": order.platform_order_id,
        "receiver_name": order.receiver_name,
        "carrier_code": carrier.code if carrier else carrier_code,
        "carrier_name": carrier.name if carrier else carrier_code,
        "tracking_number": tracking,
        "tracking_url": tracking_url(order.platform_order_id),
    }
    return BuyerMessageFacts(context=context, phone=order.receiver_phone, email=order.buyer_email.strip(),
                             language=buyer_language(order.receiver_country), platform=order.platform)


def low_stock_facts(*, tenant_id: int, sku_id: int, warehouse_id: int | None, available, reorder_point) -> dict:
    sku = Sku.objects.for_tenant(tenant_id).get(pk=sku_id)
    warehouse = Warehouse.objects.for_tenant(tenant_id).filter(pk=warehouse_id).first() if warehouse_id else None
    base = settings.OMS_PUBLIC_BASE_URL.rstrip("/")
    return {
        "tenant_name": Tenant.objects.get(pk=tenant_id).name,
        "sku_code": sku.code,
        "sku_name": sku.name,
        "warehouse_name": warehouse.name if warehouse else _("全部仓库"),
        "available": str(available),
        "reorder_point": str(reorder_point),
        "sku_url": f"{base}/admin/inventory/sku/{sku.pk}/change/",
    }


def purchasing_contacts(*, tenant_id: int) -> list[Contact]:
    return list(Contact.objects.for_tenant(tenant_id).filter(is_purchasing=True, active=True).order_by("pk"))


def effective_template(*, tenant_id: int, event: str, channel: str) -> TemplateSpec | None:
    """The tenant's template for (event, channel), else the built-in default, else None."""
    row = NotificationTemplate.objects.for_tenant(tenant_id).filter(event=event, channel=channel).first()
    default = DEFAULTS.get((event, channel))
    if row is None:
        return default
    return TemplateSpec(
        enabled=row.enabled,
        subject=row.subject or (str(default.subject) if default else ""),
        body=row.body or (str(default.body) if default else ""),
        sms_template_code=row.sms_template_code or (default.sms_template_code if default else ""),
        sms_params=row.sms_params or (dict(default.sms_params) if default else {}),
    )


def active_sms_account(*, tenant_id: int) -> SmsAccount | None:
    return SmsAccount.objects.for_tenant(tenant_id).filter(enabled=True).first()


def notifications_due(*, now: datetime | None = None, limit: int = 500) -> list[tuple[int, int]]:
    """(tenant_id, notification_id) of queued messages whose time has come and no worker holds."""
    now = now or timezone.now()
    qs = (Notification.objects.filter(status=Notification.Status.QUEUED, next_attempt_at__lte=now)
          .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
          .order_by("next_attempt_at", "pk").values_list("tenant_id", "pk")[:limit])
    return list(qs)


def outbox(*, tenant_id: int) -> QuerySet[Notification]:
    return Notification.objects.for_tenant(tenant_id).order_by("-created_at", "-pk")
