"""Tenant isolation in the database: PostgreSQL row-level security (oms/rls.py, docs/rls.md).

These run connected as the application role, as the whole suite does with DATABASE_OWNER_URL
set (CI): the role the web, the workers and beat use. A query that forgets its tenant filter must
return the scoped tenant's rows only, or nothing without a scope; writes into another tenant are
refused by the database; the role cannot switch RLS off, become the owner or bypass it."""

from __future__ import annotations

import inspect

import pytest
from celery import shared_task
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from oms import rls
from oms.celery import app as celery_app
from oms.models import Membership, TenantOwned
from orders.models import Order
from tests import factories
from tests.conftest import _require

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

#: tables with a tenant column that are deliberately not under RLS, and why
NOT_TENANT_OWNED = {
    # read before a tenant is known (the middleware resolves the user's memberships to pick one)
    # and managed by the platform operator across tenants; the admin scopes it for owners
    "oms_membership": "tenancy core",
}


@pytest.fixture
def app_role():
    """The suite must be connected as the application role, not the owner or a superuser."""
    if rls.owner_settings() is None:
        _require("needs DATABASE_OWNER_URL (the tables' owner) so the tests connect as the application role")
    return connection.settings_dict["USER"]


@pytest.fixture
def two_tenants(tenant, other_tenant):
    a = [factories.OrderFactory(tenant=tenant, platform_order_id=f"A{i}") for i in range(3)]
    b = [factories.OrderFactory(tenant=other_tenant, platform_order_id=f"B{i}") for i in range(2)]
    return a, b


