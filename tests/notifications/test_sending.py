"""Sending through the outbox to the Aliyun SMS sandbox over real HTTP: what arrives, retries
with backoff, permanent errors, leases, staff retries and the periodic re-send."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import selectors, services, tasks
from notifications.models import Notification
from oms.celery import app as celery_app

from .conftest import BUYER_PHONE

pytestmark = pytest.mark.django_db


def _enqueue(tenant, shipment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        rows = services.notify_shipment_event(tenant_id=tenant.pk, event="shipped", shipment_id=shipment.pk,
                                              order_id=shipment.order_id)
    assert len(rows) == 1
    return rows[0], callbacks


def test_a_shipped_sms_arrives_with_the_right_phone_template_and_params(
        tenant, sms_account, sms_sandbox, shipment, django_capture_on_commit_callbacks):
    n, callbacks = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    # the send is scheduled after commit, with ids only
    assert [(cb.func, cb.args) for cb in callbacks] == [(services._schedule_send, (tenant.pk, n.pk))]

    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk)

    assert row.status == Notification.Status.SENT and row.attempts == 1 and row.sent_at is not None
    [msg] = sms_sandbox.state.messages
    assert msg["phone"] == BUYER_PHONE
    assert msg["sign_name"] == sms_account.sign_name
    assert msg["template_code"] == "SMS_OMS_SHIPPED"
    assert msg["template_param"] == {
        "name": "李四", "order": "3900000012345", "company": "顺丰速运", "no": "SF1234567890",
        "link": "http://127.0.0.1:8000/logistics/track/?order=3900000012345"}
    assert msg["out_id"] == str(n.pk)
    assert row.provider_message_id == msg["biz_id"]
    # sending again is a no-op: nothing more reaches the provider
    assert services.notification_send(tenant_id=tenant.pk, notification_id=n.pk) is None
    assert sms_sandbox.state.requests == 1


def test_the_public_tracking_link_uses_the_configured_base_url(tenant, sms_account, shipment, settings,
                                                               django_capture_on_commit_callbacks):
    settings.OMS_PUBLIC_BASE_URL = "https://oms.example.com/"
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    assert n.sms_params["link"] == "https://oms.example.com/logistics/track/?order=3900000012345"
    assert "https://oms.example.com/logistics/track/?order=3900000012345" in n.body


def test_5xx_is_retried_within_the_call_with_backoff_then_succeeds(
        tenant, sms_account, sms_sandbox, shipment, django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    sms_sandbox.state.inject("http500", 2)
    slept = []
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, sleep=slept.append)
    assert row.status == Notification.Status.SENT and row.attempts == 1
    assert sms_sandbox.state.requests == 3
    assert len(sms_sandbox.state.messages) == 1
    assert len(slept) == 2 and slept[1] > slept[0]  # exponential backoff between the attempts


def test_persistent_5xx_backs_off_in_the_outbox_then_succeeds(
        tenant, sms_account, sms_sandbox, shipment, django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    sms_sandbox.state.inject("http500", 3)  # every attempt of one call
    now = timezone.now()
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=now, sleep=lambda s: None)
    assert row.status == Notification.Status.QUEUED and row.attempts == 1
    assert "HTTP 500" in row.error
    first_delay = row.next_attempt_at - now
    assert timedelta(seconds=50) <= first_delay <= timedelta(seconds=70)
    assert sms_sandbox.state.messages == []

    # not due yet: nothing is sent
    assert services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=now + timedelta(seconds=5)) is None
    assert sms_sandbox.state.requests == 3
    assert selectors.notifications_due(now=now + timedelta(seconds=5)) == []
    assert selectors.notifications_due(now=row.next_attempt_at) == [(tenant.pk, n.pk)]

    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=row.next_attempt_at)
    assert row.status == Notification.Status.SENT and row.attempts == 2 and row.error == ""
    assert [m["phone"] for m in sms_sandbox.state.messages] == [BUYER_PHONE]


def test_throttling_backs_off_exponentially_and_is_not_hammered_within_the_call(
        tenant, sms_account, sms_sandbox, shipment, django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    sms_sandbox.state.inject("throttle", 2)
    now = timezone.now()
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=now)
    assert sms_sandbox.state.requests == 1  # business throttling: the outbox waits minutes, not the call
    assert row.status == Notification.Status.QUEUED and "isv.BUSINESS_LIMIT_CONTROL" in row.error
    delay1 = row.next_attempt_at - now
    now2 = row.next_attempt_at
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=now2)
    delay2 = row.next_attempt_at - now2
    assert row.attempts == 2 and delay2 > delay1 * 1.5
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=row.next_attempt_at)
    assert row.status == Notification.Status.SENT and row.attempts == 3
    assert len(sms_sandbox.state.messages) == 1


def test_transient_failures_stop_after_the_attempt_limit(
        tenant, sms_account, sms_sandbox, shipment, django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    sms_sandbox.state.inject("throttle", services.MAX_ATTEMPTS + 5)
    now = timezone.now()
    for _ in range(services.MAX_ATTEMPTS):
        row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=now)
        now = row.next_attempt_at
    assert row.status == Notification.Status.FAILED
    assert row.attempts == services.MAX_ATTEMPTS
    assert "isv.BUSINESS_LIMIT_CONTROL" in row.error and str(services.MAX_ATTEMPTS) in row.error
    assert services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=now + timedelta(days=1)) is None
    assert sms_sandbox.state.requests == services.MAX_ATTEMPTS
    assert sms_sandbox.state.messages == []


def test_an_illegal_number_fails_at_once_without_retries(
        tenant, sms_account, sms_sandbox, shipment, django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    sms_sandbox.state.inject("illegal")
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk)
    assert row.status == Notification.Status.FAILED and row.attempts == 1
    assert "isv.MOBILE_NUMBER_ILLEGAL" in row.error and BUYER_PHONE not in row.error
    assert sms_sandbox.state.requests == 1
    assert selectors.notifications_due(now=timezone.now() + timedelta(days=1)) == []


def test_a_dropped_connection_is_transient(tenant, sms_account, sms_sandbox, shipment,
                                           django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    sms_sandbox.state.inject("timeout", 3)
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk)
    assert row.status == Notification.Status.QUEUED and row.attempts == 1
    assert sms_sandbox.state.requests == 3 and sms_sandbox.state.messages == []


def test_a_row_claimed_by_another_worker_is_skipped(tenant, sms_account, sms_sandbox, shipment,
                                                    django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    now = timezone.now()
    Notification.objects.filter(pk=n.pk).update(locked_until=now + timedelta(minutes=2))
    assert services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=now) is None
    assert selectors.notifications_due(now=now) == []
    assert sms_sandbox.state.requests == 0
    # the lease of a dead worker expires, and the message goes out
    later = now + timedelta(minutes=3)
    assert selectors.notifications_due(now=later) == [(tenant.pk, n.pk)]
    assert services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=later).status == "sent"


def test_another_tenants_id_is_not_sent(tenant, other_tenant, sms_account, sms_sandbox, shipment,
                                        django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    assert services.notification_send(tenant_id=other_tenant.pk, notification_id=n.pk) is None
    assert sms_sandbox.state.requests == 0


def test_staff_retry_requeues_a_failed_message(tenant, sms_account, sms_sandbox, shipment,
                                               django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    sms_sandbox.state.inject("no_credit", services.MAX_ATTEMPTS)
    Notification.objects.filter(pk=n.pk).update(attempts=services.MAX_ATTEMPTS - 1)
    assert services.notification_send(tenant_id=tenant.pk, notification_id=n.pk).status == "failed"
    sms_sandbox.state.reset()
    with django_capture_on_commit_callbacks() as callbacks:
        row = services.notification_retry(tenant_id=tenant.pk, notification_id=n.pk)
    assert row.status == "queued" and row.attempts == 0 and row.error == ""
    assert [(cb.func, cb.args) for cb in callbacks] == [(services._schedule_send, (tenant.pk, n.pk))]
    assert services.notification_send(tenant_id=tenant.pk, notification_id=n.pk).status == "sent"
    assert len(sms_sandbox.state.messages) == 1
    # retrying a sent message changes nothing
    assert services.notification_retry(tenant_id=tenant.pk, notification_id=n.pk).status == "sent"


def test_disabling_the_sms_account_after_queueing_fails_the_message(
        tenant, sms_account, sms_sandbox, shipment, django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    sms_account.enabled = False
    sms_account.save()
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk)
    assert row.status == "failed" and "短信账号" in row.error
    assert sms_sandbox.state.requests == 0


@pytest.fixture
def eager_celery():
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = old


def test_the_periodic_task_resends_due_messages(tenant, sms_account, sms_sandbox, shipment, eager_celery,
                                                django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    future = services.notify_shipment_event(tenant_id=tenant.pk, event="delivered", shipment_id=shipment.pk,
                                            order_id=shipment.order_id)[0]
    Notification.objects.filter(pk=future.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))

    assert tasks.resend_due_notifications() == 1

    assert Notification.objects.get(pk=n.pk).status == "sent"
    assert Notification.objects.get(pk=future.pk).status == "queued"
    assert [m["template_code"] for m in sms_sandbox.state.messages] == ["SMS_OMS_SHIPPED"]


def test_the_send_task_reschedules_itself_after_a_transient_failure(
        tenant, sms_account, sms_sandbox, shipment, eager_celery, django_capture_on_commit_callbacks):
    n, _ = _enqueue(tenant, shipment, django_capture_on_commit_callbacks)
    sms_sandbox.state.inject("throttle")
    # eager mode runs the rescheduled task at once; it finds the message not yet due and does nothing
    assert tasks.send_notification(tenant.pk, n.pk) == "queued"
    row = Notification.objects.get(pk=n.pk)
    assert row.attempts == 1 and row.status == "queued"
    assert sms_sandbox.state.requests == 1
