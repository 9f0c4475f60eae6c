"""The outbox pages and the admin: masked recipients, tenant isolation (404), roles."""

import pytest
from django.urls import reverse

from notifications.models import Notification, NotificationTemplate, SmsAccount
from tests import factories
from tests.factories_notifications import SmsAccountFactory

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


@pytest.fixture
def mine(tenant):
    return factories.NotificationFactory(tenant=tenant, recipient=PHONE, status="failed", error="isv.AMOUNT_NOT_ENOUGH",
                                         body="李四您好，您的订单已发货", sms_template_code="SMS_1",
                                         sms_params={"no": "SF1"})


@pytest.fixture
def theirs(other_tenant):
    return factories.NotificationFactory(tenant=other_tenant, recipient="13700009999", body="别家的通知",
                                         status="failed")


def test_the_outbox_lists_own_messages_with_masked_recipients(owner_client, mine, theirs):
    resp = owner_client.get(reverse("notifications:list"))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "139****5678" in html
    assert PHONE not in html
    assert reverse("notifications:detail", args=[mine.pk]) in html
    assert reverse("notifications:detail", args=[theirs.pk]) not in html and "137****9999" not in html


def test_the_outbox_filters_by_status(owner_client, tenant, mine):
    sent = factories.NotificationFactory(tenant=tenant, status="sent", recipient="13700001234")
    html = owner_client.get(reverse("notifications:list"), {"status": "sent"}).content.decode()
    assert reverse("notifications:detail", args=[sent.pk]) in html
    assert reverse("notifications:detail", args=[mine.pk]) not in html


def test_the_detail_page_shows_the_message_and_masks_the_phone(owner_client, mine):
    html = owner_client.get(reverse("notifications:detail", args=[mine.pk])).content.decode()
    assert "李四您好，您的订单已发货" in html and "isv.AMOUNT_NOT_ENOUGH" in html and "SMS_1" in html
    assert "139****5678" in html and PHONE not in html
    assert reverse("notifications:retry", args=[mine.pk]) in html


def test_another_tenants_ids_answer_404(owner_client, theirs):
    assert owner_client.get(reverse("notifications:detail", args=[theirs.pk])).status_code == 404
    assert owner_client.post(reverse("notifications:retry", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "failed"
    assert owner_client.get(reverse("notifications:detail", args=[999999])).status_code == 404


def test_retry_from_the_page_requeues_the_message(owner_client, mine):
    resp = owner_client.post(reverse("notifications:retry", args=[mine.pk]))
    assert resp.status_code == 302
    mine.refresh_from_db()
    assert mine.status == "queued" and mine.attempts == 0


def test_a_read_only_member_sees_but_cannot_retry(client, tenant, mine):
    client.force_login(factories.member(tenant, "readonly"))
    html = client.get(reverse("notifications:detail", args=[mine.pk])).content.decode()
    assert "李四您好" in html and reverse("notifications:retry", args=[mine.pk]) not in html
    assert client.post(reverse("notifications:retry", args=[mine.pk])).status_code == 403
    mine.refresh_from_db()
    assert mine.status == "failed"


def test_warehouse_staff_cannot_open_the_outbox(client, tenant, mine):
    client.force_login(factories.member(tenant, "warehouse"))
    assert client.get(reverse("notifications:list")).status_code == 403


def test_installing_the_default_templates(owner_client, tenant, other_tenant):
    resp = owner_client.post(reverse("notifications:install_defaults"))
    assert resp.status_code == 302
    rows = NotificationTemplate.objects.for_tenant(tenant)
    assert {(t.event, t.channel, t.enabled) for t in rows} == {
        ("shipped", "sms", True), ("out_for_delivery", "sms", True), ("delivered", "sms", True),
        ("shipped", "email", True), ("out_for_delivery", "email", True), ("delivered", "email", True),
        ("low_stock", "email", True), ("low_stock", "sms", False)}
    assert "{{ tracking_url }}" in rows.get(event="shipped", channel="sms").body
    assert "{{ tracking_number }}" in rows.get(event="shipped", channel="email").body
    assert not NotificationTemplate.objects.for_tenant(other_tenant).exists()
    owner_client.post(reverse("notifications:install_defaults"))  # again: nothing duplicated
    assert NotificationTemplate.objects.for_tenant(tenant).count() == 8


def test_admin_shows_recipients_masked(owner_client, mine):
    html = owner_client.get(reverse("admin:notifications_notification_changelist")).content.decode()
    assert "139****5678" in html and PHONE not in html
    html = owner_client.get(reverse("admin:notifications_notification_change", args=[mine.pk])).content.decode()
    assert "139****5678" in html and PHONE not in html


def test_admin_retry_action(owner_client, mine):
    resp = owner_client.post(reverse("admin:notifications_notification_changelist"),
                             {"action": "retry_selected", "_selected_action": [mine.pk]})
    assert resp.status_code == 302
    mine.refresh_from_db()
    assert mine.status == "queued"


def test_admin_template_form_rejects_broken_syntax(owner_client, tenant):
    resp = owner_client.post(reverse("admin:notifications_notificationtemplate_add"), {
        "event": "shipped", "channel": "sms", "enabled": "on", "subject": "", "body": "{% if %}",
        "sms_template_code": "SMS_1", "sms_params": "{}"})
    assert resp.status_code == 200 and "模板错误" in resp.content.decode()
    assert not NotificationTemplate.objects.exists()


def test_sms_credentials_are_write_only_in_the_admin(owner_client, tenant):
    resp = owner_client.post(reverse("admin:notifications_smsaccount_add"), {
        "provider": "aliyun", "sign_name": "一个服装店", "api_base_url": "", "region_id": "cn-hangzhou",
        "enabled": "on", "access_key_id": "LTAI5tAbCdEf", "access_key_secret": "super-secret-value"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    account = SmsAccount.objects.for_tenant(tenant).get()
    assert account.credentials == {"access_key_id": "LTAI5tAbCdEf", "access_key_secret": "super-secret-value"}
    html = owner_client.get(reverse("admin:notifications_smsaccount_change", args=[account.pk])).content.decode()
    assert "super-secret-value" not in html and "LTAI5tAbCdEf" not in html
    # saving without new credentials keeps the old ones
    owner_client.post(reverse("admin:notifications_smsaccount_change", args=[account.pk]), {
        "provider": "aliyun", "sign_name": "改名", "api_base_url": "", "region_id": "cn-hangzhou", "enabled": "on",
        "access_key_id": "", "access_key_secret": ""})
    account.refresh_from_db()
    assert account.sign_name == "改名" and account.credentials["access_key_secret"] == "super-secret-value"


def test_sms_account_is_one_per_tenant_and_scoped(owner_client, tenant, other_tenant):
    theirs = SmsAccountFactory(tenant=other_tenant)
    assert owner_client.get(reverse("admin:notifications_smsaccount_change", args=[theirs.pk])).status_code == 404
    assert Notification.objects.count() == 0
