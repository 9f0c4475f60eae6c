"""Domain signals -> outbox rows: shipped / out for delivery / delivered for the buyer,
low-stock alerts for purchasing contacts; de-duplication, per-tenant switches, robustness."""

import logging

import pytest
from django.core import mail
from django.db import transaction

from inventory import services as inventory_services
from inventory.models import Sku, Warehouse
from notifications import services
from notifications.models import Notification
from oms import signals
from tests import factories
from tests.factories_inventory import ReorderPointFactory
from tests.factories_notifications import ContactFactory, NotificationTemplateFactory, SmsAccountFactory

from .conftest import BUYER_PHONE

pytestmark = pytest.mark.django_db


def ship(tenant, shipment):
    """What logistics does: send shipment_shipped inside its transaction."""
    with transaction.atomic():
        signals.shipment_shipped.send(sender=None, tenant_id=tenant.pk, shipment_id=shipment.pk,
                                      order_id=shipment.order_id, lines=[], carrier_code="SF",
                                      tracking_number=shipment.tracking_number)


def status_changed(tenant, shipment, status):
    with transaction.atomic():
        signals.shipment_status_changed.send(sender=None, tenant_id=tenant.pk, shipment_id=shipment.pk,
                                             order_id=shipment.order_id, status=status)


def send_all_due(tenant):
    for n in Notification.objects.for_tenant(tenant).filter(status="queued").order_by("pk"):
        services.notification_send(tenant_id=tenant.pk, notification_id=n.pk)


