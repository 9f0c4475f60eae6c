"""Customer-service lookup: every key finds the order; nothing is found across tenants."""

import pytest
from django.urls import reverse

from orders.lookup import lookup_orders
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(tenant, other_tenant):
    mine = factories.OrderFactory(tenant=tenant, platform_order_id="3901234567890", receiver_name="李雷",
                                  receiver_phone="13912345678", buyer_nick="lilei_tb", buyer_email="lilei@example.com")
    other = factories.OrderFactory(tenant=tenant, platform_order_id="555", receiver_name="韩梅梅",
                                   receiver_phone="13600005678", buyer_nick="hmm")
    factories.ShipmentFactory(tenant=tenant, order=mine, tracking_number="SF1400000001")
    theirs = factories.OrderFactory(tenant=other_tenant, platform_order_id="3901234567890", receiver_name="李雷",
                                    receiver_phone="13912345678", buyer_nick="lilei_tb",
                                    buyer_email="lilei@example.com")
    factories.ShipmentFactory(tenant=other_tenant, order=theirs, tracking_number="SF1400000002")
    return mine, other, theirs


def found(tenant, q):
    return {h.order.pk for h in lookup_orders(tenant_id=tenant.pk, query=q)}


@pytest.mark.parametrize("query, key", [
    ("3901234567890", "platform_order_id"),
    ("13912345678", "phone"),
    ("+86 139-1234-5678", "phone"),
    ("5678 李雷", "phone_last4"),
    ("李雷 5678", "phone_last4"),
    ("李雷", "receiver_name"),
    ("lilei_tb", "buyer_nick"),
    ("lilei@example.com", "buyer_email"),
    ("LiLei@Example.com", "buyer_email"),
    ("SF1400000001", "tracking_number"),
    ("sf1400000001", "tracking_number"),
])
def test_each_key_finds_the_order_of_this_tenant_only(tenant, orders, query, key):
    mine, other, theirs = orders
    hits = lookup_orders(tenant_id=tenant.pk, query=query)
    assert [h.order.pk for h in hits] == [mine.pk]
    assert key in hits[0].keys


def test_our_number_finds_by_primary_key_but_never_another_tenants(tenant, orders):
    mine, other, theirs = orders
    assert found(tenant, mine.number) == {mine.pk}
    assert found(tenant, f"oms{other.pk}") == {other.pk}
    assert found(tenant, theirs.number) == set()
    assert found(tenant, "SF1400000002") == set()  # their parcel


def test_partial_values_do_not_match(tenant, orders):
    assert found(tenant, "390123") == set()
    assert found(tenant, "5678") == set()  # last 4 alone is not enough
    assert found(tenant, "5678 韩梅") == set()
    assert found(tenant, "lilei@example") == set() and found(tenant, "@example.com") == set()


def test_an_email_search_shows_the_address_masked(tenant, orders, owner_client):
    mine, other, theirs = orders
    html = owner_client.get(reverse("orders:lookup"), {"q": "lilei@example.com"}).content.decode()
    assert reverse("orders:detail", args=[mine.pk]) in html and reverse("orders:detail", args=[theirs.pk]) not in html
    assert "l***i@example.com" in html and "买家邮箱" in html
    assert "lilei@example.com" not in html.replace('value="lilei@example.com"', "")  # only the query echoed back


def test_the_page_lists_hits_with_a_link_to_the_order(tenant, orders, owner_client):
    mine, other, theirs = orders
    html = owner_client.get(reverse("orders:lookup"), {"q": "李雷"}).content.decode()
    assert reverse("orders:detail", args=[mine.pk]) in html
    import re

    assert len(re.findall(r'href="/orders/\d+/"', html)) == 1  # one hit: ours
    assert "SF1400000001" in html
    html = owner_client.get(reverse("orders:lookup"), {"q": theirs.number}).content.decode()
    assert 'id="no-results"' in html


def test_the_lookup_needs_a_login(client):
    assert client.get(reverse("orders:lookup"), {"q": "x"}).status_code == 302
