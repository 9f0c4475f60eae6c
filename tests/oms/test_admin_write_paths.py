"""Every write path through the services, the admin included: a field a service owns
(oms/write_paths.py) is edited in no admin form, change or add, inline or list_editable.

The walk renders the change page (and the add page) of every registered ModelAdmin as a tenant
owner for a real object and reads the form fields the page really offers; the registry must
classify every field of every model the admin shows, so a new field nobody classified fails here
with the file to add it to."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from oms import write_paths
from oms.models import Membership, Tenant, TenantOwned
from oms.write_paths import WRITE_PATHS
from orders.models import Hold, Order
from tests import factories

pytestmark = pytest.mark.django_db

OUR_APPS = {"oms", "orders", "inventory", "logistics", "channels", "notifications"}
OUR_ADMINS = {m: ma for m, ma in admin.site._registry.items() if m._meta.app_label in OUR_APPS}
OTHER_ADMINS = [m for m in admin.site._registry if m._meta.app_label not in OUR_APPS]
INLINE_MODELS = {i.model for ma in OUR_ADMINS.values() for i in ma.inlines}
SHOWN = sorted(set(OUR_ADMINS) | INLINE_MODELS, key=lambda m: m._meta.label)


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


# --- the registry ---------------------------------------------------------------------------------
@pytest.mark.parametrize("model", SHOWN, ids=lambda m: m._meta.label)
def test_every_field_of_every_model_the_admin_shows_is_service_owned_or_editable(model):
    assert write_paths.problems(model) == []


def test_the_registry_names_only_models_the_admin_shows_and_services_that_exist():
    assert set(WRITE_PATHS) == {m._meta.label for m in SHOWN}
    for label, paths in WRITE_PATHS.items():
        apps.get_model(label)
        for service in {*paths.owned.values(), paths.saved_by} - {""}:
            assert write_paths.resolve(service), f"{label}: {service} is gone"
    for service in write_paths.ACTIONS:
        assert write_paths.resolve(service)


def test_a_field_nobody_classified_is_reported_and_stays_read_only(client, tenant, owner, monkeypatch):
    """As if `urgent` were a new field that order_set_urgent writes and nobody registered."""
    paths = WRITE_PATHS["orders.Order"]
    monkeypatch.setitem(WRITE_PATHS, "orders.Order", dataclasses.replace(
        paths, owned={k: v for k, v in paths.owned.items() if k != "urgent"}))
    (problem,) = write_paths.problems(Order)
    assert problem.startswith("orders.Order.urgent is listed nowhere in oms/write_paths.py: add it to WRITE_PATHS")
    # until someone classifies it, the admin keeps it read-only (fails closed)
    assert write_paths.owned(Order)["urgent"] == write_paths.UNCLASSIFIED
    client.force_login(owner)
    assert editable_owned_fields(client, Order, factories.OrderFactory(tenant=tenant)) == []


def test_a_model_the_admin_shows_without_an_entry_is_reported():
    registry = {k: v for k, v in WRITE_PATHS.items() if k != "orders.Hold"}
    (problem,) = write_paths.problems(Hold, registry)
    assert "orders.Hold is shown in the admin but has no entry in oms/write_paths.py" in problem
    assert "'reason'" in problem and "'resolved_at'" in problem


def test_a_field_listed_twice_or_a_name_that_is_no_field_is_reported():
    paths = WRITE_PATHS["orders.Blacklist"]
    registry = {**WRITE_PATHS, "orders.Blacklist": dataclasses.replace(
        paths, owned={"note": "orders.services.order_hold", "nickname": "orders.services.order_hold"})}
    problems = write_paths.problems(apps.get_model("orders.Blacklist"), registry)
    assert "orders.Blacklist.note is both service-owned and editable in oms/write_paths.py" in problems
    assert any("'nickname', which is no editable field" in p for p in problems)


def test_a_model_saved_through_a_service_has_an_admin_that_calls_it():
    """`saved_by` is a promise about the admin's code; the behaviour tests check what it does."""
    for model in SHOWN:
        service = WRITE_PATHS[model._meta.label].saved_by
        if not service:
            continue
        admins = [ma for m, ma in OUR_ADMINS.items() if m is model or model in {i.model for i in ma.inlines}]
        assert any(service.rpartition(".")[2] in inspect.getsource(type(ma)) for ma in admins), (model, service)


# --- the walk ---------------------------------------------------------------------------------------
def _child(inline, parent, tenant):
    factory = factories.FACTORIES.get(inline.model)
    if factory is None:
        return
    fk = inline.fk_name or next(f.name for f in inline.model._meta.concrete_fields
                                if f.is_relation and f.related_model is type(parent))
    factory(tenant=tenant, **{fk: parent})


