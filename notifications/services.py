"""Every state change of notifications.

Enqueue (called by receivers inside the sender's transaction): render the message, write one
outbox row per (tenant, dedupe_key) -- a repeated event is a no-op -- and schedule the send on
commit. Send (a task, after commit): claim the row with a lease, talk to the provider outside
any transaction, record the outcome; transient failures back off exponentially up to
MAX_ATTEMPTS, permanent ones fail at once. Logs name the tenant and the notification id only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import random
import time
from datetime import datetime, timedelta

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import selectors
from .adapters.aliyun import AliyunSms
from .adapters.base import PermanentError, SendError
from .adapters.email import send_email
from .defaults import DEFAULTS, EVENT_CHANNELS, TemplateSpec
from .models import Channel, Event, Notification, NotificationTemplate, SmsProvider

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 60
RETRY_CAP_SECONDS = 3600
LEASE = timedelta(minutes=5)

# tenants' templates are plain text: no HTML escaping, only the built-in tags and filters
_ENGINE = Engine(autoescape=False)

#: shipment tracking statuses that tell the buyer something
STATUS_EVENTS = {"out_for_delivery": Event.OUT_FOR_DELIVERY, "delivered": Event.DELIVERED}

#: marketplaces whose buyers the seller must not message about shipping: Amazon's Communication
#: Guidelines (Seller Central G1701, since 2020-09) forbid order and shipping confirmations and
#: allow contact only through Buyer-Seller Messaging (the buyer e-mail is its relay address);
#: Amazon tells the buyer itself once the shipment is confirmed to it (channels' confirm_shipment).
PLATFORMS_THAT_TELL_THE_BUYER = frozenset({"amazon"})


class RenderError(ValueError):
    pass


def render_text(source: str, context: dict) -> str:
    try:
        return _ENGINE.from_string(str(source)).render(Context(context, autoescape=False)).strip()
    except Exception as exc:  # a tenant's broken template must not break shipping
        raise RenderError(_("模板错误：%(error)s") % {"error": exc}) from exc


def template_check(*, subject: str = "", body: str = "", sms_params: dict | None = None) -> None:
    """Raises RenderError if any part does not compile (for the template form)."""
    for source in [subject, body, *(sms_params or {}).values()]:
        try:
            _ENGINE.from_string(str(source))
        except TemplateSyntaxError as exc:
            raise RenderError(_("模板错误：%(error)s") % {"error": exc}) from exc


def normalize_phone(raw: str) -> str | None:
    """The number as Aliyun's PhoneNumbers wants it: 11 digits for mainland China, country code
    + national number otherwise; None for masked, fixed-line or invalid numbers."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return None
    national = phonenumbers.national_significant_number(number)
    return national if number.country_code == 86 else f"{number.country_code}{national}"


def _valid_recipient(channel: str, recipient: str) -> str | None:
    if channel == Channel.SMS:
        return normalize_phone(recipient)
    try:
        validate_email(recipient)
    except ValidationError:
        return None
    return recipient


def _schedule_send(tenant_id: int, notification_id: int) -> None:
    from . import tasks

    tasks.send_notification.delay(tenant_id, notification_id)


# ---- enqueue ------------------------------------------------------------------------------

def _language(code: str | None):
    return translation.override(code) if code else contextlib.nullcontext()


def notification_enqueue(*, tenant_id: int, event: str, channel: str, recipient: str, dedupe_key: str,
                         context: dict, order_id: int | None = None, shipment_id: int | None = None,
                         language: str | None = None) -> Notification | None:
    """One outbox row for (tenant, dedupe_key). None when the tenant has this (event, channel)
    switched off (or no SMS account); the existing row when the event repeats. A message that
    cannot be rendered or addressed is stored as failed with the reason, for staff to see.
    `language`: the reader's, for the built-in texts (the reasons for staff stay in the default)."""
    with _language(language):  # the built-in texts in the reader's language, as plain strings
        spec = selectors.effective_template(tenant_id=tenant_id, event=event, channel=channel)
        if spec is not None:
            spec = dataclasses.replace(spec, subject=str(spec.subject), body=str(spec.body))
    if spec is None or not spec.enabled:
        return None
    if channel == Channel.SMS and selectors.active_sms_account(tenant_id=tenant_id) is None:
        return None
    with transaction.atomic():
        existing = Notification.objects.for_tenant(tenant_id).filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
        fields = {"status": Notification.Status.QUEUED, "error": ""}
        try:
            fields.update(_render(spec, channel, context))
        except RenderError as exc:
            fields.update(status=Notification.Status.FAILED, error=str(exc))
        address = _valid_recipient(channel, recipient)
        if address is None:
            fields.update(status=Notification.Status.FAILED,
                          error=_("收件人手机号无效或已脱敏") if channel == Channel.SMS else _("收件邮箱无效"))
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    tenant_id=tenant_id, channel=channel, template=event, recipient=address or recipient,
                    dedupe_key=dedupe_key, context=context, order_id=order_id, shipment_id=shipment_id, **fields)
        except IntegrityError:  # the same event raced us to it
            return Notification.objects.for_tenant(tenant_id).get(dedupe_key=dedupe_key)
        if notification.status == Notification.Status.QUEUED:
            transaction.on_commit(functools.partial(_schedule_send, tenant_id, notification.pk), robust=True)
        else:
            logger.warning("tenant=%s notification=%s not sendable: %s", tenant_id, notification.pk,
                           notification.error.splitlines()[0] if notification.error else "")
    return notification