def test_shipped_queues_one_sms_for_the_buyer_in_the_senders_transaction(
        tenant, sms_account, shipment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        ship(tenant, shipment)
    n = Notification.objects.for_tenant(tenant).get()
    assert n.dedupe_key == f"shipped:shipment:{shipment.pk}:sms"
    assert (n.channel, n.template, n.status, n.recipient) == ("sms", "shipped", "queued", BUYER_PHONE)
    assert (n.order_id, n.shipment_id) == (shipment.order_id, shipment.pk)
    assert "SF1234567890" in n.body and "顺丰速运" in n.body and "3900000012345" in n.body
    assert n.context["tracking_url"] == "http://127.0.0.1:8000/logistics/track/?order=3900000012345"
    assert BUYER_PHONE not in str(n.context)  # the stored render context holds no phone number
    assert (services._schedule_send, (tenant.pk, n.pk)) in [(getattr(cb, "func", None), getattr(cb, "args", None))
                                                            for cb in callbacks]


def test_the_outbox_row_rolls_back_with_the_sender(tenant, sms_account, shipment):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            signals.shipment_shipped.send(sender=None, tenant_id=tenant.pk, shipment_id=shipment.pk,
                                          order_id=shipment.order_id, lines=[], carrier_code="SF",
                                          tracking_number=shipment.tracking_number)
            raise RuntimeError("the shipment failed")
    assert not Notification.objects.exists()


def test_the_same_event_twice_gives_one_row_and_one_message(tenant, sms_account, sms_sandbox, shipment,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as first:
        ship(tenant, shipment)
    with django_capture_on_commit_callbacks() as second:
        ship(tenant, shipment)
    assert Notification.objects.for_tenant(tenant).count() == 1
    ours = [cb for cb in first + second if getattr(cb, "func", None) is services._schedule_send]
    assert len(ours) == 1  # the repeat schedules no second send
    send_all_due(tenant)
    send_all_due(tenant)
    assert [m["phone"] for m in sms_sandbox.state.messages] == [BUYER_PHONE]


def test_out_for_delivery_and_delivered_each_send_once(tenant, sms_account, sms_sandbox, shipment):
    for status in ("in_transit", "out_for_delivery", "out_for_delivery", "delivered", "problem", "delivered"):
        status_changed(tenant, shipment, status)
    rows = Notification.objects.for_tenant(tenant).order_by("pk")
    assert [(n.template, n.dedupe_key) for n in rows] == [
        ("out_for_delivery", f"out_for_delivery:shipment:{shipment.pk}:sms"),
        ("delivered", f"delivered:shipment:{shipment.pk}:sms"),
    ]
    send_all_due(tenant)
    assert [m["template_code"] for m in sms_sandbox.state.messages] == ["SMS_OMS_OUT_FOR_DELIVERY", "SMS_OMS_DELIVERED"]
    assert sms_sandbox.state.messages[1]["template_param"]["no"] == "SF1234567890"


def test_per_tenant_switches_are_respected(tenant, other_tenant, sms_account, shipment):
    NotificationTemplateFactory(tenant=tenant, event="shipped", channel="sms", enabled=False)
    SmsAccountFactory(tenant=other_tenant)
    other_order = factories.OrderFactory(tenant=other_tenant, receiver_phone="13700001111")
    other_shipment = factories.ShipmentFactory(tenant=other_tenant, order=other_order)

    ship(tenant, shipment)
    ship(other_tenant, other_shipment)
    status_changed(tenant, shipment, "delivered")

    assert not Notification.objects.for_tenant(tenant).filter(template="shipped").exists()
    assert Notification.objects.for_tenant(tenant).filter(template="delivered").count() == 1  # still on by default
    assert Notification.objects.for_tenant(other_tenant).filter(template="shipped").count() == 1


def test_no_sms_is_queued_without_an_sms_account(tenant, shipment):
    ship(tenant, shipment)
    assert not Notification.objects.exists()


def test_a_tenants_own_template_is_used(tenant, sms_account, sms_sandbox, shipment):
    NotificationTemplateFactory(tenant=tenant, event="shipped", channel="sms", sms_template_code="SMS_465001",
                                sms_params={"nu": "{{ carrier_name }}{{ tracking_number }}", "who": "{{ receiver_name }}"},
                                body="{{ receiver_name }}：{{ carrier_name }} {{ tracking_number }}")
    ship(tenant, shipment)
    n = Notification.objects.get()
    assert n.body == "李四：顺丰速运 SF1234567890"
    send_all_due(tenant)
    [msg] = sms_sandbox.state.messages
    assert msg["template_code"] == "SMS_465001"
    assert msg["template_param"] == {"nu": "顺丰速运SF1234567890", "who": "李四"}


def test_a_masked_phone_is_recorded_as_failed_and_never_sent(tenant, sms_account, sms_sandbox):
    order = factories.OrderFactory(tenant=tenant, receiver_phone="139****5678")
    shipment = factories.ShipmentFactory(tenant=tenant, order=order)
    ship(tenant, shipment)
    n = Notification.objects.get()
    assert n.status == "failed" and "手机号" in n.error
    send_all_due(tenant)
    assert sms_sandbox.state.requests == 0


def test_a_broken_tenant_template_never_breaks_the_shipment(tenant, sms_account, shipment):
    NotificationTemplateFactory(tenant=tenant, event="shipped", channel="sms", body="{% if %}broken",
                                sms_params={"no": "{{ tracking_number"})
    with transaction.atomic():
        signals.shipment_shipped.send(sender=None, tenant_id=tenant.pk, shipment_id=shipment.pk,
                                      order_id=shipment.order_id, lines=[], carrier_code="SF",
                                      tracking_number=shipment.tracking_number)
        factories.OrderEventFactory(tenant=tenant, order=shipment.order, message="发货")  # the sender goes on
    n = Notification.objects.get()
    assert n.status == "failed" and "模板错误" in n.error
    assert shipment.order.events.filter(message="发货").exists()


def test_an_unknown_order_is_logged_not_raised(tenant, sms_account, caplog):
    with caplog.at_level(logging.ERROR):
        signals.shipment_shipped.send(sender=None, tenant_id=tenant.pk, shipment_id=999, order_id=999, lines=[],
                                      carrier_code="SF", tracking_number="SF1")
    assert not Notification.objects.exists()
    assert "shipment=999" in caplog.text


# ---- low stock -> purchasing contacts --------------------------------------------------------

@pytest.fixture
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "OMS <oms@example.com>"
    mail.outbox = []
    return mail.outbox


def raise_low_stock(tenant, *, alert_id=41, sku=None, warehouse=None):
    sku = sku or (Sku.objects.for_tenant(tenant).filter(code="TS-RED-M").first()
                  or factories.SkuFactory(tenant=tenant, code="TS-RED-M", name="红色T恤 M"))
    warehouse = warehouse or (Warehouse.objects.for_tenant(tenant).filter(name="杭州仓").first()
                              or factories.WarehouseFactory(tenant=tenant, name="杭州仓"))
    signals.low_stock_alert_raised.send(sender=None, tenant_id=tenant.pk, alert_id=alert_id, sku_id=sku.pk,
                                        warehouse_id=warehouse.pk, available=3, reorder_point=10)
    return sku, warehouse


def test_low_stock_alert_emails_the_purchasing_contacts(tenant, other_tenant, locmem_mail):
    alice = ContactFactory(tenant=tenant, name="王采购", email="buyer-a@example.com")
    bob = ContactFactory(tenant=tenant, name="赵采购", email="buyer-b@example.com")
    ContactFactory(tenant=tenant, name="客服", email="cs@example.com", is_purchasing=False)
    ContactFactory(tenant=tenant, name="离职", email="gone@example.com", active=False)
    ContactFactory(tenant=other_tenant, name="别家", email="other@example.com")

    raise_low_stock(tenant)
    raise_low_stock(tenant)  # the same alert again: nothing new
    rows = Notification.objects.for_tenant(tenant).order_by("pk")
    assert [(n.channel, n.recipient) for n in rows] == [("email", alice.email), ("email", bob.email)]
    assert rows[0].dedupe_key == f"low_stock:alert:41:email:contact:{alice.pk}"
    assert not Notification.objects.for_tenant(other_tenant).exists()

    send_all_due(tenant)
    assert sorted(m.to[0] for m in locmem_mail) == ["buyer-a@example.com", "buyer-b@example.com"]
    msg = next(m for m in locmem_mail if m.to == ["buyer-a@example.com"])
    assert msg.subject == "[库存预警] TS-RED-M 红色T恤 M 可用库存 3"
    assert "王采购您好" in msg.body and "杭州仓" in msg.body and "补货点 10" in msg.body
    assert msg.from_email == "OMS <oms@example.com>"
    assert all(n.status == "sent" for n in Notification.objects.for_tenant(tenant))


def test_low_stock_sms_is_off_by_default_and_can_be_switched_on(tenant, sms_account, sms_sandbox, locmem_mail):
    ContactFactory(tenant=tenant, email="", phone="13700002222")
    raise_low_stock(tenant, alert_id=1)
    assert not Notification.objects.exists()

    NotificationTemplateFactory(tenant=tenant, event="low_stock", channel="sms", enabled=True,
                                sms_template_code="SMS_200", sms_params={"sku": "{{ sku_code }}"}, body="{{ sku_code }}")
    raise_low_stock(tenant, alert_id=2)
    n = Notification.objects.get()
    assert (n.channel, n.recipient) == ("sms", "13700002222")
    send_all_due(tenant)
    assert [(m["phone"], m["template_param"]) for m in sms_sandbox.state.messages] == [("13700002222", {"sku": "TS-RED-M"})]


def test_a_new_low_stock_alert_from_inventory_reaches_purchasing(tenant, locmem_mail,
                                                                 django_capture_on_commit_callbacks):
    """End to end with inventory's real evaluation: an alert opens and is signalled on commit."""
    ContactFactory(tenant=tenant, name="王采购", email="buyer-a@example.com")
    point = ReorderPointFactory(tenant=tenant, reorder_point=5)
    with django_capture_on_commit_callbacks(execute=True):
        inventory_services.low_stock_evaluate(tenant_id=tenant.pk, sku_ids=[point.sku_id])
    n = Notification.objects.for_tenant(tenant).get()
    assert n.template == "low_stock" and n.recipient == "buyer-a@example.com"
    assert point.sku.code in n.subject
    send_all_due(tenant)
    assert [m.to for m in locmem_mail] == [["buyer-a@example.com"]]


def test_logs_never_contain_phone_numbers(tenant, sms_account, sms_sandbox, shipment, caplog,
                                          django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    sms_sandbox.state.inject("http500", 4)
    ship(tenant, shipment)
    status_changed(tenant, shipment, "delivered")
    sms_sandbox.state.inject("illegal")
    send_all_due(tenant)
    shipped = Notification.objects.get(template="shipped", shipment_id=shipment.pk)
    assert shipped.status == "queued"  # 5xx three times: backing off
    assert services.notification_send(tenant_id=tenant.pk, notification_id=shipped.pk,
                                      now=shipped.next_attempt_at).status == "sent"
    assert Notification.objects.get(template="delivered").status == "failed"  # the illegal number
    masked = factories.ShipmentFactory(tenant=tenant, order=factories.OrderFactory(tenant=tenant,
                                                                                   receiver_phone="13812345678x"))
    ship(tenant, masked)
    assert caplog.records, "the flow should have logged something"
    assert BUYER_PHONE not in caplog.text and "13812345678" not in caplog.text
    assert BUYER_PHONE not in "".join(Notification.objects.values_list("error", flat=True))
    # the log lines name tenant and notification ids
    n = Notification.objects.filter(template="shipped", shipment_id=shipment.pk).get()
    assert f"tenant={tenant.pk} notification={n.pk}" in caplog.text
