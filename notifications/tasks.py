"""Celery tasks of notifications: thin wrappers that take ids and call one service."""

import logging

from celery import shared_task
from django.utils import timezone

from . import selectors, services
from .models import Notification

logger = logging.getLogger(__name__)


@shared_task(time_limit=90, soft_time_limit=75)
def send_notification(tenant_id: int, notification_id: int) -> str:
    """Send one message; if it failed transiently, come back when its backoff is over (the
    periodic resend_due_notifications is the safety net if this worker dies meanwhile)."""
    row = services.notification_send(tenant_id=tenant_id, notification_id=notification_id)
    if row is None:
        return "skipped"
    if row.status == Notification.Status.QUEUED:
        countdown = max(1, int((row.next_attempt_at - timezone.now()).total_seconds()) + 1)
        send_notification.apply_async(args=(tenant_id, notification_id), countdown=countdown)
    return row.status


@shared_task(time_limit=60, oms_system_scope=True)  # messages of every tenant
def resend_due_notifications(limit: int = 500) -> int:
    """Beat, every minute: enqueue a send for each queued message that is due and unclaimed."""
    due = selectors.notifications_due(limit=limit)
    for tenant_id, notification_id in due:
        send_notification.delay(tenant_id, notification_id)
    if due:
        logger.info("re-sending %d due notification(s)", len(due))
    return len(due)
