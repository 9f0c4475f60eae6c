"""Sets request.tenant and request.membership from the user's memberships.

A user with several memberships picks one with the switcher (oms.views.switch_tenant); the
choice lives in the session and is honoured only while the membership exists.
"""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from . import rls
from .models import Membership

SESSION_KEY = "oms_tenant_id"


def resolve_membership(request) -> Membership | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = list(Membership.objects.filter(user=user).select_related("tenant").order_by("tenant_id"))
    if not memberships:
        return None
    wanted = request.session.get(SESSION_KEY)
    for m in memberships:
        if m.tenant_id == wanted:
            return m
    return memberships[0]


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        membership = resolve_membership(request)
        request.membership = membership
        request.tenant = membership.tenant if membership else None
        # PostgreSQL row-level security (oms/rls.py): the request sees its tenant's rows and no
        # other's, whatever a view forgets to filter; an anonymous request sees no tenant rows.
        scope = rls.Scope(tenant_id=request.tenant.pk) if request.tenant else rls.NONE
        with rls.scope(scope):
            response = self.get_response(request)
        if response.streaming and not isinstance(response, FileResponse) and not response.is_async:
            # a streamed body (CSV export) is produced after this returns: in the same scope
            response.streaming_content = _scoped(scope, response.streaming_content)
        return response


def _scoped(scope, chunks):
    with rls.scope(scope):
        yield from chunks


class LanguageMiddleware(LocaleMiddleware):
    """Simplified Chinese unless the user picked another language with the switcher (the
    language cookie). Staff pages ignore the browser's Accept-Language, so the console and the
    admin open in Chinese on any machine; public pages for buyers (PUBLIC_PREFIXES) still follow
    the browser, so a buyer abroad reads the tracking page in English."""

    PUBLIC_PREFIXES = ("/logistics/track/",)

    def process_request(self, request):
        if request.path.startswith(self.PUBLIC_PREFIXES):
            return super().process_request(request)
        code = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if code not in dict(settings.LANGUAGES):
            code = settings.LANGUAGE_CODE
        translation.activate(code)
        request.LANGUAGE_CODE = translation.get_language()
