"""Tenant isolation in the admin: every tenant-owned model, every admin view."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from oms.admin_base import TenantAdmin
from oms.models import TenantOwned
from tests import factories

pytestmark = pytest.mark.django_db

TENANT_MODELS = [m for m in apps.get_models() if issubclass(m, TenantOwned)]


def test_every_tenant_owned_model_has_a_factory_and_a_scoped_admin():
    missing = [m.__name__ for m in TENANT_MODELS if m not in factories.FACTORIES]
    assert not missing, f"add factories for {missing} so the isolation sweep covers them"
    for model in TENANT_MODELS:
        model_admin = admin.site._registry.get(model)
        if model_admin is not None:
            assert isinstance(model_admin, TenantAdmin), f"{model.__name__} admin must inherit TenantAdmin"


def _url(model, name, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{name}", args=args)


@pytest.mark.parametrize("model", [m for m in TENANT_MODELS if m in admin.site._registry],
                         ids=lambda m: m.__name__)
def test_other_tenants_rows_are_invisible_and_their_ids_answer_404(model, tenant, other_tenant, owner_client):
    mine = factories.FACTORIES[model](tenant=tenant)
    theirs = factories.FACTORIES[model](tenant=other_tenant)

    listing = owner_client.get(_url(model, "changelist"))
    assert listing.status_code == 200
    pks = {obj.pk for obj in listing.context["cl"].result_list}
    assert mine.pk in pks
    assert theirs.pk not in pks

    for view in ("change", "delete", "history"):
        assert owner_client.get(_url(model, view, mine.pk)).status_code in (200, 403), view
        assert owner_client.get(_url(model, view, theirs.pk)).status_code == 404, view
    # a POST against another tenant's object is a 404 as well (no write happens)
    assert owner_client.post(_url(model, "delete", theirs.pk), {"post": "yes"}).status_code == 404
    assert model.objects.filter(pk=theirs.pk).exists()


def test_search_and_filters_never_reach_another_tenant(tenant, other_tenant, owner_client):
    mine = factories.OrderFactory(tenant=tenant, receiver_name="王五")
    theirs = factories.OrderFactory(tenant=other_tenant, receiver_name="王五")
    factories.OrderFactory(tenant=tenant, receiver_name="赵六")  # a second shop, so the filter shows
    resp = owner_client.get(_url(mine.__class__, "changelist"), {"q": "王五"})
    result = {o.pk for o in resp.context["cl"].result_list}
    assert result == {mine.pk}
    # the shop list filter offers only this tenant's shops
    content = resp.content.decode()
    assert f"shop__id__exact={mine.shop_id}" in content
    assert f"shop__id__exact={theirs.shop_id}" not in content
    # filtering on the other tenant's shop id yields nothing
    resp = owner_client.get(_url(mine.__class__, "changelist"), {"shop__id__exact": theirs.shop_id})
    assert list(resp.context["cl"].result_list) == []


def test_fk_and_m2m_choices_list_only_own_rows(tenant, other_tenant, owner_client):
    mine_wh = factories.WarehouseFactory(tenant=tenant)
    their_wh = factories.WarehouseFactory(tenant=other_tenant)
    mine_sku = factories.SkuFactory(tenant=tenant)
    their_sku = factories.SkuFactory(tenant=other_tenant)
    mine_shop = factories.ShopFactory(tenant=tenant)
    their_shop = factories.ShopFactory(tenant=other_tenant)

    from channels.models import Listing, Shop

    form = owner_client.get(_url(Listing, "add")).context["adminform"].form
    assert set(form.fields["shop"].queryset) == {mine_shop}
    assert mine_sku in form.fields["sku"].queryset and their_sku not in form.fields["sku"].queryset

    form = owner_client.get(_url(Shop, "add")).context["adminform"].form
    assert set(form.fields["warehouses"].queryset) == {mine_wh}
    assert their_wh not in form.fields["warehouses"].queryset
    assert their_shop.pk  # exists, just not offered


def test_posting_another_tenants_fk_id_is_rejected(tenant, other_tenant, owner_client):
    from channels.models import Listing

    mine_shop = factories.ShopFactory(tenant=tenant)
    their_sku = factories.SkuFactory(tenant=other_tenant)
    resp = owner_client.post(_url(Listing, "add"), {"shop": mine_shop.pk, "sku": their_sku.pk,
                                                    "platform_item_id": "1", "platform_sku_id": "2",
                                                    "push_enabled": "on"})
    assert resp.status_code == 200  # form redisplayed with an error
    assert "sku" in resp.context["adminform"].form.errors
    assert not Listing.objects.exists()


def test_admin_add_sets_the_current_tenant(tenant, owner_client):
    from inventory.models import Warehouse

    resp = owner_client.post(_url(Warehouse, "add"), {"code": "HZ", "name": "杭州仓", "province": "浙江省",
                                                      "regions": "[]", "priority": 1, "active": "on"})
    assert resp.status_code == 302, resp.content[:500]
    assert Warehouse.objects.get(code="HZ").tenant == tenant


def test_bulk_action_only_touches_own_rows(tenant, other_tenant, owner_client):
    from orders.models import Order

    mine = factories.OrderFactory(tenant=tenant, status="pending_review")
    theirs = factories.OrderFactory(tenant=other_tenant, status="pending_review")
    owner_client.post(_url(Order, "changelist"), {"action": "cancel_selected",
                                                  "_selected_action": [mine.pk, theirs.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == "cancelled"
    assert theirs.status == "pending_review"


def test_admin_opens_in_simplified_chinese(owner_client):
    resp = owner_client.get("/admin/")
    assert resp.status_code == 200
    assert "聚合订单管理系统" in resp.content.decode()
    assert resp.headers["Content-Language"] == "zh-hans"
