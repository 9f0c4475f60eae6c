"""Shared set-up of the console tests: a shop with stock, orders made through the ingest service."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory import services as stock
from orders import services
from orders.canonical import CanonicalLine
from orders.models import Order
from tests import factories
from tests.factories import canonical


class World:
    def __init__(self, tenant):
        self.tenant = tenant
        self.shop = factories.ShopFactory(tenant=tenant, name="天猫旗舰店", platform="taobao")
        self.jd = factories.ShopFactory(tenant=tenant, name="京东自营", platform="jd")
        self.wh = factories.WarehouseFactory(tenant=tenant, code="HZ", name="杭州仓")
        self.a = factories.SkuFactory(tenant=tenant, code="SKU-A", name="短袖")
        self.b = factories.SkuFactory(tenant=tenant, code="SKU-B", name="长裤")
        for sku in (self.a, self.b):
            stock.stock_receive(tenant_id=tenant.pk, warehouse_id=self.wh.pk, sku_id=sku.pk, quantity=1000)

    def ingest(self, pid: str, *, shop=None, sku="SKU-A", qty=1, price="10.00", **kw) -> Order:
        price = Decimal(price)
        c = canonical(pid, lines=[CanonicalLine("1", qty, price, outer_sku_id=sku)], **kw)
        c.paid_amount = c.goods_amount = price * qty
        if shop is not None:
            c.platform = shop.platform
        result = services.order_ingest(tenant=self.tenant, shop=shop or self.shop, canonical=c)
        return Order.objects.get(pk=result.order_id)


@pytest.fixture
def world(tenant):
    return World(tenant)


@pytest.fixture
def manual_review(tenant):
    """Orders stay in 待审核 (no auto approval)."""
    tenant.auto_approve = False
    tenant.save(update_fields=["auto_approve"])
    return tenant


def hours_ago(h: float):
    return timezone.now() - timedelta(hours=h)