def _render(spec: TemplateSpec, channel: str, context: dict) -> dict:
    out = {"body": render_text(spec.body, context)}
    if channel == Channel.EMAIL:
        out["subject"] = render_text(spec.subject, context).replace("\n", " ")[:200]
    else:
        out["sms_template_code"] = spec.sms_template_code
        out["sms_params"] = {str(k): render_text(v, context) for k, v in (spec.sms_params or {}).items()}
    return out


def notify_shipment_event(*, tenant_id: int, event: str, shipment_id: int, order_id: int, carrier_code: str = "",
                          tracking_number: str = "") -> list[Notification]:
    """Tell the buyer about a shipment event (shipped / out for delivery / delivered), once per
    shipment, event and channel: by SMS to the receiver's phone and by e-mail to the buyer's
    address when the platform sent one, each as the tenant's templates say (on, off, wording),
    rendered in the buyer's language. Nothing for a marketplace that tells its buyers itself."""
    channels = EVENT_CHANNELS.get(event, [])
    if not channels:
        return []
    with transaction.atomic():
        facts = selectors.shipment_message_facts(
            tenant_id=tenant_id, shipment_id=shipment_id, order_id=order_id, carrier_code=carrier_code,
            tracking_number=tracking_number)
        if facts.platform in PLATFORMS_THAT_TELL_THE_BUYER:
            logger.info("tenant=%s shipment=%s %s: the platform tells its buyer", tenant_id, shipment_id, event)
            return []
        out = []
        for channel in channels:
            recipient = facts.email if channel == Channel.EMAIL else facts.phone
            if channel == Channel.EMAIL and not recipient:
                continue  # the platform sent no buyer e-mail: nothing to tell, nothing failed
            n = notification_enqueue(tenant_id=tenant_id, event=event, channel=channel, recipient=recipient,
                                     dedupe_key=f"{event}:shipment:{shipment_id}:{channel}", context=facts.context,
                                     order_id=order_id, shipment_id=shipment_id, language=facts.language)
            if n is not None:
                out.append(n)
    return out


def notify_low_stock(*, tenant_id: int, alert_id: int, sku_id: int, warehouse_id: int | None, available,
                     reorder_point) -> list[Notification]:
    """Internal alert to every active purchasing contact, once per alert, channel and contact."""
    with transaction.atomic():
        contacts = selectors.purchasing_contacts(tenant_id=tenant_id)
        if not contacts:
            return []
        facts = selectors.low_stock_facts(tenant_id=tenant_id, sku_id=sku_id, warehouse_id=warehouse_id,
                                          available=available, reorder_point=reorder_point)
        out = []
        for channel in EVENT_CHANNELS[Event.LOW_STOCK]:
            for contact in contacts:
                recipient = contact.email if channel == Channel.EMAIL else contact.phone
                if not recipient:
                    continue
                n = notification_enqueue(
                    tenant_id=tenant_id, event=Event.LOW_STOCK, channel=channel, recipient=recipient,
                    dedupe_key=f"low_stock:alert:{alert_id}:{channel}:contact:{contact.pk}",
                    context={**facts, "contact_name": contact.name, "alert_id": alert_id})
                if n is not None:
                    out.append(n)
    return out


# ---- send ---------------------------------------------------------------------------------

