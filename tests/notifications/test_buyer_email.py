"""The buyer's e-mail (where the platform sent one): shipment messages go there through the outbox
and the e-mail backend, in the buyer's language, as the tenant's templates say; staff see it
masked (outbox, order page, customer-service lookup), the full address is only in the message."""

import logging

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from logistics.models import Carrier
from logistics.services import shipment_ship
from notifications import services, tasks
from notifications.models import Notification
from oms import signals
from oms.privacy import mask_email
from tests import factories
from tests.factories_notifications import NotificationTemplateFactory

from .conftest import BUYER_PHONE

pytestmark = pytest.mark.django_db

EMAIL = "alice.smith@example.com"
MASKED = "a***h@example.com"


@pytest.fixture
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "OMS <oms@example.com>"
    mail.outbox = []
    return mail.outbox


def labelled(tenant, **order):
    """A parcel with its waybill number, ready to leave (what bulk ship has before mark-shipped)."""
    sf = Carrier.objects.get_or_create(code="SF", defaults={"name": "顺丰速运"})[0]
    order = factories.OrderFactory(tenant=tenant, status="picking", platform_order_id=order.pop("pid", "SO-1001"),
                                   receiver_name=order.pop("receiver_name", "Alice Smith"), **order)
    return factories.ShipmentFactory(tenant=tenant, order=order, carrier=sf, status="labelled",
                                     tracking_number=order_tracking.get(order.platform_order_id, "SF1234567890"))


order_tracking = {"T-2": "SF2234567890"}


def ship(tenant, shipment, callbacks):
    """Mark the parcel shipped through logistics, then run what was scheduled on commit: the
    send task of each queued message (as the worker would; other apps' tasks are not ours here)."""
    with callbacks() as scheduled:
        shipment_ship(tenant_id=tenant.pk, shipment_id=shipment.pk)
    for cb in scheduled:
        if getattr(cb, "func", None) is services._schedule_send:
            tasks.send_notification(*cb.args)


def test_a_shipped_order_with_a_buyer_email_is_told_by_email_in_the_buyers_language(
        tenant, locmem_mail, django_capture_on_commit_callbacks, caplog, owner_client):
    caplog.set_level(logging.DEBUG)
    shipment = labelled(tenant, platform="shopify", buyer_email=EMAIL, receiver_phone="", receiver_country="US")
    ship(tenant, shipment, django_capture_on_commit_callbacks)

    n = Notification.objects.for_tenant(tenant).get()  # no SMS account, no phone: the e-mail only
    assert (n.channel, n.template, n.status, n.recipient) == ("email", "shipped", "sent", EMAIL)
    assert n.dedupe_key == f"shipped:shipment:{shipment.pk}:email"
    [msg] = locmem_mail
    assert msg.to == [EMAIL] and msg.from_email == "OMS <oms@example.com>"
    assert msg.subject == f"Your order SO-1001 from {shipment.order.shop.name} has shipped"
    assert "Hello Alice Smith" in msg.body and "SF1234567890" in msg.body
    assert "/logistics/track/?order=SO-1001" in msg.body
    assert EMAIL not in str(n.context)  # the stored render context holds no address
    # staff see the address masked; the full one is only in the message itself
    assert EMAIL not in caplog.text and f"tenant={tenant.pk} notification={n.pk}" in caplog.text
    for url in (reverse("notifications:list"), reverse("notifications:detail", args=[n.pk]),
                reverse("orders:detail", args=[shipment.order_id])):
        html = owner_client.get(url).content.decode()
        assert MASKED in html and EMAIL not in html, url


def test_no_email_is_queued_when_the_platform_sent_none(tenant, locmem_mail, sms_account,
                                                        django_capture_on_commit_callbacks):
    shipment = labelled(tenant, buyer_email="", receiver_phone=BUYER_PHONE)
    ship(tenant, shipment, django_capture_on_commit_callbacks)
    assert list(Notification.objects.for_tenant(tenant).values_list("channel", flat=True)) == ["sms"]
    assert locmem_mail == []


def test_a_buyer_abroad_without_a_valid_phone_still_gets_the_email(tenant, locmem_mail, sms_account, sms_sandbox,
                                                                   django_capture_on_commit_callbacks):
    shipment = labelled(tenant, platform="woocommerce", receiver_phone="+1 555 01", receiver_country="GB",
                        buyer_email="jane@example.co.uk")
    ship(tenant, shipment, django_capture_on_commit_callbacks)
    rows = {n.channel: n for n in Notification.objects.for_tenant(tenant)}
    assert rows["sms"].status == "failed" and "手机号" in rows["sms"].error  # recorded, never sent
    assert rows["email"].status == "sent"
    assert [m.to for m in locmem_mail] == [["jane@example.co.uk"]]
    assert sms_sandbox.state.requests == 0


