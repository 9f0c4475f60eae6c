"""What each shop is told (channels.services.sku_channel_availability) and the SKU page showing it."""

from decimal import Decimal

import pytest

from channels.services import sku_channel_availability
from inventory import services
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock(tenant):
    a = factories.WarehouseFactory(tenant=tenant, name="仓A", priority=1)
    b = factories.WarehouseFactory(tenant=tenant, name="仓B", priority=2)
    sku = factories.SkuFactory(tenant=tenant, code="TEE")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=a.pk, sku_id=sku.pk, quantity=45)
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=1, lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 5}])
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=b.pk, sku_id=sku.pk, quantity=7)
    return a, b, sku


def test_sum_of_serving_warehouses_minus_safety_stock(tenant, stock):
    a, b, sku = stock
    shop = factories.ShopFactory(tenant=tenant, name="淘宝店", safety_stock=10)
    av = sku_channel_availability(shop=shop, sku_id=sku.pk)
    assert av.quantity == 37  # 40 + 7 - 10
    assert av.per_warehouse == {"仓A": 40, "仓B": 7}


def test_allocation_ratio_is_applied_after_safety_stock_and_floored(tenant, stock):
    a, b, sku = stock
    shop = factories.ShopFactory(tenant=tenant, safety_stock=10, allocation_ratio=Decimal("0.5"))
    assert sku_channel_availability(shop=shop, sku_id=sku.pk).quantity == 18  # floor(37 * 0.5)


def test_only_the_shops_warehouses_count_and_never_below_zero(tenant, stock):
    a, b, sku = stock
    shop = factories.ShopFactory(tenant=tenant, safety_stock=3)
    shop.warehouses.set([b], through_defaults={"tenant_id": shop.tenant_id})
    assert sku_channel_availability(shop=shop, sku_id=sku.pk).quantity == 4  # 7 - 3
    shop.safety_stock = 20
    shop.save()
    assert sku_channel_availability(shop=shop, sku_id=sku.pk).quantity == 0


def test_a_combo_is_limited_by_its_scarcest_component(tenant, stock):
    a, b, tee = stock
    cap = factories.SkuFactory(tenant=tenant, code="CAP")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=a.pk, sku_id=cap.pk, quantity=9)
    combo = factories.SkuFactory(tenant=tenant, code="SET", is_combo=True)
    factories.SkuComponentFactory(tenant=tenant, combo=combo, component=tee, quantity=2)
    factories.SkuComponentFactory(tenant=tenant, combo=combo, component=cap, quantity=1)
    shop = factories.ShopFactory(tenant=tenant, safety_stock=1)
    av = sku_channel_availability(shop=shop, sku_id=combo.pk)
    # 仓A: min(40 // 2, 9 // 1) = 9 sets; 仓B: no caps -> 0 sets; 9 - 1 safety
    assert av.per_warehouse == {"仓A": 9, "仓B": 0}
    assert av.quantity == 8
    assert av.limited_by == "CAP"


def test_the_sku_page_explains_each_shops_figure_and_shows_stock_alerts_and_ledger(tenant, owner_client, stock):
    a, b, sku = stock
    factories.ShopFactory(tenant=tenant, name="淘宝店", safety_stock=10)
    factories.ShopFactory(tenant=tenant, name="京东店", platform="jd", safety_stock=0, allocation_ratio=Decimal("0.5"))
    services.reorder_point_set(tenant_id=tenant.pk, sku_id=sku.pk, warehouse_id=b.pk, reorder_point=8)
    resp = owner_client.get(f"/channels/skus/{sku.pk}/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "淘宝店" in html and "37 件" in html and "仓A 40 + 仓B 7 − 安全库存 10" in html
    assert "(仓A 40 + 仓B 7 − 安全库存 0) × 0.5" in html and "23 件" in html
    assert "可用 7 件 ≤ 补货点 8" in html  # the open alert of 仓B
    assert "订单占用" in html and "order:1" in html  # the ledger
    assert resp.context["totals"] == {"on_hand": 52, "reserved": 5, "available": 47, "in_transit": 0}


def test_another_tenants_sku_is_a_404(tenant, other_tenant, owner_client):
    theirs = factories.SkuFactory(tenant=other_tenant)
    assert owner_client.get(f"/channels/skus/{theirs.pk}/").status_code == 404
    assert owner_client.get("/channels/skus/999999/").status_code == 404
