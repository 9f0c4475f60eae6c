"""The order page and the merge queue: what a user sees, what each role may do, 404 across tenants."""

import pytest

from orders.models import Hold, Order
from tests import factories

pytestmark = pytest.mark.django_db

SAME = {"buyer_nick": "tb_buyer"}


@pytest.fixture
def order(env):
    env.receive(env.hz, env.a, 10)
    env.receive(env.hz, env.b, 10)
    return env.ingest("P1", receiver_phone="1380013800", **SAME)


def login(client, tenant, role):
    client.force_login(factories.member(tenant, role))
    return client


def test_the_order_page_shows_the_order_its_holds_and_the_actions(client, tenant, order):
    resp = login(client, tenant, "cs").get(f"/orders/{order.pk}/")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert order.number in html and "P1" in html
    assert "手机号 1380013800 不是有效号码" in html
    assert 'value="receiver"' in html and 'value="cancel"' in html and "解除" in html


def test_cs_fixes_the_phone_from_the_page_and_the_hold_goes(client, tenant, order):
    c = login(client, tenant, "cs")
    resp = c.post(f"/orders/{order.pk}/", {"action": "receiver", "receiver_phone": "13800138000"}, follow=True)
    assert "收件信息已更新" in resp.content.decode()
    order.refresh_from_db()
    assert (order.receiver_phone, order.status) == ("13800138000", "approved")


def test_a_refused_action_shows_the_reason(client, tenant, order):
    Order.objects.filter(pk=order.pk).update(status="shipped")
    resp = login(client, tenant, "ops").post(f"/orders/{order.pk}/", {"action": "receiver", "receiver_name": "王五"},
                                             follow=True)
    assert "已发货，无法修改地址" in resp.content.decode()
    order.refresh_from_db()
    assert order.receiver_name == "李四"


def test_read_only_may_view_but_not_act(client, tenant, order):
    c = login(client, tenant, "readonly")
    html = c.get(f"/orders/{order.pk}/").content.decode()
    assert 'value="cancel"' not in html
    assert c.post(f"/orders/{order.pk}/", {"action": "cancel"}).status_code == 403
    order.refresh_from_db()
    assert order.status == "on_hold"


def test_resolve_a_hold_from_the_page_with_a_note(client, tenant, order):
    hold = Hold.objects.get(order=order)
    login(client, tenant, "ops").post(f"/orders/{order.pk}/", {"action": "resolve", "hold": hold.pk,
                                                                "note": "电话已核实"})
    hold.refresh_from_db()
    assert hold.resolution_note == "电话已核实" and hold.resolved_at is not None


def test_another_tenants_order_and_hold_ids_answer_404(client, tenant, other_tenant, order):
    theirs = factories.OrderFactory(tenant=other_tenant)
    their_hold = factories.HoldFactory(tenant=other_tenant, order=theirs)
    c = login(client, tenant, "owner")
    assert c.get(f"/orders/{theirs.pk}/").status_code == 404
    assert c.post(f"/orders/{theirs.pk}/", {"action": "cancel"}).status_code == 404
    assert c.post(f"/orders/{order.pk}/", {"action": "resolve", "hold": their_hold.pk}).status_code == 404
    assert c.post("/orders/merge/", {"order": [order.pk, theirs.pk]}).status_code == 404
    theirs.refresh_from_db()
    their_hold.refresh_from_db()
    assert theirs.status == "pending_review" and their_hold.resolved_at is None


def test_merge_queue_lists_groups_and_merges(client, tenant, env):
    env.receive(env.hz, env.a, 10)
    env.receive(env.hz, env.b, 10)
    a = env.ingest("Q1", **SAME)
    b = env.ingest("Q2", lines=[("SKU-B", 1, "20.00")], **SAME)
    c = login(client, tenant, "ops")
    html = c.get("/orders/merge/").content.decode()
    assert "Q1" in html and "Q2" in html
    resp = c.post("/orders/merge/", {"order": [a.pk, b.pk]})
    merged = Order.objects.get(kind="merged")
    assert resp.status_code == 302 and resp.url == f"/orders/{merged.pk}/"
    html = c.get(f"/orders/{merged.pk}/").content.decode()
    assert "Q1" in html and "Q2" in html and 'value="unmerge"' in html


def test_the_list_puts_urgent_orders_first(client, tenant, env):
    env.receive(env.hz, env.a, 10)
    env.ingest("L1")
    env.ingest("L2", urgent=True)
    html = login(client, tenant, "readonly").get("/orders/").content.decode()
    assert html.index("L2") < html.index("L1")
