"""Built-in templates, used for an (event, channel) for which a tenant has no NotificationTemplate.

Texts are Django template source rendered with the plain-string context the receivers build
(see notifications.selectors). Aliyun SMS content itself is the template registered with Aliyun
under `sms_template_code`; `body` is our preview of it and `sms_params` fills its variables.
The default SMS template codes are placeholders: a tenant sets its own approved codes.
Buyer messages are rendered in the buyer's language (notifications.selectors.buyer_language):
the defaults here are translated; a tenant's own template is sent as the tenant wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from .models import Channel, Event


@dataclass(frozen=True)
class TemplateSpec:
    enabled: bool
    subject: str = ""
    body: str = ""
    sms_template_code: str = ""
    sms_params: dict = field(default_factory=dict)


_SHIPMENT_PARAMS = {
    "name": "{{ receiver_name }}",
    "order": "{{ platform_order_id }}",
    "company": "{{ carrier_name }}",
    "no": "{{ tracking_number }}",
}

DEFAULTS: dict[tuple[str, str], TemplateSpec] = {
    (Event.SHIPPED, Channel.SMS): TemplateSpec(
        enabled=True,
        body=_("【{{ shop_name }}】{{ receiver_name }}您好，您的订单{{ platform_order_id }}已由{{ carrier_name }}发出，"
               "运单号{{ tracking_number }}，查看物流：{{ tracking_url }}"),
        sms_template_code="SMS_OMS_SHIPPED",
        sms_params={**_SHIPMENT_PARAMS, "link": "{{ tracking_url }}"},
    ),
    (Event.OUT_FOR_DELIVERY, Channel.SMS): TemplateSpec(
        enabled=True,
        body=_("【{{ shop_name }}】{{ receiver_name }}您好，您的包裹（{{ carrier_name }} {{ tracking_number }}）正在派送中，"
               "请保持电话畅通。"),
        sms_template_code="SMS_OMS_OUT_FOR_DELIVERY",
        sms_params=dict(_SHIPMENT_PARAMS),
    ),
    (Event.DELIVERED, Channel.SMS): TemplateSpec(
        enabled=True,
        body=_("【{{ shop_name }}】{{ receiver_name }}您好，您的包裹（{{ carrier_name }} {{ tracking_number }}）已签收，"
               "感谢惠顾。"),
        sms_template_code="SMS_OMS_DELIVERED",
        sms_params=dict(_SHIPMENT_PARAMS),
    ),
    # to the buyer's e-mail, where the platform sent one (Shopify, WooCommerce; never Amazon's relay:
    # see services.PLATFORMS_THAT_TELL_THE_BUYER)
    (Event.SHIPPED, Channel.EMAIL): TemplateSpec(
        enabled=True,
        subject=_("您在{{ shop_name }}的订单 {{ platform_order_id }} 已发货"),
        body=_("{{ receiver_name }}您好：\n\n"
               "您的订单 {{ platform_order_id }} 已由{{ carrier_name }}发出，运单号 {{ tracking_number }}。\n\n"
               "查看物流：{{ tracking_url }}\n\n"
               "—— {{ shop_name }}"),
    ),
    (Event.OUT_FOR_DELIVERY, Channel.EMAIL): TemplateSpec(
        enabled=True,
        subject=_("您的包裹正在派送中（订单 {{ platform_order_id }}）"),
        body=_("{{ receiver_name }}您好：\n\n"
               "您的包裹（{{ carrier_name }} {{ tracking_number }}）正在派送中，请留意收货。\n\n"
               "查看物流：{{ tracking_url }}\n\n"
               "—— {{ shop_name }}"),
    ),
    (Event.DELIVERED, Channel.EMAIL): TemplateSpec(
        enabled=True,
        subject=_("您的包裹已签收（订单 {{ platform_order_id }}）"),
        body=_("{{ receiver_name }}您好：\n\n"
               "您的包裹（{{ carrier_name }} {{ tracking_number }}）已签收，感谢惠顾。\n\n"
               "—— {{ shop_name }}"),
    ),
    (Event.LOW_STOCK, Channel.EMAIL): TemplateSpec(
        enabled=True,
        subject=_("[库存预警] {{ sku_code }} {{ sku_name }} 可用库存 {{ available }}"),
        body=_("{{ contact_name }}您好：\n\n"
               "{{ tenant_name }} 的商品 {{ sku_code }}（{{ sku_name }}）在{{ warehouse_name }}的可用库存为 {{ available }}，"
               "已低于补货点 {{ reorder_point }}，请安排采购。\n\n"
               "查看：{{ sku_url }}\n\n"
               "—— 聚合订单管理系统"),
    ),
    # internal SMS alerts cost money per message: off unless the tenant turns them on
    (Event.LOW_STOCK, Channel.SMS): TemplateSpec(
        enabled=False,
        body=_("库存预警：{{ sku_code }} 在{{ warehouse_name }}可用 {{ available }}，低于补货点 {{ reorder_point }}。"),
        sms_template_code="SMS_OMS_LOW_STOCK",
        sms_params={"sku": "{{ sku_code }}", "warehouse": "{{ warehouse_name }}", "available": "{{ available }}",
                    "point": "{{ reorder_point }}"},
    ),
}

#: which channels each event goes out on (a channel without a default is never used for it)
EVENT_CHANNELS: dict[str, list[str]] = {}
for _event, _channel in DEFAULTS:
    EVENT_CHANNELS.setdefault(_event, []).append(_channel)
