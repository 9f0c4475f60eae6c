"""Sets request.tenant and request.membership from the user's memberships.

A user with several memberships picks one with the switcher (oms.views.switch_tenant); the
choice lives in the session and is honoured only while the membership exists.
"""

from __future__ import annotations

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
        return self.get_response(request)