def _raw(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_a_raw_unscoped_query_returns_only_the_scoped_tenants_rows(app_role, tenant, other_tenant, two_tenants):
    with rls.tenant_scope(tenant.pk):
        assert _raw("SELECT DISTINCT tenant_id FROM orders_order") == [(tenant.pk,)]
        assert Order.objects.count() == 3
        assert not Order.objects.filter(pk=two_tenants[1][0].pk).exists()
        # joins through another table are filtered on both sides
        assert _raw("SELECT count(*) FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id "
                    "WHERE o.tenant_id = %s", [other_tenant.pk]) == [(0,)]
    with rls.tenant_scope(other_tenant.pk):
        assert _raw("SELECT DISTINCT tenant_id FROM orders_order") == [(other_tenant.pk,)]


def test_without_a_scope_a_query_sees_no_tenant_rows_at_all(app_role, two_tenants):
    with rls.no_scope():
        assert _raw("SELECT count(*) FROM orders_order") == [(0,)]
        assert _raw("SELECT count(*) FROM channels_shop") == [(0,)]
        assert _raw("SELECT count(*) FROM channels_shopwarehouse") == [(0,)]
    with rls.system_scope():
        assert _raw("SELECT count(*) FROM orders_order") == [(5,)]


def test_writing_another_tenants_rows_is_refused_by_the_database(app_role, tenant, other_tenant, two_tenants):
    theirs = two_tenants[1][0]
    with rls.tenant_scope(tenant.pk):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            factories.WarehouseFactory(tenant=other_tenant, code="X")
        # moving an own row into the other tenant (WITH CHECK), or touching theirs (USING)
        mine = two_tenants[0][0]
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Order.objects.filter(pk=mine.pk).update(tenant_id=other_tenant.pk)
        assert Order.objects.filter(pk=theirs.pk).update(buyer_note="x") == 0
        assert Order.objects.filter(pk=theirs.pk).delete()[0] == 0
    theirs.refresh_from_db()
    assert theirs.buyer_note != "x"


def test_the_application_role_cannot_switch_row_level_security_off(app_role):
    roles = _raw("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    assert roles == [(False, False)]
    assert _raw("SELECT tableowner <> current_user FROM pg_tables WHERE tablename = 'orders_order'") == [(True,)]
    owner = rls.owner_settings()["USER"]
    for sql in ("ALTER TABLE orders_order DISABLE ROW LEVEL SECURITY",
                "ALTER TABLE orders_order NO FORCE ROW LEVEL SECURITY",
                f"DROP POLICY IF EXISTS {rls.policy_name(rls.tenant_tables()[0][1])} ON orders_order",
                f"SET ROLE {connection.ops.quote_name(owner)}",
                f"SET SESSION AUTHORIZATION {connection.ops.quote_name(owner)}",
                "ALTER ROLE current_user BYPASSRLS"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert _raw("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'orders_order'") == [
        (True, True)]


def test_every_tenant_owned_table_has_row_level_security_enabled_forced_and_a_policy(app_role):
    assert rls.tables_missing_policy() == []
    # generically: every model inheriting TenantOwned, and every table with a tenant column
    covered = {table for table, _ in rls.tenant_tables()}
    models = [m for m in apps.get_models() if issubclass(m, TenantOwned)]
    assert len(models) > 40
    assert {m._meta.db_table for m in models} <= covered
    with_tenant_column = {r[0] for r in _raw(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND column_name = 'tenant_id'")}
    assert with_tenant_column - covered == set(NOT_TENANT_OWNED)
    assert "channels_shopwarehouse" in covered  # the shops<->warehouses link carries its tenant


def test_a_request_sees_only_its_tenant_even_when_the_view_forgets_the_filter(
        app_role, settings, client, tenant, other_tenant, two_tenants):
    settings.ROOT_URLCONF = "tests.oms.rls_urls"
    client.force_login(factories.member(tenant, "ops"))
    assert client.get("/test-rls/forgot-filter/").json() == {"tenants": [tenant.pk]}
    # a streamed body is produced after the middleware returned: still the request's tenant
    body = b"".join(client.get("/test-rls/stream/").streaming_content)
    assert body.split() == [str(tenant.pk).encode()]
    # the request's scope ended with it: the test process is back in its own (system) scope
    assert rls.current_scope() == rls.SYSTEM
    assert _raw("SELECT count(DISTINCT tenant_id) FROM orders_order") == [(2,)]


def test_an_anonymous_request_sees_no_tenant_rows(app_role, settings, client, two_tenants):
    settings.ROOT_URLCONF = "tests.oms.rls_urls"
    assert client.get("/test-rls/forgot-filter/").json() == {"tenants": []}


def test_a_switch_to_another_membership_switches_the_database_scope(app_role, settings, client, tenant, other_tenant,
                                                                     two_tenants):
    settings.ROOT_URLCONF = "tests.oms.rls_urls"
    user = factories.member(tenant, "ops")
    Membership.objects.create(tenant=other_tenant, user=user, role="ops")
    client.force_login(user)
    assert client.get("/test-rls/forgot-filter/").json() == {"tenants": [tenant.pk]}
    client.post("/tenant/switch/", {"tenant_id": other_tenant.pk, "next": "/"})
    assert client.get("/test-rls/forgot-filter/").json() == {"tenants": [other_tenant.pk]}


# --- Celery ---------------------------------------------------------------------------------------

@shared_task(name="tests.rls.visible_tenants")
def visible_tenants(tenant_id: int | None = None) -> list[int]:
    return sorted(set(Order.objects.values_list("tenant_id", flat=True)))


@shared_task(name="tests.rls.visible_tenants_dispatcher", oms_system_scope=True)
def visible_tenants_dispatcher(tenant_id: int | None = None) -> list[int]:
    return sorted(set(Order.objects.values_list("tenant_id", flat=True)))


def test_a_task_runs_in_the_scope_of_its_tenant_argument(app_role, tenant, other_tenant, two_tenants):
    assert visible_tenants.apply(args=[tenant.pk]).get() == [tenant.pk]
    assert visible_tenants.apply(kwargs={"tenant_id": other_tenant.pk}).get() == [other_tenant.pk]
    assert visible_tenants.apply().get() == []  # names no tenant and is no dispatcher: nothing
    assert visible_tenants_dispatcher.apply().get() == sorted([tenant.pk, other_tenant.pk])
    assert visible_tenants_dispatcher.apply(args=[tenant.pk]).get() == [tenant.pk]
    assert rls.current_scope() == rls.SYSTEM


def test_every_task_of_the_project_says_which_tenant_it_works_for():
    """A task takes `tenant_id` (it runs in that tenant's scope) or is declared a cross-tenant
    dispatcher (`oms_system_scope=True`); anything else would run seeing no rows."""
    celery_app.loader.import_default_modules()  # what a worker imports: every app's tasks.py
    ours = ("oms", "inventory", "orders", "channels", "logistics", "notifications")
    tasks = [t for name, t in celery_app.tasks.items() if name.split(".")[0] in ours]
    assert len(tasks) >= 14
    undeclared = [t.name for t in tasks
                  if "tenant_id" not in inspect.signature(t.run).parameters and not getattr(t, "oms_system_scope", False)]
    assert undeclared == []


def test_deleting_a_tenant_in_the_admin_sees_its_rows_across_tenants(app_role, client, tenant, other_tenant,
                                                                     two_tenants):
    """The operator is no member of the tenant: the admin's delete page collects what would go
    with it in the system scope, so it is refused for the tenant's orders exactly as without RLS
    (instead of an empty list and a foreign-key error), and an empty tenant is deleted."""
    from django.urls import reverse

    from oms.models import Tenant

    client.force_login(factories.UserFactory(username="root", is_superuser=True, is_staff=True))
    resp = client.post(reverse("admin:oms_tenant_delete", args=[other_tenant.pk]), {"post": "yes"})
    assert resp.status_code == 200 and resp.context["perms_lacking"]
    assert dict(resp.context["model_count"])[Order._meta.verbose_name_plural] == 2
    assert Tenant.objects.filter(pk=other_tenant.pk).exists()
    empty = factories.TenantFactory(name="空租户", slug="empty")
    resp = client.post(reverse("admin:oms_tenant_delete", args=[empty.pk]), {"post": "yes"})
    assert resp.status_code == 302 and not Tenant.objects.filter(pk=empty.pk).exists()