def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with +-10% jitter: ~1, 2, 4, 8, 16 minutes..., capped at an hour."""
    delay = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)) * (0.9 + random.random() / 5)
    return max(delay, retry_after or 0)


def _deliver(notification: Notification, *, session=None, sleep=time.sleep) -> str:
    log_ref = f"tenant={notification.tenant_id} notification={notification.pk}"
    if notification.channel == Channel.EMAIL:
        return send_email(to=notification.recipient, subject=notification.subject, body=notification.body,
                          message_id_hint=str(notification.pk))
    account = selectors.active_sms_account(tenant_id=notification.tenant_id)
    if account is None:
        raise PermanentError(_("短信账号未配置或已停用"), code="no_account")
    if account.provider != SmsProvider.ALIYUN:
        raise PermanentError(f"unsupported SMS provider {account.provider}", code="provider")
    creds = account.credentials or {}
    client = AliyunSms(access_key_id=creds.get("access_key_id", ""), access_key_secret=creds.get("access_key_secret", ""),
                       sign_name=account.sign_name, base_url=account.api_base_url, region_id=account.region_id,
                       session=session, sleep=sleep, log_ref=log_ref)
    client.backoff_base = getattr(settings, "NOTIFICATIONS_HTTP_BACKOFF_BASE", client.backoff_base)
    return client.send(phone=notification.recipient, template_code=notification.sms_template_code,
                       params=notification.sms_params, out_id=str(notification.pk))


def notification_send(*, tenant_id: int, notification_id: int, now: datetime | None = None,
                      session=None, sleep=time.sleep) -> Notification | None:
    """Send one due message. No-op (returns None) unless it is queued, due and not held by
    another worker. The provider is called outside any transaction; the row is claimed before
    (a lease: a crashed worker's claim expires) and updated after."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = (Notification.objects.for_tenant(tenant_id)
                   .filter(pk=notification_id, status=Notification.Status.QUEUED, next_attempt_at__lte=now)
                   .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
                   .update(locked_until=now + LEASE, attempts=F("attempts") + 1, last_attempt_at=now))
    if not claimed:
        return None
    notification = Notification.objects.for_tenant(tenant_id).get(pk=notification_id)
    provider_id, error = "", None
    try:
        provider_id = _deliver(notification, session=session, sleep=sleep)
    except SendError as exc:
        error = exc
    with transaction.atomic():
        row = Notification.objects.for_tenant(tenant_id).select_for_update().get(pk=notification_id)
        row.locked_until = None
        if error is None:
            row.status, row.sent_at, row.error = Notification.Status.SENT, timezone.now(), ""
            row.provider_message_id = provider_id[:64]
            logger.info("tenant=%s notification=%s sent (%s)", tenant_id, row.pk, row.channel)
        elif not error.retryable:
            row.status, row.error = Notification.Status.FAILED, str(error)
            logger.warning("tenant=%s notification=%s failed permanently: %s", tenant_id, row.pk, error.code)
        elif row.attempts >= MAX_ATTEMPTS:
            row.status = Notification.Status.FAILED
            row.error = _("%(error)s（已尝试 %(n)s 次）") % {"error": error, "n": row.attempts}
            logger.warning("tenant=%s notification=%s failed after %s attempts: %s", tenant_id, row.pk,
                           row.attempts, error.code)
        else:
            row.error = str(error)
            row.next_attempt_at = now + timedelta(seconds=retry_delay(row.attempts, error.retry_after))
            logger.info("tenant=%s notification=%s attempt %s failed (%s), next at %s", tenant_id, row.pk,
                        row.attempts, error.code, row.next_attempt_at.isoformat())
        row.save(update_fields=["status", "sent_at", "error", "provider_message_id", "next_attempt_at",
                                "locked_until"])
    return row


def notification_retry(*, tenant_id: int, notification_id: int) -> Notification:
    """Staff: send a failed message again (fresh attempt budget). No-op unless it failed."""
    with transaction.atomic():
        row = Notification.objects.for_tenant(tenant_id).select_for_update().get(pk=notification_id)
        if row.status != Notification.Status.FAILED:
            return row
        if row.channel == Channel.SMS and normalize_phone(row.recipient) is None:
            raise PermanentError(_("收件人手机号无效，无法重发"), code="recipient")
        if not row.body and not row.sms_template_code:
            raise PermanentError(_("消息未能生成内容，无法重发"), code="render")
        row.status, row.attempts, row.error = Notification.Status.QUEUED, 0, ""
        row.next_attempt_at, row.locked_until = timezone.now(), None
        row.save(update_fields=["status", "attempts", "error", "next_attempt_at", "locked_until"])
        transaction.on_commit(functools.partial(_schedule_send, tenant_id, row.pk), robust=True)
    logger.info("tenant=%s notification=%s re-queued by staff", tenant_id, row.pk)
    return row


def template_defaults_install(*, tenant_id: int) -> int:
    """Copy the built-in templates into the tenant's own rows (to edit them); existing rows are
    kept. Returns how many were created."""
    created = 0
    with transaction.atomic():
        for (event, channel), spec in DEFAULTS.items():
            _, was_created = NotificationTemplate.objects.get_or_create(
                tenant_id=tenant_id, event=event, channel=channel,
                defaults={"enabled": spec.enabled, "subject": str(spec.subject), "body": str(spec.body),
                          "sms_template_code": spec.sms_template_code, "sms_params": dict(spec.sms_params)})
            created += was_created
    return created
