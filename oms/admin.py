from django.contrib import admin
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from . import rls
from .models import Membership, Tenant
from .roles import Area, role_can

admin.site.site_header = _("聚合订单管理系统 OMS")
admin.site.site_title = _("OMS")
admin.site.index_title = _("工作台")


@admin.register(Tenant)
class TenantModelAdmin(admin.ModelAdmin):
    """Platform operators (superusers) manage tenants; nobody else sees this page."""

    list_display = ("name", "slug", "auto_approve", "default_currency", "created_at")
    search_fields = ("name", "slug")

    def has_module_permission(self, request):
        return request.user.is_superuser

    has_view_permission = has_change_permission = has_add_permission = has_delete_permission = (
        lambda self, request, obj=None: request.user.is_superuser
    )

    # Deleting a tenant deletes every row it owns: the operator is no member of it, so the
    # cascade (and the page listing what it will delete) runs in the system scope (oms/rls.py).
    def get_deleted_objects(self, objs, request):
        with rls.system_scope():
            return super().get_deleted_objects(objs, request)

    def delete_model(self, request, obj):
        with rls.system_scope():
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with rls.system_scope():
            super().delete_queryset(request, queryset)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Superusers see every membership; a tenant owner manages the memberships of their tenant."""

    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username",)

    def _owner(self, request) -> bool:
        m = getattr(request, "membership", None)
        return bool(m and role_can(m.role, Area.TENANT, "change"))

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("user", "tenant")
        if request.user.is_superuser:
            return qs
        tenant = getattr(request, "tenant", None)
        return qs.filter(tenant=tenant) if tenant else qs.none()

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and not request.user.is_superuser:
            kwargs["queryset"] = Tenant.objects.filter(pk=getattr(request.tenant, "pk", None))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request):
        return request.user.is_superuser or self._owner(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or self._owner(request)

    has_change_permission = has_delete_permission = has_view_permission

    def has_add_permission(self, request):
        # Owners change roles of their members; creating users/memberships is the operator's job
        # (a tenant owner must not be offered every user of the platform).
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.is_superuser else ("user", "tenant")
