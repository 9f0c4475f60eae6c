"""The tenant-scoped ModelAdmin every app's admin inherits.

Scoping happens once, here: changelists, change/delete/history views, search, actions,
autocomplete, list filters and FK/M2M choices all go through the request's tenant. An id of
another tenant answers 404 (never 403 and never "does not exist" redirects that leak).
Permissions come from the Membership role (oms.roles), not from Django's per-model perms.

Write paths (oms/write_paths.py): a field a service owns is read-only in every form, with a
link to the page where its action lives; a change page with nothing left to edit is a view page
(a POST is refused); a save writes only the fields the admin may edit, so it never puts back a
stale copy of what a service changed meanwhile.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.utils import flatten_fieldsets
from django.http import Http404
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import write_paths
from .models import TenantOwned
from .roles import CHANGE, VIEW, role_can

#: the read-only row at the top of a change page that says where its read-only fields are changed
NOTE = "write_paths_note"


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

    def get_readonly_fields(self, request, obj=None):
        """The admin's own read-only fields, then every field a service owns (oms/write_paths.py)."""
        readonly = list(super().get_readonly_fields(request, obj))
        hidden = {*(self.get_exclude(request, obj) or ()), *(getattr(getattr(self.form, "_meta", None), "exclude", None) or ())}
        parent = getattr(self, "parent_model", None)
        if parent is not None:  # an inline: its link to the parent row is no column
            hidden |= {f.name for f in self.model._meta.concrete_fields if f.is_relation and f.related_model is parent
                       and (not self.fk_name or f.name == self.fk_name)}
        for name in write_paths.owned(self.model, adding=obj is None):
            if name not in readonly and name not in hidden:
                readonly.append(name)
        return readonly

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

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or self._edits_anything(request, obj)

    def _edits_anything(self, request, obj) -> bool:
        """Is anything on this object's change page edited here (a field or an inline row)?"""
        readonly = set(self.get_readonly_fields(request, obj))
        if any(name not in readonly for name in flatten_fieldsets(self.get_fieldsets(request, obj))):
            return True
        for inline in self.get_inline_instances(request, obj):
            if inline.has_add_permission(request, obj) or (inline.can_delete and inline.has_delete_permission(
                    request, obj)):
                return True
            if inline.has_change_permission(request, obj):
                inline_readonly = set(inline.get_readonly_fields(request, obj))
                if any(n not in inline_readonly for n in flatten_fieldsets(inline.get_fieldsets(request, obj))):
                    return True
        return False

    # --- where the read-only fields are changed ---------------------------------------------------
    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and write_paths.owned(self.model):
            readonly = [NOTE, *readonly]
        return readonly

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not write_paths.owned(self.model):
            return fieldsets
        out = [(name, {**opts, "fields": [f for f in opts["fields"] if f != NOTE]}) for name, opts in fieldsets]
        name, opts = out[0]
        out[0] = (name, {**opts, "fields": [NOTE, *opts["fields"]]})
        return out

    def get_form(self, request, obj=None, change=False, **kwargs):
        links = write_paths.help_texts(self.model, obj)
        if links:
            meta = getattr(kwargs.get("form", self.form), "Meta", None)
            kwargs["help_texts"] = {**(getattr(meta, "help_texts", None) or {}), **links}
        return super().get_form(request, obj, change, **kwargs)

    @admin.display(description=_("修改方式"))
    def write_paths_note(self, obj):
        link = write_paths.page_url(self.model, obj)
        text = _("只读字段由业务操作或系统写入（记录操作人，写入日志），不能在后台直接修改。")
        if link is None:
            return text
        url, page = link
        return format_html('{} <a href="{}">{} →</a>', text, url, _("去%(page)s修改") % {"page": page})

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
            obj.save()
            return
        if obj.tenant_id != _tenant_id(request):
            raise Http404
        _save_editable(obj)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in instances:
            if getattr(obj, "tenant_id", None) is None:
                obj.tenant_id = _tenant_id(request)
        for obj in formset.deleted_objects:
            obj.delete()
        for obj in instances:
            if obj._state.adding:
                obj.save()
            else:
                _save_editable(obj)
        formset.save_m2m()


def _save_editable(obj) -> None:
    """Save the fields the admin may edit, and only those (nothing, when it may edit none)."""
    fields = write_paths.admin_update_fields(obj)
    if fields:
        obj.save(update_fields=fields)


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
