"""Factories of the orders app's own models, and canonical-order helpers for its tests."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from orders.models import (
    Blacklist,
    GiftRule,
    OrderSettings,
    OrderSource,
    ReturnLine,
    ReturnRequest,
    ReviewRule,
)
from tests.factories import (
    OrderFactory,
    OrderLineFactory,
    ShopFactory,
    SkuFactory,
    TenantOwnedFactory,
    canonical,
)


class OrderSourceFactory(TenantOwnedFactory):
    class Meta:
        model = OrderSource

    order = factory.SubFactory(OrderFactory, tenant=factory.SelfAttribute("..tenant"), kind="merged")
    source = factory.SubFactory(OrderFactory, tenant=factory.SelfAttribute("..tenant"), status="merged")
    platform_order_id = factory.SelfAttribute("source.platform_order_id")


class ReviewRuleFactory(TenantOwnedFactory):
    class Meta:
        model = ReviewRule

    code = "high_value"
    threshold = Decimal("5000")


class OrderSettingsFactory(TenantOwnedFactory):
    class Meta:
        model = OrderSettings


class BlacklistFactory(TenantOwnedFactory):
    class Meta:
        model = Blacklist

    kind = "phone"
    value = factory.Sequence(lambda n: f"1390000{n:04d}")


class GiftRuleFactory(TenantOwnedFactory):
    class Meta:
        model = GiftRule

    name = factory.Sequence(lambda n: f"赠品活动{n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    trigger_sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))
    gift_sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))


class ReturnRequestFactory(TenantOwnedFactory):
    class Meta:
        model = ReturnRequest

    order = factory.SubFactory(OrderFactory, tenant=factory.SelfAttribute("..tenant"), status="shipped")


class ReturnLineFactory(TenantOwnedFactory):
    class Meta:
        model = ReturnLine

    return_request = factory.SubFactory(ReturnRequestFactory, tenant=factory.SelfAttribute("..tenant"))
    order_line = factory.SubFactory(OrderLineFactory, tenant=factory.SelfAttribute("..tenant"),
                                    order=factory.SelfAttribute("..return_request.order"))
    quantity = 1


FACTORIES = {f._meta.model: f for f in [OrderSourceFactory, ReviewRuleFactory, OrderSettingsFactory, BlacklistFactory,
                                        GiftRuleFactory, ReturnRequestFactory, ReturnLineFactory]}


def priced(c, *, shipping: Decimal = Decimal("0"), discount: Decimal = Decimal("0"), paid: Decimal | None = None):
    """The canonical order with goods / paid amounts that agree with its lines."""
    goods = sum((ln.unit_price * ln.quantity for ln in c.lines), Decimal("0"))
    return dataclasses.replace(c, goods_amount=goods, shipping_amount=shipping, discount_amount=discount,
                               paid_amount=goods + shipping - discount if paid is None else paid)


def paid_order(pid: str = "T1", **kw):
    """canonical() with consistent amounts."""
    return priced(canonical(pid, **kw))


__all__ = ["FACTORIES", "priced", "paid_order", "ShopFactory"]