def _object(model, tenant, owner):
    if model is Tenant:
        return tenant
    if model is Membership:
        return Membership.objects.get(user=owner, tenant=tenant)
    if issubclass(model, TenantOwned):
        obj = factories.FACTORIES[model](tenant=tenant)
        for inline in OUR_ADMINS[model].inlines:
            _child(inline, obj, tenant)
        return obj
    return model._default_manager.get_or_create(code="ZTO", defaults={"name": "中通快递"})[0]  # logistics.Carrier


def _offending(resp, model, *, adding: bool) -> list[str]:
    """Form fields on a rendered admin page that a service owns (parent form and inlines)."""
    out = []
    owned = write_paths.owned(model, adding=adding)
    out += [f"{model._meta.label}.{n}" for n in resp.context["adminform"].form.fields if n in owned]
    for inline in resp.context["inline_admin_formsets"]:
        if not (inline.has_change_permission or inline.has_add_permission):
            continue  # shown read-only: Django ignores posted values
        imodel = inline.formset.model
        iowned = write_paths.owned(imodel, adding=adding)
        fk = inline.formset.fk.name  # the link to the parent row: set by the formset, not entered
        out += [f"{imodel._meta.label}.{n} (inline)" for n in inline.formset.form.base_fields
                if n in iowned and n != fk]
    return out


def _client_for(client, model, owner):
    """A tenant owner, or the platform operator for the pages only operators open."""
    client.force_login(owner)
    if model in (Tenant,) or not OUR_ADMINS[model].has_module_permission(_request(owner)):
        client.force_login(factories.UserFactory(username="operator", is_superuser=True))
    return client


def _request(user, tenant=None):
    request = RequestFactory().get("/admin/")
    request.user = user
    membership = Membership.objects.filter(user=user).select_related("tenant").first()
    request.membership = membership
    request.tenant = tenant or (membership.tenant if membership else None)
    return request


def editable_owned_fields(client, model, obj) -> list[str]:
    ma = OUR_ADMINS[model]
    resp = client.get(_url(model, "change", obj.pk))
    assert resp.status_code == 200, (model, resp.status_code)
    out = _offending(resp, model, adding=False)
    out += [f"{model._meta.label}.{n} (list_editable)" for n in ma.list_editable if n in write_paths.owned(model)]
    add = client.get(_url(model, "add"))
    if add.status_code == 200:
        out += [f"{f} (add form)" for f in _offending(add, model, adding=True)]
    return out


@pytest.mark.parametrize("model", sorted(OUR_ADMINS, key=lambda m: m._meta.label), ids=lambda m: m._meta.label)
def test_no_admin_form_edits_a_field_a_service_owns(model, client, tenant, owner):
    obj = _object(model, tenant, owner)
    client = _client_for(client, model, owner)
    assert editable_owned_fields(client, model, obj) == []


def test_the_walk_catches_a_form_that_edits_a_service_owned_field(client, tenant, owner, monkeypatch):
    """Without the registry's read-only fields, OrderAdmin would offer the receiver and urgent
    fields again (as it did before): the walk must say so."""
    order_admin = OUR_ADMINS[Order]
    monkeypatch.setattr(order_admin, "get_readonly_fields", lambda request, obj=None: ["write_paths_note"])
    monkeypatch.setattr(order_admin, "fields", ("receiver_name", "urgent", "shop"))
    order = factories.OrderFactory(tenant=tenant)
    client.force_login(owner)
    assert editable_owned_fields(client, Order, order) == [
        "orders.Order.receiver_name", "orders.Order.urgent", "orders.Order.shop"]


def test_the_walk_catches_a_service_owned_field_in_list_editable(client, tenant, owner, monkeypatch):
    monkeypatch.setattr(OUR_ADMINS[Order], "list_editable", ("urgent",))
    client.force_login(owner)
    assert "orders.Order.urgent (list_editable)" in editable_owned_fields(
        client, Order, factories.OrderFactory(tenant=tenant))


@pytest.mark.parametrize("model", OTHER_ADMINS, ids=lambda m: m._meta.label)
def test_admins_of_other_apps_are_the_operators_and_closed_to_tenant_members(model, client, owner):
    """auth, celery beat and axes are not classified: no tenant member may open them."""
    client.force_login(owner)
    assert client.get(_url(model, "changelist")).status_code == 403
    assert not admin.site._registry[model].has_module_permission(_request(owner))


# --- actions ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", sorted(OUR_ADMINS, key=lambda m: m._meta.label), ids=lambda m: m._meta.label)
def test_every_action_needs_a_change_role_and_read_only_members_get_none(model, tenant, owner):
    ma = OUR_ADMINS[model]
    for name, (func, _name, _desc) in ma.get_actions(_request(owner)).items():
        assert getattr(func, "allowed_permissions", None), f"{model._meta.label}: action {name} declares no permission"
    for role in ("readonly",):
        assert ma.get_actions(_request(factories.member(tenant, role))) == {}, model._meta.label