def test_an_amazon_buyer_is_told_by_amazon_not_by_us(tenant, locmem_mail, sms_account, sms_sandbox,
                                                      django_capture_on_commit_callbacks):
    """Amazon forbids sellers' shipping confirmations (and any contact outside its relay)."""
    shipment = labelled(tenant, platform="amazon", receiver_phone=BUYER_PHONE, receiver_country="GB",
                        buyer_email="x7k2p9q@marketplace.amazon.co.uk")
    ship(tenant, shipment, django_capture_on_commit_callbacks)
    with transaction.atomic():
        signals.shipment_status_changed.send(sender=None, tenant_id=tenant.pk, shipment_id=shipment.pk,
                                             order_id=shipment.order_id, status="delivered")
    assert not Notification.objects.exists()
    assert locmem_mail == [] and sms_sandbox.state.requests == 0


def test_a_buyer_with_both_gets_what_the_tenants_templates_say(tenant, other_tenant, locmem_mail, sms_account,
                                                               sms_sandbox, django_capture_on_commit_callbacks):
    both = labelled(tenant, pid="T-1", buyer_email=EMAIL, receiver_phone=BUYER_PHONE, receiver_name="李四")
    ship(tenant, both, django_capture_on_commit_callbacks)
    assert sorted(Notification.objects.for_tenant(tenant).values_list("channel", "status")) == [
        ("email", "sent"), ("sms", "sent")]
    [msg] = locmem_mail
    assert msg.subject == f"您在{both.order.shop.name}的订单 T-1 已发货"  # a buyer in China reads Chinese
    assert "李四您好" in msg.body and "顺丰速运" in msg.body
    assert [m["phone"] for m in sms_sandbox.state.messages] == [BUYER_PHONE]

    # the tenant turns the shipped e-mail off, and words the delivered one itself
    NotificationTemplateFactory(tenant=tenant, event="shipped", channel="email", enabled=False)
    NotificationTemplateFactory(tenant=tenant, event="delivered", channel="email", subject="签收 {{ tracking_number }}",
                                body="{{ receiver_name }}，包裹已签收")
    second = labelled(tenant, pid="T-2", buyer_email="bob@example.com", receiver_phone="13700001111")
    mail.outbox.clear()
    ship(tenant, second, django_capture_on_commit_callbacks)
    assert list(Notification.objects.for_tenant(tenant).filter(shipment_id=second.pk).values_list(
        "channel", flat=True)) == ["sms"]
    with transaction.atomic():
        signals.shipment_status_changed.send(sender=None, tenant_id=tenant.pk, shipment_id=second.pk,
                                             order_id=second.order_id, status="delivered")
    delivered = Notification.objects.for_tenant(tenant).get(shipment_id=second.pk, template="delivered",
                                                            channel="email")
    assert (delivered.recipient, delivered.subject, delivered.body) == (
        "bob@example.com", "签收 SF2234567890", "Alice Smith，包裹已签收")
    assert not Notification.objects.for_tenant(other_tenant).exists()


def test_out_for_delivery_and_delivered_are_emailed_once_each(tenant, locmem_mail):
    shipment = labelled(tenant, buyer_email=EMAIL, receiver_phone="", receiver_country="DE")
    for status in ("in_transit", "out_for_delivery", "out_for_delivery", "delivered", "delivered"):
        with transaction.atomic():
            signals.shipment_status_changed.send(sender=None, tenant_id=tenant.pk, shipment_id=shipment.pk,
                                                 order_id=shipment.order_id, status=status)
    rows = list(Notification.objects.for_tenant(tenant).order_by("pk"))
    assert [(n.template, n.channel, n.recipient) for n in rows] == [
        ("out_for_delivery", "email", EMAIL), ("delivered", "email", EMAIL)]
    for n in rows:
        services.notification_send(tenant_id=tenant.pk, notification_id=n.pk)
    assert [m.subject for m in locmem_mail] == ["Your parcel is out for delivery (order SO-1001)",
                                                "Your parcel has been delivered (order SO-1001)"]


@pytest.mark.parametrize("email, masked", [
    ("alice.smith@example.com", "a***h@example.com"),
    ("ab@example.com", "a***@example.com"),
    ("x@shop.cn", "x***@shop.cn"),
    ("not-an-address", "***"),
    ("", ""),
])
def test_the_email_mask_keeps_the_domain(email, masked):
    assert mask_email(email) == masked
