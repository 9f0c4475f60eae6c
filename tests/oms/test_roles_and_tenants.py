import pytest
from django.urls import reverse

from oms.middleware import SESSION_KEY
from oms.models import Membership
from oms.roles import ROLE_CAPABILITIES, Role
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_role_has_capabilities_for_every_area():
    from oms.roles import Area

    for role in Role.values:
        assert set(ROLE_CAPABILITIES[role]) == set(Area.values)


@pytest.mark.parametrize(
    "role,url,expected",
    [
        ("readonly", "admin:orders_order_changelist", 200),
        ("warehouse", "admin:channels_shop_changelist", 403),
        ("warehouse", "admin:inventory_stocklevel_changelist", 200),
        ("cs", "admin:inventory_warehouse_add", 403),
        ("ops", "admin:inventory_warehouse_add", 200),
        ("ops", "admin:oms_membership_changelist", 403),
        ("owner", "admin:oms_membership_changelist", 200),
        ("owner", "admin:oms_tenant_changelist", 403),
    ],
)
def test_roles_map_to_what_each_may_do(client, tenant, role, url, expected):
    client.force_login(factories.member(tenant, role))
    assert client.get(reverse(url)).status_code == expected


def test_readonly_cannot_change_an_order(client, tenant):
    order = factories.OrderFactory(tenant=tenant)
    client.force_login(factories.member(tenant, "readonly"))
    resp = client.post(reverse("admin:orders_order_change", args=[order.pk]), {"receiver_name": "X"})
    assert resp.status_code == 403
    order.refresh_from_db()
    assert order.receiver_name == "张三"


def test_a_user_without_membership_sees_no_tenant_data(client, tenant):
    factories.OrderFactory(tenant=tenant)
    user = factories.UserFactory(username="nobody")
    client.force_login(user)
    assert client.get(reverse("admin:orders_order_changelist")).status_code == 403


def test_superuser_manages_tenants(client, db):
    admin_user = factories.UserFactory(username="root", is_superuser=True)
    client.force_login(admin_user)
    assert client.get(reverse("admin:oms_tenant_changelist")).status_code == 200


def test_switcher_changes_tenant_and_refuses_foreign_tenants(client, tenant, other_tenant):
    third = factories.TenantFactory(slug="third")
    user = factories.member(tenant, "ops", username="multi")
    Membership.objects.create(tenant=other_tenant, user=user, role="readonly")
    mine_b = factories.OrderFactory(tenant=other_tenant)
    client.force_login(user)
    # default: first membership (tenant A) -> B's order is a 404
    assert client.get(reverse("admin:orders_order_change", args=[mine_b.pk])).status_code == 404
    resp = client.post(reverse("switch_tenant"), {"tenant_id": other_tenant.pk, "next": "/admin/"})
    assert resp.status_code == 302
    assert client.session[SESSION_KEY] == other_tenant.pk
    assert client.get(reverse("admin:orders_order_change", args=[mine_b.pk])).status_code == 200
    # a tenant the user does not belong to: 404, and the session is unchanged
    assert client.post(reverse("switch_tenant"), {"tenant_id": third.pk}).status_code == 404
    assert client.session[SESSION_KEY] == other_tenant.pk


def test_credentials_are_encrypted_at_rest_and_masked_in_the_admin(owner_client, tenant):
    from django.db import connection

    shop = factories.ShopFactory(tenant=tenant, credentials={"app_key": "12345678", "app_secret": "TOPSECRET99"})
    with connection.cursor() as cur:
        cur.execute("SELECT credentials FROM channels_shop WHERE id = %s", [shop.pk])
        stored = cur.fetchone()[0]
    assert "TOPSECRET99" not in stored and "app_secret" not in stored
    shop.refresh_from_db()
    assert shop.credentials["app_secret"] == "TOPSECRET99"
    page = owner_client.get(reverse("admin:channels_shop_change", args=[shop.pk])).content.decode()
    assert "TOPSECRET99" not in page
    assert "TO*******99" in page


def test_staff_pages_open_in_chinese_whatever_the_browser_says_and_the_switch_changes_it(owner_client):
    resp = owner_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert resp.headers["Content-Language"] == "zh-hans"
    owner_client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    resp = owner_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert resp.headers["Content-Language"] == "en"
