"""Carrier choice: the tenant's ordered rules first, else the cheapest quote from the rate
tables. Every choice comes with a sentence that explains it ("规则 #2 加急订单 → 顺丰特快",
"最便宜：圆通 ¥5.00 vs 中通 ¥5.50"), stored on the shipment and the order's timeline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from .models import Carrier, CarrierRate, CarrierRule, CarrierService, RuleStrategy
from .selectors import carrier_scorecards, logistics_settings, province_key

#: a scorecard needs this many delivered parcels before "fastest" / "best service" trusts it
MIN_SAMPLES = 3


class NoCarrier(Exception):
    """No rule and no rate gives a carrier for this parcel (message for the user)."""


@dataclass
class ParcelFacts:
    province: str
    weight_grams: int
    order_value: Decimal
    urgent: bool = False
    notes: str = ""
    shop_id: int | None = None


@dataclass
class Quote:
    carrier: Carrier
    service: CarrierService | None
    price: Decimal
    currency: str

    @property
    def label(self) -> str:
        return display_name(self.carrier, self.service)


@dataclass
class CarrierChoice:
    carrier: Carrier
    service: CarrierService | None
    service_code: str
    explanation: str
    rule_id: int | None = None
    price: Decimal | None = None


def display_name(carrier: Carrier, service: CarrierService | None) -> str:
    return f"{carrier.short_name}{service.name}" if service else carrier.short_name


def money(amount: Decimal, currency: str = "CNY") -> str:
    symbol = {"CNY": "¥", "USD": "$", "EUR": "€"}.get(currency, currency + " ")
    return f"{symbol}{amount.quantize(Decimal('0.01'))}"


def rate_price(rate: CarrierRate, weight_grams: int) -> Decimal:
    weight = max(1, weight_grams)
    if weight <= rate.first_weight_grams:
        return rate.first_price
    extra_units = math.ceil((weight - rate.first_weight_grams) / rate.additional_weight_grams)
    return rate.first_price + rate.additional_price * extra_units


def facts_for_order(order, *, settings=None) -> ParcelFacts:
    """What the rules look at. Weight: the SKUs' weights (combos count as their own weight), a
    default when no SKU knows its weight, plus packaging."""
    settings = settings or logistics_settings(tenant_id=order.tenant_id)
    weight = sum((ln.sku.weight_grams if ln.sku_id else 0) * ln.quantity for ln in order.lines.all()
                 if ln.refund_status != "refunded")
    if weight <= 0:
        weight = settings.default_parcel_grams
    return ParcelFacts(province=order.receiver_province, weight_grams=weight + settings.packaging_grams,
                       order_value=order.paid_amount, urgent=order.urgent,
                       notes=f"{order.buyer_note}\n{order.seller_note}", shop_id=order.shop_id)


class CarrierChooser:
    """Loads a tenant's rules, rates, services and settings once; reuse it for a batch."""

    def __init__(self, tenant_id: int, *, now=None):
        self.tenant_id = tenant_id
        self.now = now
        self.settings = logistics_settings(tenant_id=tenant_id)
        self.rules = list(CarrierRule.objects.filter(tenant_id=tenant_id, enabled=True)
                          .select_related("carrier").order_by("priority", "id"))
        self.rates = list(CarrierRate.objects.filter(tenant_id=tenant_id).select_related("carrier", "service"))
        self.services = list(CarrierService.objects.filter(tenant_id=tenant_id).select_related("carrier"))
        self.remote = {province_key(p) for p in self.settings.remote_provinces or []}
        self._scorecards: dict[str, list] = {}

    # ---- conditions ----------------------------------------------------------------------
    def is_remote(self, province: str) -> bool:
        return province_key(province) in self.remote

    def matches(self, rule: CarrierRule, f: ParcelFacts) -> bool:
        if rule.urgent is not None and rule.urgent != f.urgent:
            return False
        if rule.buyer_express_keywords:
            words = [w.strip().lower() for w in rule.buyer_express_keywords.replace("，", ",").split(",") if w.strip()]
            notes = f.notes.lower()
            if not any(w in notes for w in words):
                return False
        if rule.provinces and province_key(f.province) not in {province_key(p) for p in rule.provinces}:
            return False
        if rule.remote is not None and rule.remote != self.is_remote(f.province):
            return False
        if rule.min_weight_grams is not None and f.weight_grams < rule.min_weight_grams:
            return False
        if rule.max_weight_grams is not None and f.weight_grams > rule.max_weight_grams:
            return False
        if rule.min_order_value is not None and f.order_value < rule.min_order_value:
            return False
        if rule.max_order_value is not None and f.order_value > rule.max_order_value:
            return False
        if rule.shop_id is not None and rule.shop_id != f.shop_id:
            return False
        return True

    # ---- prices -----------------------------------------------------------------------------
    def quotes(self, f: ParcelFacts, *, carrier_ids: set[int] | None = None) -> list[Quote]:
        """The price of every (carrier, service) that has a rate for this destination, cheapest first."""
        key = province_key(f.province)
        best: dict[tuple[int, int | None], tuple[int, CarrierRate]] = {}
        for rate in self.rates:
            if carrier_ids is not None and rate.carrier_id not in carrier_ids:
                continue
            provinces = {province_key(p) for p in rate.provinces or []}
            if provinces and key not in provinces:
                continue
            specificity = 1 if provinces else 0  # a zone naming the province beats the default row
            k = (rate.carrier_id, rate.service_id)
            if k not in best or specificity > best[k][0]:
                best[k] = (specificity, rate)
        out = [Quote(r.carrier, r.service, rate_price(r, f.weight_grams), r.currency) for _s, r in best.values()]
        out.sort(key=lambda q: (q.price, q.carrier.code, q.service.code if q.service else ""))
        return out

    def service_for(self, carrier: Carrier, code: str = "") -> CarrierService | None:
        mine = [s for s in self.services if s.carrier_id == carrier.pk]
        if code:
            return next((s for s in mine if s.code == code), None)
        return next((s for s in mine if s.is_default), None)

    # ---- choice ----------------------------------------------------------------------------
    def choose(self, f: ParcelFacts) -> CarrierChoice:
        for rule in self.rules:
            if self.matches(rule, f):
                prefix = _("规则 #%(id)s %(name)s") % {"id": rule.pk, "name": rule.name}
                return self._apply(rule, f, prefix)
        return self._cheapest(f, "")

    def _apply(self, rule: CarrierRule, f: ParcelFacts, prefix: str) -> CarrierChoice:
        if rule.strategy == RuleStrategy.CARRIER and rule.carrier_id:
            service = self.service_for(rule.carrier, rule.service)
            code = service.code if service else rule.service
            label = display_name(rule.carrier, service) if service or not rule.service else \
                f"{rule.carrier.short_name} {rule.service}"
            return CarrierChoice(rule.carrier, service, code, f"{prefix} → {label}", rule.pk)
        if rule.strategy in (RuleStrategy.FASTEST, RuleStrategy.BEST_SERVICE):
            choice = self._by_scorecard(rule, f, prefix)
            if choice is not None:
                return choice
            what = RuleStrategy(rule.strategy).label
            return self._cheapest(f, _("%(p)s → %(s)s：暂无足够考核数据，改用") % {"p": prefix, "s": what}, rule.pk)
        return self._cheapest(f, f"{prefix} → ", rule.pk)

    def _cheapest(self, f: ParcelFacts, prefix: str, rule_id: int | None = None) -> CarrierChoice:
        quotes = self.quotes(f)
        if not quotes:
            raise NoCarrier(_("没有匹配的快递规则，也没有到 %(p)s 的快递价格，请配置价格表或规则") % {"p": f.province or "-"})
        best = quotes[0]
        runner = next((q for q in quotes[1:] if q.carrier.pk != best.carrier.pk), None)
        if runner is not None:
            text = _("最便宜：%(a)s %(pa)s vs %(b)s %(pb)s") % {
                "a": best.label, "pa": money(best.price, best.currency), "b": runner.label,
                "pb": money(runner.price, runner.currency)}
        else:
            text = _("最便宜：%(a)s %(pa)s（唯一报价）") % {"a": best.label, "pa": money(best.price, best.currency)}
        service = best.service or self.service_for(best.carrier)
        return CarrierChoice(best.carrier, service, service.code if service else "", f"{prefix}{text}", rule_id,
                             best.price)

    def scorecards(self, province: str) -> list:
        key = province_key(province)
        if key not in self._scorecards:
            self._scorecards[key] = carrier_scorecards(tenant_id=self.tenant_id, days=self.settings.scorecard_days,
                                                       now=self.now, province=province)
        return self._scorecards[key]

    def _by_scorecard(self, rule: CarrierRule, f: ParcelFacts, prefix: str) -> CarrierChoice | None:
        cards = [c for c in self.scorecards(f.province) if c.delivered >= MIN_SAMPLES]
        if rule.strategy == RuleStrategy.FASTEST:
            cards = [c for c in cards if c.median_hours is not None]
            cards.sort(key=lambda c: (c.median_hours, c.carrier_id))
        else:
            cards.sort(key=lambda c: (-c.service_score, c.median_hours or 0, c.carrier_id))
        if not cards:
            return None
        carriers = {c.pk: c for c in Carrier.objects.filter(pk__in=[c.carrier_id for c in cards[:2]])}
        best = cards[0]
        carrier = carriers[best.carrier_id]
        service = self.service_for(carrier)
        days = self.settings.scorecard_days
        if rule.strategy == RuleStrategy.FASTEST:
            def fmt(c):
                return _("%(c)s 中位 %(h)s 小时") % {"c": carriers[c.carrier_id].short_name, "h": c.median_hours}
        else:
            def fmt(c):
                return _("%(c)s 准时率 %(o)s%% 异常率 %(p)s%%") % {
                    "c": carriers[c.carrier_id].short_name, "o": round(100 * (c.on_time_rate or 0)),
                    "p": round(100 * (c.problem_rate + c.return_rate))}
        text = fmt(best) + (f" vs {fmt(cards[1])}" if len(cards) > 1 else "")
        what = RuleStrategy(rule.strategy).label
        explanation = _("%(p)s → %(s)s：%(t)s（近 %(d)s 天 %(prov)s）") % {
            "p": prefix, "s": what, "t": text, "d": days, "prov": best.province}
        return CarrierChoice(carrier, service, service.code if service else "", explanation, rule.pk)
