"""Factories of the notifications app (merged into tests.factories.FACTORIES)."""

import factory

from notifications.models import Contact, NotificationTemplate, SmsAccount
from tests.factories import TenantOwnedFactory


class NotificationTemplateFactory(TenantOwnedFactory):
    class Meta:
        model = NotificationTemplate
        django_get_or_create = ("tenant", "event", "channel")

    event = "shipped"
    channel = "sms"
    enabled = True
    body = "{{ receiver_name }} 您的订单 {{ platform_order_id }} 已发货"
    sms_template_code = "SMS_100000001"
    sms_params = factory.LazyFunction(lambda: {"no": "{{ tracking_number }}"})


class ContactFactory(TenantOwnedFactory):
    class Meta:
        model = Contact

    name = factory.Sequence(lambda n: f"采购{n}")
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    phone = factory.Sequence(lambda n: f"1390000{n:04d}")
    is_purchasing = True


class SmsAccountFactory(TenantOwnedFactory):
    class Meta:
        model = SmsAccount
        django_get_or_create = ("tenant",)

    sign_name = "测试店铺"
    credentials = factory.LazyFunction(lambda: {"access_key_id": "LTAI-test-key", "access_key_secret": "test-secret-1"})
    api_base_url = "http://127.0.0.1:9/"


FACTORIES = {f._meta.model: f for f in [NotificationTemplateFactory, ContactFactory, SmsAccountFactory]}
