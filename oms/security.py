"""Login throttling glue for django-axes: which address a request comes from, the lockout page
(translated, with the minutes left), and a WARNING line for ops on every lockout."""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.dispatch import receiver
from django.shortcuts import render
from django.utils.translation import gettext_noop

logger = logging.getLogger(__name__)

# django-axes ships no Chinese catalogue. Its admin names are translated in ours (locale/); marked
# here so that `makemessages` keeps them.
AXES_ADMIN_NAMES = (
    gettext_noop("access attempt"), gettext_noop("access attempts"),
    gettext_noop("access log"), gettext_noop("access logs"),
    gettext_noop("access failure"), gettext_noop("access failures"),
)


def client_ip(request) -> str:
    """REMOTE_ADDR, or -- behind OMS_TRUSTED_PROXY_COUNT proxies that append to X-Forwarded-For --
    the address the outermost trusted proxy saw. Entries left of that are client-supplied and
    ignored, so a forged header cannot choose the address being throttled."""
    hops = settings.OMS_TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def lockout_response(request, original_response=None, credentials=None):
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "registration/locked_out.html",
                  {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
                  status=settings.AXES_HTTP_RESPONSE_CODE)


def _on_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    logger.warning("login locked out: username=%s ip=%s after %s failures, cool-off %s",
                   username, ip_address, settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME)


def connect() -> None:
    from axes.signals import user_locked_out

    receiver(user_locked_out, dispatch_uid="oms.security.lockout_log")(_on_lockout)
