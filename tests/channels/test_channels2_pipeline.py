"""Channels II pull pipeline end to end: Amazon / Shopify / WooCommerce / Douyin sandbox ->
adapter -> raw archive -> normalise -> order_ingest -> reservation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum

from channels import services
from channels.models import Listing, RawOrder, Shop
from channels.sandbox.generator import DEFAULT_SKUS
from inventory import services as stock
from inventory.models import Sku, StockLevel, StockMovement
from orders.models import Order, OrderEvent
from tests import factories

from . import ch2_helpers
from .ch2_helpers import ACCOUNT_KEYS2, CREDENTIALS2, PLATFORMS2, adapter_for

pytestmark = pytest.mark.django_db

sandbox2 = ch2_helpers.sandbox2  # the fixture


def make_shop2(tenant, sandbox, platform, *, stock_each=1000):
    shop = factories.ShopFactory(tenant=tenant, platform=platform, name=f"{platform}店",
                                 credentials=dict(CREDENTIALS2[platform]), api_base_url=f"{sandbox.url}/{platform}",
                                 platform_shop_id=CREDENTIALS2[platform].get("shop_id", ""))
    wh = factories.WarehouseFactory(tenant=tenant, code=f"WH-{platform}")
    for outer_id, item_id, sku_id, title, price in DEFAULT_SKUS:
        sku = Sku.objects.filter(tenant=tenant, code=outer_id).first() or factories.SkuFactory(
            tenant=tenant, code=outer_id, name=title, reference_price=price)
        stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=stock_each)
        amazon = platform == "amazon"  # Amazon lines map by SellerSKU (the listing's outer id)
        Listing.objects.create(tenant=tenant, shop=shop, sku=sku, platform_item_id=outer_id if amazon else item_id,
                               platform_sku_id="" if amazon else sku_id, outer_id=outer_id)
    return shop


def pull(shop, sandbox, now, page_size=20):
    adapter = adapter_for(sandbox, shop.platform, shop=Shop.objects.get(pk=shop.pk), page_size=page_size)
    return services.shop_pull(tenant_id=shop.tenant_id, shop_id=shop.pk, now=now, adapter=adapter)


@pytest.mark.parametrize("platform", PLATFORMS2)
def test_a_full_pull_lands_every_order_normalised_and_reserved(platform, tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, platform)
    now = sandbox2.state.now()
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=2))
    ids = sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 45, seed=7, status="paid",
                                         start=now - timedelta(minutes=110), end=now - timedelta(minutes=10))
    with sandbox2.state.lock:  # this test is about our stock: every order shipped by the seller
        for i in ids:
            sandbox2.state.find_order(platform, ACCOUNT_KEYS2[platform], i).fulfillment = "MFN" if \
                platform == "amazon" else ""
    run = pull(shop, sandbox2, now)
    assert run.status == "ok", run.error
    assert (run.fetched, run.created, run.failed) == (45, 45, 0)
    orders = Order.objects.filter(shop=shop)
    assert set(orders.values_list("platform_order_id", flat=True)) == set(ids)
    assert RawOrder.objects.filter(shop=shop, source="pull").count() == 45
    units = sum(ln.quantity for pid in ids for ln in sandbox2.state.order(platform, pid).lines)
    assert StockLevel.objects.filter(tenant=tenant).aggregate(r=Sum("reserved"))["r"] == units
    assert not orders.filter(lines__sku__isnull=True).exists()
    expected_currency = {"amazon": "USD", "shopify": "USD", "woocommerce": "EUR", "douyin": "CNY"}[platform]
    assert set(orders.values_list("currency", flat=True)) == {expected_currency}
    one = orders.get(platform_order_id=ids[0])
    assert one.paid_amount == sandbox2.state.order(platform, ids[0]).payment


@pytest.mark.parametrize("platform", PLATFORMS2)
def test_repulling_the_same_window_changes_nothing(platform, tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, platform)
    now = sandbox2.state.now()
    start = now - timedelta(hours=1)
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=start)
    sandbox2.state.generate_orders(platform, ACCOUNT_KEYS2[platform], 25, seed=3, status="paid",
                                   start=start + timedelta(minutes=1), end=now - timedelta(minutes=10))
    pull(shop, sandbox2, now)
    snapshot = (Order.objects.count(), StockMovement.objects.count(), OrderEvent.objects.count(),
                RawOrder.objects.count())
    for _ in range(3):
        Shop.objects.filter(pk=shop.pk).update(high_water_mark=start)
        run = pull(shop, sandbox2, now)
        assert (run.created, run.updated, run.unchanged) == (0, 0, 25), run.error
    assert (Order.objects.count(), StockMovement.objects.count(), OrderEvent.objects.count(),
            RawOrder.objects.count()) == snapshot


def test_amazon_fba_orders_are_imported_but_never_reserved(tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, "amazon")
    now = sandbox2.state.now()
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox2.state.generate_orders("amazon", ACCOUNT_KEYS2["amazon"], 10, seed=8, status="paid",
                                         start=now - timedelta(minutes=50), end=now - timedelta(minutes=10))
    with sandbox2.state.lock:
        for n, i in enumerate(ids):
            sandbox2.state.find_order("amazon", ACCOUNT_KEYS2["amazon"], i).fulfillment = "AFN" if n < 4 else "MFN"
    run = pull(shop, sandbox2, now)
    assert run.created == 10, run.error
    fba = Order.objects.filter(shop=shop, fulfilled_by_platform=True)
    assert set(fba.values_list("platform_order_id", flat=True)) == set(ids[:4])
    mfn_units = sum(ln.quantity for i in ids[4:] for ln in sandbox2.state.order("amazon", i).lines)
    assert StockLevel.objects.filter(tenant=tenant).aggregate(r=Sum("reserved"))["r"] == mfn_units


def test_a_failed_pull_is_visible_and_the_next_one_catches_up(tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, "woocommerce")
    now = sandbox2.state.now()
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox2.state.generate_orders("woocommerce", ACCOUNT_KEYS2["woocommerce"], 12, seed=9, status="paid",
                                         start=now - timedelta(minutes=50), end=now - timedelta(minutes=10))
    sandbox2.state.inject("woocommerce", "http500", count=5)
    run = pull(shop, sandbox2, now)
    assert run.status == "failed" and "500" in run.error
    shop.refresh_from_db()
    assert shop.last_pull_error == run.error
    run = pull(shop, sandbox2, now + timedelta(minutes=1))
    assert run.status == "ok"
    assert Order.objects.filter(shop=shop).count() == len(ids)
