"""Carrier choice: ordered rules, the cheapest quote, scorecard strategies, explanations."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from logistics.models import CarrierRule, LogisticsSettings, Shipment, TrackingEvent
from logistics.rules import CarrierChooser, NoCarrier, ParcelFacts, rate_price
from logistics.services import ShipmentError, shipment_override, shipment_prepare
from orders.models import OrderEvent
from tests import factories
from tests.factories_logistics import carrier

pytestmark = pytest.mark.django_db


def facts(**kw):
    base = {"province": "上海市", "weight_grams": 800, "order_value": Decimal("99.00")}
    base.update(kw)
    return ParcelFacts(**base)


def test_price_is_first_weight_plus_each_started_additional_unit(rates):
    yto = rates["YTO"]  # ¥5 first kg, ¥2 per additional kg
    assert rate_price(yto, 1) == Decimal("5.00")
    assert rate_price(yto, 1000) == Decimal("5.00")
    assert rate_price(yto, 1001) == Decimal("7.00")
    assert rate_price(yto, 3000) == Decimal("9.00")
    assert rate_price(yto, 3001) == Decimal("11.00")


def test_without_rules_the_cheapest_carrier_wins_and_says_against_whom(tenant, rates):
    choice = CarrierChooser(tenant.pk).choose(facts(weight_grams=800))
    assert choice.carrier.code == "YTO"
    assert choice.explanation == "最便宜：圆通 ¥5.00 vs 中通 ¥5.50"
    assert choice.price == Decimal("5.00")


def test_cheapest_depends_on_weight(tenant, rates):
    # 3.5 kg: YTO 5 + 3*2 = 11, ZTO 5.5 + 3*1.5 = 10
    choice = CarrierChooser(tenant.pk).choose(facts(weight_grams=3500))
    assert choice.carrier.code == "ZTO"
    assert choice.explanation == "最便宜：中通 ¥10.00 vs 圆通 ¥11.00"


def test_a_zone_naming_the_province_beats_the_default_rate(tenant, rates):
    chooser = CarrierChooser(tenant.pk)
    quotes = {q.carrier.code: q.price for q in chooser.quotes(facts(province="新疆", weight_grams=800))}
    assert quotes == {"YTO": Decimal("15.00"), "ZTO": Decimal("15.50"), "SF": Decimal("22.00")}


def test_no_rule_and_no_rate_is_an_explained_refusal(tenant):
    with pytest.raises(NoCarrier, match="没有匹配的快递规则"):
        CarrierChooser(tenant.pk).choose(facts())


def test_rules_apply_in_order_and_the_first_match_is_explained(tenant, rates):
    r1 = CarrierRule.objects.create(tenant=tenant, name="大件", priority=5, min_weight_grams=20000,
                                    carrier=carrier("JD"))
    r2 = CarrierRule.objects.create(tenant=tenant, name="加急订单", priority=10, urgent=True, carrier=carrier("SF"),
                                    service="express")
    CarrierRule.objects.create(tenant=tenant, name="其余走中通", priority=20, carrier=carrier("ZTO"))
    chooser = CarrierChooser(tenant.pk)
    urgent = chooser.choose(facts(urgent=True))
    assert (urgent.carrier.code, urgent.service_code) == ("SF", "express")
    assert urgent.explanation == f"规则 #{r2.pk} 加急订单 → 顺丰特快"
    assert urgent.rule_id == r2.pk
    heavy_urgent = chooser.choose(facts(urgent=True, weight_grams=25000))
    assert heavy_urgent.rule_id == r1.pk and heavy_urgent.carrier.code == "JD"
    normal = chooser.choose(facts())
    assert normal.carrier.code == "ZTO" and normal.explanation.endswith("其余走中通 → 中通标准")


def test_disabled_rules_are_ignored(tenant, rates):
    CarrierRule.objects.create(tenant=tenant, name="全部顺丰", priority=1, carrier=carrier("SF"), enabled=False)
    assert CarrierChooser(tenant.pk).choose(facts()).carrier.code == "YTO"


def test_buyer_chosen_express_from_the_note(tenant, rates):
    rule = CarrierRule.objects.create(tenant=tenant, name="买家指定顺丰", buyer_express_keywords="顺丰, SF",
                                      carrier=carrier("SF"))
    chooser = CarrierChooser(tenant.pk)
    assert chooser.choose(facts(notes="麻烦发顺丰，谢谢")).rule_id == rule.pk
    assert chooser.choose(facts(notes="please ship by sf")).rule_id == rule.pk
    assert chooser.choose(facts(notes="尽快发货")).rule_id is None


def test_remote_areas_are_configurable_per_tenant(tenant, rates):
    rule = CarrierRule.objects.create(tenant=tenant, name="偏远走邮政", remote=True, carrier=carrier("EMS"))
    chooser = CarrierChooser(tenant.pk)
    assert chooser.choose(facts(province="西藏自治区")).rule_id == rule.pk
    assert chooser.choose(facts(province="海南省")).rule_id is None
    LogisticsSettings.objects.filter(tenant=tenant).update(remote_provinces=["海南省"])
    chooser = CarrierChooser(tenant.pk)
    assert chooser.choose(facts(province="海南省")).rule_id == rule.pk
    assert chooser.choose(facts(province="西藏自治区")).rule_id is None


def test_province_value_and_shop_conditions(tenant, rates):
    shop = factories.ShopFactory(tenant=tenant)
    other_shop = factories.ShopFactory(tenant=tenant)
    rule = CarrierRule.objects.create(tenant=tenant, name="京沪高价", provinces=["北京市", "上海"],
                                      min_order_value=Decimal("500"), max_order_value=Decimal("5000"), shop=shop,
                                      carrier=carrier("SF"))
    chooser = CarrierChooser(tenant.pk)
    hit = facts(province="北京", order_value=Decimal("800"), shop_id=shop.pk)
    assert chooser.choose(hit).rule_id == rule.pk
    assert chooser.choose(facts(province="北京", order_value=Decimal("100"), shop_id=shop.pk)).rule_id is None
    assert chooser.choose(facts(province="北京", order_value=Decimal("9000"), shop_id=shop.pk)).rule_id is None
    assert chooser.choose(facts(province="广东省", order_value=Decimal("800"), shop_id=shop.pk)).rule_id is None
    assert chooser.choose(facts(province="北京", order_value=Decimal("800"), shop_id=other_shop.pk)).rule_id is None


def test_a_rule_may_say_cheapest(tenant, rates):
    rule = CarrierRule.objects.create(tenant=tenant, name="非加急省钱", urgent=False, strategy="cheapest")
    choice = CarrierChooser(tenant.pk).choose(facts())
    assert choice.rule_id == rule.pk
    assert choice.explanation == f"规则 #{rule.pk} 非加急省钱 → 最便宜：圆通 ¥5.00 vs 中通 ¥5.50"


def _history(tenant, code, hours, n, *, province="上海市", problem=False, returned=False):
    """n delivered parcels of a carrier to a province, `hours` from pick-up to delivery."""
    now = timezone.now()
    for _i in range(n):
        order = factories.OrderFactory(tenant=tenant, receiver_province=province, status="delivered")
        picked = now - timedelta(days=3)
        s = Shipment.objects.create(tenant=tenant, order=order, carrier=carrier(code), service="standard",
                                    tracking_number=f"T{order.pk}", status="returned" if returned else "delivered",
                                    shipped_at=picked - timedelta(hours=1),
                                    delivered_at=None if returned else picked + timedelta(hours=hours))
        TrackingEvent.objects.create(tenant=tenant, shipment=s, occurred_at=picked, status="in_transit",
                                     description="已揽收")
        if problem:
            TrackingEvent.objects.create(tenant=tenant, shipment=s, occurred_at=picked + timedelta(hours=2),
                                         status="problem", description="派件异常")


def test_fastest_uses_the_scorecards(tenant, rates):
    _history(tenant, "YTO", 60, 4)
    _history(tenant, "ZTO", 30, 4)
    _history(tenant, "ZTO", 40, 1, province="广东省")
    rule = CarrierRule.objects.create(tenant=tenant, name="时效优先", strategy="fastest")
    choice = CarrierChooser(tenant.pk).choose(facts(province="上海市"))
    assert choice.carrier.code == "ZTO"
    assert choice.explanation == (f"规则 #{rule.pk} 时效优先 → 时效优先：中通 中位 30.0 小时 vs 圆通 中位 60.0 小时"
                                  "（近 30 天 上海）")


def test_best_service_weighs_on_time_problems_and_returns(tenant, rates):
    _history(tenant, "ZTO", 30, 4, problem=True)  # fast but every parcel had trouble
    _history(tenant, "YTO", 60, 4)  # slower, within its 72h promise, clean
    CarrierRule.objects.create(tenant=tenant, name="服务优先", strategy="best_service")
    choice = CarrierChooser(tenant.pk).choose(facts(province="上海市"))
    assert choice.carrier.code == "YTO"
    assert "服务优先：圆通 准时率 100% 异常率 0% vs 中通 准时率 100% 异常率 100%" in choice.explanation


def test_strategy_without_enough_data_falls_back_to_cheapest_and_says_so(tenant, rates):
    _history(tenant, "SF", 20, 2)  # below the minimum sample
    rule = CarrierRule.objects.create(tenant=tenant, name="时效优先", strategy="fastest")
    choice = CarrierChooser(tenant.pk).choose(facts())
    assert choice.carrier.code == "YTO"
    assert choice.explanation == (f"规则 #{rule.pk} 时效优先 → 时效优先：暂无足够考核数据，改用"
                                  "最便宜：圆通 ¥5.00 vs 中通 ¥5.50")


def test_prepare_stores_the_explanation_and_writes_an_order_event(tenant, rates, make_order):
    rule = CarrierRule.objects.create(tenant=tenant, name="加急订单", urgent=True, carrier=carrier("SF"),
                                      service="express")
    order = make_order(urgent=True)
    s = shipment_prepare(tenant_id=tenant.pk, order_id=order.pk)
    assert s.carrier.code == "SF" and s.service == "express"
    assert s.choice_explanation == f"规则 #{rule.pk} 加急订单 → 顺丰特快"
    assert s.weight_grams == 800
    ev = OrderEvent.objects.get(order=order, type="carrier_chosen")
    assert ev.message == s.choice_explanation
    order.refresh_from_db()
    assert order.status == "picking"
    # a retry finds the same parcel: no second shipment, no second event
    assert shipment_prepare(tenant_id=tenant.pk, order_id=order.pk).pk == s.pk
    assert OrderEvent.objects.filter(order=order, type="carrier_chosen").count() == 1


def test_prepare_refuses_orders_that_are_not_allocated(tenant, rates, make_order):
    order = make_order(status="approved")
    with pytest.raises(ShipmentError, match="不能发货"):
        shipment_prepare(tenant_id=tenant.pk, order_id=order.pk)
    assert not Shipment.objects.filter(order=order).exists()


def test_ops_can_override_before_the_waybill(tenant, rates, make_order, owner):
    order = make_order()
    s = shipment_prepare(tenant_id=tenant.pk, order_id=order.pk)
    assert s.carrier.code == "YTO"
    s = shipment_override(tenant_id=tenant.pk, shipment_id=s.pk, carrier_code="SF", service_code="express", actor=owner)
    assert (s.carrier.code, s.service, s.overridden) == ("SF", "express", True)
    assert s.choice_explanation == f"人工改派 → 顺丰特快（{owner.username}）"
    ev = OrderEvent.objects.get(order=order, type="carrier_override")
    assert ev.actor == owner and "最便宜：圆通 ¥5.00" in ev.message
    Shipment.objects.filter(pk=s.pk).update(status="labelled", tracking_number="SF1")
    with pytest.raises(ShipmentError, match="先取消面单"):
        shipment_override(tenant_id=tenant.pk, shipment_id=s.pk, carrier_code="ZTO")
