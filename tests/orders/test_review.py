"""Review rules: each rule with a passing and a failing order; holds name the data that failed;
fixing the cause releases the hold; a hold a person resolved is not opened again."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Reservation
from oms.celery import app as celery_app
from orders import services
from orders.models import Blacklist, Hold, OrderEvent, ReviewRule
from tests import factories
from tests.orders.conftest import stock_is

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stocked(env):
    env.receive(env.hz, env.a, 100)
    env.receive(env.hz, env.b, 100)


def holds(order):
    return {h.reason: h.detail for h in Hold.objects.filter(order=order, resolved_at=None)}


GOOD = {}
CASES = [
    # (rule, failing order fields, reason, text in the hold's message)
    ("name", {"receiver_name": ""}, "address", "缺少收件人姓名"),
    ("district", {"receiver_district": ""}, "address", "缺少区县"),
    ("short address", {"receiver_address": "1号"}, "address", "太短"),
    ("region repeat", {"receiver_address": "浙江省杭州市西湖区"}, "address", "只重复了省市区"),
    ("mobile", {"receiver_phone": "1380013800"}, "phone", "手机号 1380013800 不是有效号码"),
    ("mobile prefix", {"receiver_phone": "12812345678"}, "phone", "12812345678"),
    ("intl phone", {"receiver_country": "US", "receiver_phone": "+1 202 555 01"}, "phone", "不是有效的 US 号码"),
    ("mismatch", {"paid": Decimal("5.00")}, "amount", "实付 5.00 与 商品 10.00"),
    ("zero price", {"lines": [("SKU-A", 1, "0.00"), ("SKU-B", 1, "20.00")]}, "amount", "单价 0.00 不大于零"),
    ("discount", {"lines": [("SKU-A", 10, "10.00")], "discount": Decimal("60.00")}, "amount", "优惠 60.00 超过商品金额"),
    ("buyer note", {"buyer_note": "请发顺丰"}, "note", "买家留言：请发顺丰"),
    ("seller note", {"seller_note": "老客户"}, "note", "卖家备注：老客户"),
    ("high value", {"lines": [("SKU-A", 60, "100.00")]}, "high_value", "6000.00 CNY 达到大额订单标准 5000.00"),
]


@pytest.mark.parametrize("name,fields,reason,text", CASES, ids=[c[0] for c in CASES])
def test_each_rule_holds_a_failing_order_with_a_message_naming_the_data(env, name, fields, reason, text):
    order = env.ingest("BAD", **fields)
    assert order.status == "on_hold"
    found = holds(order)
    assert reason in found, found
    assert text in found[reason]


PASSING = [
    ("clean", {}),
    ("mobile with +86", {"receiver_phone": "+86 139 1234 5678"}),
    ("masked mobile", {"receiver_phone": "139****5678"}),
    ("intl valid", {"receiver_country": "US", "receiver_phone": "+1 415 555 2671", "receiver_district": ""}),
    ("within tolerance", {"paid": Decimal("10.50")}),
    ("shipping and discount agree", {"shipping": Decimal("8"), "discount": Decimal("3")}),
    ("gift at zero", {"lines": [("SKU-A", 1, "10.00"), ("GIFT-B", 1, "0.00")]}),
    ("discount below threshold", {"lines": [("SKU-A", 10, "10.00")], "discount": Decimal("40.00")}),
    ("below high value", {"lines": [("SKU-A", 49, "100.00")]}),
]


@pytest.mark.parametrize("name,fields", PASSING, ids=[c[0] for c in PASSING])
def test_a_passing_order_is_approved_automatically(env, name, fields):
    if "GIFT-B" in str(fields):
        env.receive(env.hz, factories.SkuFactory(tenant=env.tenant, code="GIFT-B"), 1)
    order = env.ingest("GOOD", **fields)
    assert holds(order) == {}
    assert order.status == "approved"


def test_below_reference_price_is_off_by_default_and_holds_when_enabled(env):
    assert env.ingest("P1", lines=[("SKU-B", 1, "2.00")]).status == "approved"
    services.order_cancel(order=env.ingest("P1"))
    from orders import rules

    rules.rule_settings(tenant_id=env.tenant.pk)
    ReviewRule.objects.filter(tenant=env.tenant, code="below_reference").update(enabled=True, threshold=Decimal("50"))
    held = env.ingest("P2", lines=[("SKU-B", 1, "9.00")])
    assert "SKU-B 单价 9.00 低于参考价 20.00 的 50%" in holds(held)["amount"]
    assert env.ingest("P3", lines=[("SKU-B", 1, "11.00")]).status == "approved"


def test_rules_can_be_switched_off_and_thresholds_changed_per_tenant(env, other_tenant):
    from orders import rules

    rules.rule_settings(tenant_id=env.tenant.pk)
    ReviewRule.objects.filter(tenant=env.tenant, code="note").update(enabled=False)
    ReviewRule.objects.filter(tenant=env.tenant, code="high_value").update(threshold=Decimal("100"))
    assert env.ingest("N1", buyer_note="hello").status == "approved"
    assert "high_value" in holds(env.ingest("H1", lines=[("SKU-A", 11, "10.00")]))
    # the other tenant keeps the defaults
    other = rules.rule_settings(tenant_id=other_tenant.pk)
    assert other["note"].enabled and other["high_value"].threshold == Decimal("5000")


def test_blacklisted_buyer_phone_and_address_are_held(env):
    Blacklist.objects.create(tenant=env.tenant, kind="buyer", value="bad_buyer", note="恶意退款")
    Blacklist.objects.create(tenant=env.tenant, kind="phone", value="13700000000")
    Blacklist.objects.create(tenant=env.tenant, kind="address", value="文三路 666 号")
    assert "买家 bad_buyer 在黑名单中（恶意退款）" in holds(env.ingest("B1", buyer_nick="bad_buyer"))["blacklist"]
    assert "电话 +8613700000000 在黑名单中" in holds(env.ingest("B2", receiver_phone="+8613700000000"))["blacklist"]
    assert "文三路 666 号" in holds(env.ingest("B3", receiver_address="文三路666号 3 幢"))["blacklist"]
    assert env.ingest("B4", buyer_nick="good_buyer", receiver_phone="13700000001").status == "approved"


def test_possible_duplicate_holds_the_later_order_only(env):
    t0 = timezone.now() - timedelta(hours=2)
    first = env.ingest("D1", buyer_nick="tb_1", placed_at=t0)
    second = env.ingest("D2", buyer_nick="tb_1", placed_at=t0 + timedelta(minutes=10))
    later = env.ingest("D3", buyer_nick="tb_1", placed_at=t0 + timedelta(minutes=35))  # 25 min after D2
    other_lines = env.ingest("D4", buyer_nick="tb_1", placed_at=t0 + timedelta(minutes=12),
                             lines=[("SKU-B", 1, "20.00")])
    assert first.status == "approved"
    assert "与订单 D1 买家 tb_1 和商品相同，下单间隔 10 分钟" in holds(second)["duplicate"]
    assert "与订单 D2" in holds(later)["duplicate"]
    assert other_lines.status == "approved"
    lone = env.ingest("D5", buyer_nick="tb_2", placed_at=t0 + timedelta(minutes=200))
    assert lone.status == "approved"


def test_fixing_the_phone_releases_the_hold_and_approves(env, owner):
    order = env.ingest("F1", receiver_phone="1380013800")
    assert order.status == "on_hold"
    services.order_change_receiver(order=order, receiver_phone="13800138000", actor=owner)
    order.refresh_from_db()
    assert order.status == "approved"
    hold = Hold.objects.get(order=order, reason="phone")
    assert hold.resolved_at is not None and hold.auto_released
    ev = OrderEvent.objects.get(order=order, type="address_changed")
    assert ev.before == {"receiver_phone": "1380013800"} and ev.after == {"receiver_phone": "13800138000"}


def test_a_hold_resolved_by_a_person_is_not_opened_again_by_re_review(env, owner):
    order = env.ingest("R1", buyer_note="送人的")
    hold = Hold.objects.get(order=order, reason="note")
    services.hold_resolve(hold=hold, actor=owner, note="已联系买家")
    order.refresh_from_db()
    assert order.status == "approved"
    services.order_review(order=order, actor=owner)
    order.refresh_from_db()
    assert order.status == "approved"
    assert Hold.objects.filter(order=order, reason="note").count() == 1
    # a new note is a new finding
    env.ingest("R1", buyer_note="改成周末送", modified=timezone.now() + timedelta(minutes=1))
    order.refresh_from_db()
    assert order.status == "on_hold" and "改成周末送" in holds(order)["note"]


@pytest.fixture
def eager_tasks():
    """Celery runs tasks in-process; yields the names of the tasks that ran."""
    from celery.signals import task_prerun

    ran = []

    def record(sender=None, **kw):
        ran.append(sender.name)

    task_prerun.connect(record)
    celery_app.conf.task_always_eager = True
    try:
        yield ran
    finally:
        celery_app.conf.task_always_eager = False
        task_prerun.disconnect(record)


@pytest.mark.django_db(transaction=True)
def test_stock_arrival_re_tries_held_orders_urgent_and_oldest_first(env, eager_tasks):
    scarce = factories.SkuFactory(tenant=env.tenant, code="SCARCE")
    t0 = timezone.now() - timedelta(hours=3)
    newer = env.ingest("S-NEW", lines=[("SCARCE", 2, "10.00")], paid_at=t0 + timedelta(hours=1))
    older = env.ingest("S-OLD", lines=[("SCARCE", 2, "10.00")], paid_at=t0)
    urgent = env.ingest("S-URG", lines=[("SCARCE", 2, "10.00")], paid_at=t0 + timedelta(hours=2), urgent=True)
    assert [o.status for o in (newer, older, urgent)] == ["on_hold"] * 3
    env.receive(env.hz, scarce, 4)  # commits; stock_changed -> orders receiver -> task after commit
    assert "orders.tasks.retry_held_for_stock" in eager_tasks
    for o in (newer, older, urgent):
        o.refresh_from_db()
    assert (urgent.status, older.status, newer.status) == ("approved", "approved", "on_hold")
    assert Hold.objects.get(order=urgent, reason="out_of_stock").auto_released
    stock_is(env.hz, scarce, 4, 4)
    # the re-try churned nothing for the order that still cannot be served
    assert Reservation.objects.filter(order_id=newer.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_stock_changes_without_held_orders_enqueue_nothing(env, eager_tasks):
    env.receive(env.hz, env.a, 1)
    assert "orders.tasks.retry_held_for_stock" not in eager_tasks


def test_timed_hold_releases_itself(env, owner):
    order = env.ingest("TH1")
    until = timezone.now() + timedelta(hours=1)
    services.order_hold(order=order, detail="等买家确认", until=until, actor=owner)
    order.refresh_from_db()
    assert order.status == "on_hold"
    assert services.holds_release_due(now=until - timedelta(minutes=1)) == 0
    assert services.holds_release_due(now=until + timedelta(seconds=1)) == 1
    order.refresh_from_db()
    assert order.status == "approved"
    assert Hold.objects.get(order=order).resolution_note == "到期自动解除"
    from orders.tasks import release_timed_holds

    assert release_timed_holds() == 0  # nothing left, harmless to run again


def test_auto_approve_off_leaves_clean_orders_for_a_person(env):
    env.tenant.auto_approve = False
    env.tenant.save()
    assert env.ingest("M1").status == "pending_review"
