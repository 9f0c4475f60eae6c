"""平台禁止发货: each platform's do-not-ship state, as its sandbox serves it, becomes a hold on the
pull that resolves by itself when a later pull shows the flag cleared; a held order is refused
by the bulk ship."""

from __future__ import annotations

import pytest

from logistics import services as shipping
from orders import services
from orders.models import Hold, HoldReason
from tests.lifecycle.conftest import World

WORDS = {"taobao": "PAID_FORBID_CONSIGN", "jd": "POP_ORDER_PAUSE", "pdd": "risk_control_status"}
LABELS = {"taobao": "平台禁止发货", "jd": "平台暂停发货", "pdd": "平台风控审核中"}


@pytest.mark.django_db
@pytest.mark.parametrize("platform", ["taobao", "jd", "pdd"])
def test_a_do_not_ship_flag_holds_the_order_until_the_platform_clears_it(platform, tenant, market, carriers):
    world = World(tenant, market, carriers, platform=platform)
    pid = world.new_order()
    world.pull()
    order = world.order(pid)
    services.order_allocate(order=order)
    world.modify(pid, ship_block=True)
    world.pull()

    order = world.order(pid)
    hold = Hold.objects.get(order=order, reason=HoldReason.FORBID_SHIP, resolved_at=None)
    assert LABELS[platform] in hold.detail and WORDS[platform] in hold.detail, hold.detail
    assert order.status == "on_hold"
    job = shipping.bulk_ship_start(tenant_id=tenant.pk, order_ids=[order.pk])
    job = shipping.bulk_ship_run(tenant_id=tenant.pk, job_id=job.pk)
    assert job.failed == 1 and "平台禁止发货" in job.failures[0]["reason"]

    world.modify(pid, ship_block=False)
    world.pull()
    order = world.order(pid)
    hold.refresh_from_db()
    assert hold.resolved_at is not None and hold.auto_released
    assert order.status == "approved"


@pytest.mark.django_db
def test_a_person_who_released_the_hold_is_not_overruled_by_the_same_flag_again(world):
    pid = world.new_order()
    world.modify(pid, ship_block=True)
    world.pull()
    order = world.order(pid)
    services.hold_resolve(hold=Hold.objects.get(order=order, reason=HoldReason.FORBID_SHIP), note="平台已电话确认可发")
    world.modify(pid, seller_note="")
    world.pull()
    assert not Hold.objects.filter(order=order, reason=HoldReason.FORBID_SHIP, resolved_at=None).exists()
