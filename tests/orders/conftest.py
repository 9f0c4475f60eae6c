"""Shared set-up of the orders tests: a shop, warehouses, SKUs with stock, and helpers that check
stock levels AND the ledger together."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from django.db.models import Sum

from inventory import services as stock
from inventory.models import Reservation, StockLevel, StockMovement
from orders import services
from orders.canonical import CanonicalLine
from tests import factories
from tests.factories import canonical
from tests.factories_orders import priced


def level(wh, sku) -> tuple[int, int]:
    lv = StockLevel.objects.filter(warehouse=wh, sku=sku).first()
    return (lv.on_hand, lv.reserved) if lv else (0, 0)


def ledger(wh, sku) -> tuple[int, int]:
    agg = StockMovement.objects.filter(warehouse=wh, sku=sku).aggregate(oh=Sum("on_hand_delta"), rs=Sum("reserved_delta"))
    return agg["oh"] or 0, agg["rs"] or 0


def stock_is(wh, sku, on_hand: int, reserved: int) -> None:
    """The level AND the sum of its ledger rows both equal (on_hand, reserved)."""
    assert level(wh, sku) == (on_hand, reserved), f"level {level(wh, sku)} != {(on_hand, reserved)}"
    assert ledger(wh, sku) == (on_hand, reserved), f"ledger {ledger(wh, sku)} != {(on_hand, reserved)}"


def reserved_for(order, *, status="active") -> dict[tuple[int, int], int]:
    """{(warehouse id, sku id): quantity} of an order's reservations."""
    out: dict[tuple[int, int], int] = {}
    for r in Reservation.objects.filter(order_id=order.pk, status=status).values("warehouse_id", "sku_id").annotate(
            q=Sum("quantity")):
        out[(r["warehouse_id"], r["sku_id"])] = r["q"]
    return out


class Env:
    def __init__(self, tenant):
        self.tenant = tenant
        self.shop = factories.ShopFactory(tenant=tenant)
        self.hz = factories.WarehouseFactory(tenant=tenant, code="HZ", name="杭州仓", province="浙江省",
                                             regions=["浙江省", "上海市"], priority=2)
        self.gz = factories.WarehouseFactory(tenant=tenant, code="GZ", name="广州仓", province="广东省",
                                             regions=["广东省"], priority=1)
        self.a = factories.SkuFactory(tenant=tenant, code="SKU-A", reference_price=Decimal("10.00"))
        self.b = factories.SkuFactory(tenant=tenant, code="SKU-B", reference_price=Decimal("20.00"))

    def receive(self, wh, sku, qty):
        stock.stock_receive(tenant_id=self.tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=qty)

    def ingest(self, pid, lines=None, *, shipping=Decimal("0"), discount=Decimal("0"), paid=None, **kw):
        lines = lines if lines is not None else [("SKU-A", 1, "10.00")]
        c = canonical(pid, lines=[CanonicalLine(str(i + 1), q, Decimal(p), outer_sku_id=code, title=code,
                                                is_gift=Decimal(p) == 0 and code.startswith("GIFT"))
                                  for i, (code, q, p) in enumerate(lines)],
                      **{k: kw.pop(k) for k in ("state", "modified") if k in kw})
        c = priced(dataclasses.replace(c, **kw), shipping=shipping, discount=discount, paid=paid)
        result = services.order_ingest(tenant=self.tenant, shop=self.shop, canonical=c)
        from orders.models import Order

        return Order.objects.get(pk=result.order_id)


@pytest.fixture
def env(tenant):
    return Env(tenant)
