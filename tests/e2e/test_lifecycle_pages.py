"""The order lifecycle in a real browser: customer service changes an address, the platform
changes it too -> the order page shows both versions side by side and one click takes the
platform's; ops find a refund-intercepted order in its own tab with the reason."""

from __future__ import annotations

import re

import pytest

from orders.models import Hold, HoldReason
from tests import factories
from tests.lifecycle.conftest import World, carriers, market  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page, user):
    page.goto("/admin/login/?next=/orders/work/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/orders/work/"))


def test_an_address_conflict_is_decided_on_the_order_page_and_an_intercepted_order_has_its_tab(
        page, shots, live_server, tenant, market, carriers):  # noqa: F811
    world = World(tenant, market, carriers)
    conflict_pid, refund_pid = world.new_order(seed=1), world.new_order(seed=2)
    world.pull()
    cs = factories.member(tenant, "cs")
    _login(page, cs)

    order = world.order(conflict_pid)
    page.goto(f"/orders/{order.pk}/")
    page.fill("input[name=receiver_address]", "客服改的地址 9 号 1 单元 101 室")
    page.locator("input[name=receiver_address]").locator("xpath=ancestor::form").locator("button").first.click()
    page.wait_for_load_state()
    world.modify(conflict_pid, receiver={"province": "江苏省", "city": "南京市", "district": "鼓楼区",
                                         "town": "", "address": "中山北路 30 号 2 幢 301 室"})
    world.modify(refund_pid, refund="requested")
    world.pull()

    page.goto(f"/orders/{order.pk}/")
    table = page.locator("table.conflict")
    assert "客服改的地址 9 号 1 单元 101 室" in table.inner_text() and "中山北路 30 号 2 幢 301 室" in table.inner_text()
    shots(page, "lifecycle-01-address-conflict")
    page.click("button[name=keep][value=platform]")
    page.wait_for_load_state()
    assert "已采用平台的收件信息" in page.content()
    order.refresh_from_db()
    assert order.receiver_address == "中山北路 30 号 2 幢 301 室"
    assert not Hold.objects.filter(order=order, reason=HoldReason.CONFLICT, resolved_at=None).exists()
    shots(page, "lifecycle-02-conflict-decided")

    page.goto("/orders/work/intercepted/")
    text = page.locator("table.list").inner_text()
    intercepted = world.order(refund_pid)
    assert intercepted.number in text and "买家申请退款" in text
    shots(page, "lifecycle-03-refund-intercept-tab")
