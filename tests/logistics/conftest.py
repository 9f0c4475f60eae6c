"""Fixtures for logistics: the carrier sandbox on loopback, accounts pointed at it, rates and
allocated orders with real stock (through inventory and orders services, never by hand)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory import services as stock
from logistics.models import CarrierAccount, CarrierRate, CarrierService, LogisticsSettings
from logistics.sandbox import CarrierSandbox
from orders.canonical import CanonicalLine
from orders.models import Order
from orders.services import order_ingest, order_transition
from tests import factories
from tests.factories_logistics import carrier

SF_CREDS = {"partner_id": "OMS_TEST", "check_word": "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci", "monthly_card": "7551234567"}
TOP_CREDS = {"app_key": "12345678", "app_secret": "top-secret", "session": "sess-1", "sign_method": "hmac-sha256"}
K100_CREDS = {"customer": "K100CUSTOMER", "key": "k100-key"}


@pytest.fixture(autouse=True)
def _fast_backoff(settings):
    settings.LOGISTICS_BACKOFF_BASE = 0.01


@pytest.fixture
def sandbox():
    sb = CarrierSandbox().start()
    sb.state.add_account("sf", SF_CREDS)
    sb.state.add_account("cainiao", TOP_CREDS)
    sb.state.add_account("kuaidi100", K100_CREDS)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def accounts(tenant, sandbox):
    return {
        "sf": CarrierAccount.objects.create(tenant=tenant, provider="sf", api_base_url=f"{sandbox.url}/sf",
                                            credentials=SF_CREDS),
        "cainiao": CarrierAccount.objects.create(tenant=tenant, provider="cainiao",
                                                 api_base_url=f"{sandbox.url}/cainiao", credentials=TOP_CREDS),
        "kuaidi100": CarrierAccount.objects.create(tenant=tenant, provider="kuaidi100",
                                                   api_base_url=f"{sandbox.url}/kuaidi100", credentials=K100_CREDS),
    }


@pytest.fixture
def rates(tenant):
    """YTO ¥5 + ¥2/kg, ZTO ¥5.50 + ¥1.5/kg, SF ¥12 + ¥5/kg everywhere; remote zone dearer."""
    LogisticsSettings.objects.create(tenant=tenant, default_parcel_grams=500, packaging_grams=0)
    out = {}
    for code, first, extra in (("YTO", "5.00", "2.00"), ("ZTO", "5.50", "1.50"), ("SF", "12.00", "5.00")):
        out[code] = CarrierRate.objects.create(tenant=tenant, carrier=carrier(code), zone="全国",
                                               first_price=Decimal(first), additional_price=Decimal(extra))
        CarrierRate.objects.create(tenant=tenant, carrier=carrier(code), zone="偏远",
                                   provinces=["新疆维吾尔自治区", "西藏自治区"], first_price=Decimal(first) + 10,
                                   additional_price=Decimal(extra) + 5)
    CarrierService.objects.create(tenant=tenant, carrier=carrier("SF"), code="standard", name="标快", promised_hours=48,
                                  product_code="2", is_default=True)
    CarrierService.objects.create(tenant=tenant, carrier=carrier("SF"), code="express", name="特快", promised_hours=24,
                                  product_code="1")
    CarrierService.objects.create(tenant=tenant, carrier=carrier("YTO"), code="standard", name="标准", promised_hours=72,
                                  is_default=True)
    CarrierService.objects.create(tenant=tenant, carrier=carrier("ZTO"), code="standard", name="标准", promised_hours=72,
                                  is_default=True)
    return out


@pytest.fixture
def warehouse(tenant):
    return factories.WarehouseFactory(tenant=tenant, code="HZ1", name="杭州一号仓", province="浙江省", city="杭州市",
                                      address="余杭区仓前街道 8 号", contact_name="仓管小王", contact_phone="13700001111")


@pytest.fixture
def shop(tenant, warehouse):
    return factories.ShopFactory(tenant=tenant, name="天猫旗舰店")


@pytest.fixture
def make_order(tenant, shop, warehouse):
    """An allocated order with real stock reserved in `warehouse`."""
    counter = {"n": 0}

    def make(*, qty: int = 1, sku=None, receiver_name: str = "张三", receiver_phone: str = "13800138000",
             province: str = "上海市", city: str = "上海市", address: str = "浦东新区世纪大道 100 号",
             urgent: bool = False, buyer_note: str = "", stock_qty: int = 100, weight: int = 800,
             status: str = "allocated", price: str = "99.00") -> Order:
        counter["n"] += 1
        if sku is None:
            sku = factories.SkuFactory(tenant=tenant, code=f"SKU-{counter['n']:03d}", name=f"纯棉T恤 {counter['n']}",
                                       weight_grams=weight)
            stock.stock_receive(tenant_id=tenant.pk, warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=stock_qty)
        pid = f"TB{2000000 + counter['n']}"
        c = factories.canonical(pid, lines=[CanonicalLine("1", qty, Decimal(price), title=sku.name,
                                                          outer_sku_id=sku.code)],
                                receiver_name=receiver_name, receiver_phone=receiver_phone, receiver_address=address,
                                urgent=urgent, buyer_note=buyer_note)
        c.receiver_province, c.receiver_city, c.receiver_district = province, city, ""
        c.paid_amount = Decimal(price) * qty
        result = order_ingest(tenant=tenant, shop=shop, canonical=c)
        order = Order.objects.get(pk=result.order_id)
        for h in order.holds.filter(resolved_at=None):  # review rules (e.g. buyer notes) are not under test here
            from orders.services import hold_resolve

            hold_resolve(hold=h, note="test")
        order.refresh_from_db()
        if order.status == "pending_review":
            order_transition(order=order, to="approved")
        Order.objects.filter(pk=order.pk).update(warehouse=warehouse)
        order.refresh_from_db()
        if status in ("allocated", "picking"):
            order_transition(order=order, to="allocated")
        if status == "picking":
            order_transition(order=order, to="picking")
        order.refresh_from_db()
        return order

    return make
