"""The tenant-scoped ModelAdmin every app's admin inherits.

Scoping happens once, here: changelists, change/delete/history views, search, actions,
autocomplete, list filters and FK/M2M choices all go through the request's tenant. An id of
another tenant answers 404 (never 403 and never "does not exist" redirects that leak).
Permissions come from the Membership role (oms.roles), not from Django's per-model perms.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.filters import RelatedFieldListFilter
from django.http import Http404

from .models import TenantOwned
from .roles import CHANGE, VIEW, role_can


def _tenant_id(request) -> int | None:
    tenant = getattr(request, "tenant", None)
    return tenant.pk if tenant is not None else None


def _role(request) -> str | None:
    m = getattr(request, "membership", None)
    return m.role if m is not None else None


def _is_tenant_model(model) -> bool:
    return isinstance(model, type) and issubclass(model, TenantOwned)


class TenantRelatedFieldListFilter(RelatedFieldListFilter):
    """A FK list filter that offers only the current tenant's rows."""

    def field_choices(self, field, request, model_admin):
        remote = field.remote_field.model
        if _is_tenant_model(remote):
            qs = remote._default_manager.filter(tenant_id=_tenant_id(request))
            return [(obj.pk, str(obj)) for obj in qs.order_by("pk")[:500]]
        return super().field_choices(field, request, model_admin)


class TenantScopedMixin:
    """Shared by ModelAdmin and inlines."""

    area: str = ""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.filter(tenant_id=_tenant_id(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        remote = db_field.remote_field.model
        if _is_tenant_model(remote):
            kwargs["queryset"] = remote._default_manager.filter(tenant_id=_tenant_id(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        remote = db_field.remote_field.model
        if _is_tenant_model(remote):
            kwargs["queryset"] = remote._default_manager.filter(tenant_id=_tenant_id(request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _can(self, request, action: str) -> bool:
        if _tenant_id(request) is None:
            return False
        return role_can(_role(request), self.area, action)

    def has_view_permission(self, request, obj=None):
        return self._can(request, VIEW) or self._can(request, CHANGE)

    def has_change_permission(self, request, obj=None):
        return self._can(request, CHANGE)

    def has_add_permission(self, request, *args):
        return self._can(request, CHANGE)

    def has_delete_permission(self, request, obj=None):
        return self._can(request, CHANGE)


class TenantAdmin(TenantScopedMixin, admin.ModelAdmin):
    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def get_list_filter(self, request):
        out = []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and "__" not in item:
                field = self.model._meta.get_field(item)
                if field.is_relation and _is_tenant_model(field.remote_field.model):
                    item = (item, TenantRelatedFieldListFilter)
            out.append(item)
        return out

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant_id = _tenant_id(request)
        elif obj.tenant_id != _tenant_id(request):
            raise Http404
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in instances:
            if getattr(obj, "tenant_id", None) is None:
                obj.tenant_id = _tenant_id(request)
        for obj in formset.deleted_objects:
            obj.delete()
        for obj in instances:
            obj.save()
        formset.save_m2m()


class TenantInline(TenantScopedMixin):
    extra = 0


class TenantTabularInline(TenantInline, admin.TabularInline):
    pass


class TenantStackedInline(TenantInline, admin.StackedInline):
    pass


class ReadOnlyTenantAdmin(TenantAdmin):
    """For append-only records (ledgers, events, archives): visible, never edited by hand."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
