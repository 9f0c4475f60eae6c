"""Base views for purpose-built pages. Scoping happens here once, so a new view is safe by
default: the queryset is the tenant's, another tenant's id is a 404, and the role decides
whether the page may be seen (view) or used (change)."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.views.generic import DetailView, ListView

from .roles import CHANGE, VIEW, role_can


class TenantViewMixin(LoginRequiredMixin):
    """Requires a logged-in member of a tenant. `area` and `action` say what the page needs."""

    area: str = ""
    action: str = VIEW

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if getattr(request, "tenant", None) is None:
            raise PermissionDenied
        role = request.membership.role
        if self.area and not (role_can(role, self.area, self.action) or
                              (self.action == VIEW and role_can(role, self.area, CHANGE))):
            raise PermissionDenied
        self.tenant = request.tenant
        return super().dispatch(request, *args, **kwargs)

    def can_change(self) -> bool:
        return role_can(self.request.membership.role, self.area, CHANGE)


class TenantQuerysetMixin(TenantViewMixin):
    model = None

    def get_queryset(self):
        return self.model._default_manager.filter(tenant_id=self.request.tenant.pk)


class TenantListView(TenantQuerysetMixin, ListView):
    paginate_by = 50


class TenantDetailView(TenantQuerysetMixin, DetailView):
    def get_object(self, queryset=None):
        try:
            return super().get_object(queryset)
        except Http404:
            raise
        except (ValueError, TypeError):
            raise Http404
