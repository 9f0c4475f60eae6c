"""E-mail through Django's mail backends (SMTP in production, file/console in the demo,
locmem in tests), with the provider errors sorted into permanent and transient."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.message import make_msgid
from django.utils.translation import gettext as _

from .base import PermanentError, TransientError


def send_email(*, to: str, subject: str, body: str, message_id_hint: str = "") -> str:
    """Send one plain-text e-mail; returns the Message-ID. Raises PermanentError / TransientError."""
    if not to:
        raise PermanentError(_("没有收件邮箱"), code="recipient")
    msg = EmailMessage(subject=subject.replace("\n", " ").strip(), body=body,
                       from_email=settings.DEFAULT_FROM_EMAIL, to=[to],
                       connection=get_connection(fail_silently=False, timeout=getattr(settings, "EMAIL_TIMEOUT", 30)))
    msg.extra_headers["Message-ID"] = make_msgid()
    if message_id_hint:
        msg.extra_headers["X-OMS-Notification"] = message_id_hint
    try:
        msg.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(_("收件地址被拒绝"), code="smtp_recipient_refused") from exc
    except smtplib.SMTPResponseException as exc:
        # 5xx replies are permanent (RFC 5321), 4xx temporary
        if 500 <= exc.smtp_code < 600:
            raise PermanentError(f"SMTP {exc.smtp_code}", code=f"smtp_{exc.smtp_code}") from exc
        raise TransientError(f"SMTP {exc.smtp_code}", code=f"smtp_{exc.smtp_code}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientError(f"{type(exc).__name__} sending e-mail", code="smtp") from exc
    return msg.extra_headers.get("Message-ID", "")
