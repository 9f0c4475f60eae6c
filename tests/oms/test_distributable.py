"""The schema is distributable by tenant (e.g. Citus, distribution column tenant_id).

For every tenant-owned table: each unique constraint / unique index includes tenant (so the
database can enforce it inside one shard), and each foreign key points either to another
tenant-owned table (both rows live on the tenant's shard: colocated) or to a reference table
replicated to every node (listed below). docs/scale-out.md says what Citus would need beyond
this (primary keys are `id` alone today)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models

from logistics.models import Carrier
from oms.models import Tenant, TenantOwned

TENANT_MODELS = [m for m in apps.get_models() if issubclass(m, TenantOwned)]

#: global tables a tenant-owned row may point to: Citus reference tables (copied to every node)
REFERENCE_TABLES = {
    Tenant: "the tenants themselves (the distribution key's table)",
    apps.get_model(settings.AUTH_USER_MODEL): "staff accounts: actor / created_by columns",
    ContentType: "Django's model catalogue",
    Carrier: "the carriers catalogue shared by every tenant",
}


def _unique_sets(model) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for f in model._meta.local_concrete_fields:
        if f.unique and not f.primary_key:
            out.append((f"{model.__name__}.{f.name} unique=True", (f.name,)))
    for together in model._meta.unique_together:
        out.append((f"{model.__name__} unique_together {together}", tuple(together)))
    for c in model._meta.constraints:
        if isinstance(c, models.UniqueConstraint):
            fields = tuple(c.fields) or tuple(str(e) for e in c.expressions)
            out.append((f"{model.__name__} constraint {c.name}", fields))
    return out


def test_there_are_tenant_owned_models_and_reference_tables_are_not_tenant_owned():
    assert len(TENANT_MODELS) > 30
    assert not [m for m in REFERENCE_TABLES if issubclass(m, TenantOwned)]


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m._meta.label)
def test_every_unique_key_of_a_tenant_owned_table_includes_tenant(model):
    missing = [what for what, fields in _unique_sets(model)
               if not any(f in ("tenant", "tenant_id") or "tenant" in f for f in fields)]
    assert not missing, f"unique keys without tenant cannot be enforced per shard: {missing}"


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m._meta.label)
def test_every_foreign_key_of_a_tenant_owned_table_is_colocated_or_a_reference(model):
    bad = []
    for f in model._meta.get_fields():
        if not (f.is_relation and f.concrete) and not (f.many_to_many and not f.auto_created):
            continue
        if f.many_to_many:
            through = f.remote_field.through
            if not issubclass(through, TenantOwned) and f.remote_field.model not in REFERENCE_TABLES:
                bad.append(f"{f.name}: many-to-many through {through._meta.db_table}, which has no tenant column")
            continue
        target = f.remote_field.model
        if issubclass(target, TenantOwned) or target in REFERENCE_TABLES:
            continue
        bad.append(f"{f.name} -> {target._meta.label}")
    assert not bad, f"foreign keys to tables neither distributed by tenant nor reference: {bad}"


@pytest.mark.django_db
def test_the_database_has_no_unique_index_without_tenant_on_a_tenant_owned_table():
    """What the database really has (indexes created by hand in migrations too), not only the models."""
    tables = {m._meta.db_table: m for m in TENANT_MODELS}
    problems = []
    with connection.cursor() as cursor:
        for table in tables:
            constraints = connection.introspection.get_constraints(cursor, table)
            for name, c in constraints.items():
                if (c["unique"] or c["primary_key"]) and not c["primary_key"] and "tenant_id" not in c["columns"]:
                    problems.append(f"{table}.{name} {c['columns']}")
    assert not problems, problems


@pytest.mark.django_db
def test_shop_warehouses_are_saved_from_the_admin_with_the_shops_tenant(tenant, other_tenant, owner_client):
    from django.urls import reverse

    from channels.models import Shop, ShopWarehouse
    from tests import factories

    mine = factories.WarehouseFactory(tenant=tenant)
    theirs = factories.WarehouseFactory(tenant=other_tenant)
    data = {"platform": "manual", "name": "门店", "platform_shop_id": "", "api_base_url": "", "enabled": "on",
            "pull_interval_minutes": 15, "safety_stock": 0, "allocation_ratio": "1", "warehouses": [mine.pk]}
    resp = owner_client.post(reverse("admin:channels_shop_add"), data)
    assert resp.status_code == 302, resp.content[:800]
    shop = Shop.objects.get(name="门店")
    assert list(shop.warehouses.all()) == [mine]
    assert ShopWarehouse.objects.get(shop=shop).tenant_id == tenant.pk
    # another tenant's warehouse is not a valid choice
    resp = owner_client.post(reverse("admin:channels_shop_change", args=[shop.pk]),
                             {**data, "warehouses": [theirs.pk]})
    assert resp.status_code == 200 and "warehouses" in resp.context["adminform"].form.errors
    assert list(shop.warehouses.all()) == [mine]
    # the change form shows the current choice
    form = owner_client.get(reverse("admin:channels_shop_change", args=[shop.pk])).context["adminform"].form
    assert [getattr(w, "pk", w) for w in form.initial["warehouses"]] == [mine.pk]
