"""The order page include: tracking timeline, notifications, raw payloads, stock per warehouse."""

import pytest
from django.template import Context, Template
from django.utils import timezone

from inventory import services as stock
from logistics.models import Carrier
from tests import factories

pytestmark = pytest.mark.django_db


def render(order) -> str:
    return Template('{% include "console/order_extras.html" %}').render(Context({"order": order}))


def test_the_include_shows_parcels_tracking_messages_payloads_and_stock(tenant, other_tenant):
    shop = factories.ShopFactory(tenant=tenant)
    wh = factories.WarehouseFactory(tenant=tenant, name="杭州仓")
    sku = factories.SkuFactory(tenant=tenant, code="TEE-01")
    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=17)
    order = factories.OrderFactory(tenant=tenant, shop=shop, platform_order_id="P-77")
    factories.OrderLineFactory(tenant=tenant, order=order, sku=sku, quantity=2)
    s = factories.ShipmentFactory(tenant=tenant, order=order, tracking_number="SF123", carrier=Carrier.objects.get(code="SF"))
    factories.TrackingEventFactory(tenant=tenant, shipment=s, description="快件已到达杭州转运中心", occurred_at=timezone.now())
    factories.NotificationFactory(tenant=tenant, order_id=order.pk, template="shipped")
    factories.RawOrderFactory(tenant=tenant, shop=shop, platform_order_id="P-77", payload={"tid": "P-77", "buyer": "淘气"})
    # another tenant's rows with the same ids / numbers never show
    theirs_shop = factories.ShopFactory(tenant=other_tenant)
    factories.RawOrderFactory(tenant=other_tenant, shop=theirs_shop, platform_order_id="P-77", payload={"secret": "x"})
    factories.NotificationFactory(tenant=other_tenant, order_id=order.pk, template="delivered")

    html = render(order)
    assert "SF123" in html and "快件已到达杭州转运中心" in html
    assert "短信" in html or "sms" in html.lower()
    assert "已发货" in html and "已签收" not in html.split('id="order-extras-notifications"')[1].split("</div>")[0]
    assert "淘气" in html and "secret" not in html
    stock_part = html.split('id="order-extras-stock"')[1].split("</div>")[0]
    assert "TEE-01" in stock_part and "杭州仓" in stock_part and "17 / 0 / " in stock_part
