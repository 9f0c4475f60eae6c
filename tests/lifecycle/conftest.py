"""The order lifecycle end to end: a sandbox marketplace and the carrier sandbox on loopback,
a Taobao shop with listings and stock, carrier accounts, rates and services -- all made through
the services (stock through inventory, orders through the real pull)."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest

from channels import services as channel_services
from channels.adapters.base import get_adapter
from channels.models import Listing, Shop
from channels.sandbox import SandboxServer
from channels.sandbox.generator import DEFAULT_SKUS
from inventory import services as stock
from inventory.models import Sku
from logistics.models import CarrierAccount, CarrierRate, CarrierService, LogisticsSettings
from logistics.sandbox import CarrierSandbox
from orders.models import Order
from tests import factories
from tests.channels.conftest import ACCOUNT_KEYS, CREDENTIALS, SleepRecorder
from tests.factories_logistics import carrier

TOP_CREDS = {"app_key": "12345678", "app_secret": "top-secret", "session": "sess-1", "sign_method": "hmac-sha256"}
SF_CREDS = {"partner_id": "OMS_TEST", "check_word": "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci", "monthly_card": "7551234567"}
K100_CREDS = {"customer": "K100CUSTOMER", "key": "k100-key"}


@pytest.fixture(autouse=True)
def _fast_backoff(settings):
    settings.LOGISTICS_BACKOFF_BASE = 0.01


@pytest.fixture
def market():
    server = SandboxServer().start()
    for platform, creds in CREDENTIALS.items():
        server.state.add_account(platform, creds)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def carriers():
    sb = CarrierSandbox().start()
    sb.state.add_account("sf", SF_CREDS)
    sb.state.add_account("cainiao", TOP_CREDS)
    sb.state.add_account("kuaidi100", K100_CREDS)
    try:
        yield sb
    finally:
        sb.stop()


class World:
    """One tenant's shop on the sandbox marketplace: make orders there, pull them, ship them."""

    def __init__(self, tenant, market, carriers, platform: str = "taobao"):
        self.tenant, self.market, self.carriers, self.platform = tenant, market, carriers, platform
        self.shop = factories.ShopFactory(tenant=tenant, platform=platform, name=f"{platform}店",
                                          credentials=dict(CREDENTIALS[platform]),
                                          api_base_url=f"{market.url}/{platform}")
        self.warehouse = factories.WarehouseFactory(tenant=tenant, code="HZ", name="杭州仓", province="浙江省",
                                                    city="杭州市", address="余杭区仓前街道 8 号",
                                                    contact_name="仓管小王", contact_phone="13700001111")
        self.skus = {}
        for outer_id, item_id, sku_id, title, price in DEFAULT_SKUS:
            sku = factories.SkuFactory(tenant=tenant, code=outer_id, name=title, reference_price=price,
                                       weight_grams=500)
            stock.stock_receive(tenant_id=tenant.pk, warehouse_id=self.warehouse.pk, sku_id=sku.pk, quantity=100)
            Listing.objects.create(tenant=tenant, shop=self.shop, sku=sku, platform_item_id=item_id,
                                   platform_sku_id=sku_id, outer_id=outer_id)
            self.skus[outer_id] = sku
        self.now = market.state.now()
        Shop.objects.filter(pk=self.shop.pk).update(high_water_mark=self.now - timedelta(hours=1))
        self._minutes = 0
        if carriers is not None:
            self._carriers(carriers)

    def _carriers(self, sb):
        t = self.tenant
        for provider, creds in (("sf", SF_CREDS), ("cainiao", TOP_CREDS), ("kuaidi100", K100_CREDS)):
            CarrierAccount.objects.create(tenant=t, provider=provider, api_base_url=f"{sb.url}/{provider}",
                                          credentials=creds)
        LogisticsSettings.objects.create(tenant=t, default_parcel_grams=500, packaging_grams=0)
        for code, first, extra in (("YTO", "5.00", "2.00"), ("ZTO", "5.50", "1.50"), ("SF", "12.00", "5.00")):
            CarrierRate.objects.create(tenant=t, carrier=carrier(code), zone="全国", first_price=Decimal(first),
                                       additional_price=Decimal(extra))
        CarrierService.objects.create(tenant=t, carrier=carrier("SF"), code="standard", name="标快",
                                      promised_hours=48, product_code="2", is_default=True)
        for code in ("YTO", "ZTO"):
            CarrierService.objects.create(tenant=t, carrier=carrier(code), code="standard", name="标准",
                                          promised_hours=72, is_default=True)

    @property
    def account(self) -> str:
        return ACCOUNT_KEYS[self.platform]

    def new_order(self, *, seed: int = 1, lines: int | None = None) -> str:
        """A paid order on the platform (no buyer/seller note, so review passes), ten minutes old."""
        (pid,) = self.market.state.generate_orders(self.platform, self.account, 1, seed=seed, status="paid",
                                                   start=self.now - timedelta(minutes=40),
                                                   end=self.now - timedelta(minutes=30))
        with self.market.state.lock:
            order = self.market.state._get(self.platform, pid)
            order.buyer_note = order.seller_note = ""
            for ln in order.lines:
                ln.refund = ""
            if lines is not None:
                while len(order.lines) < lines:
                    extra = type(order.lines[0])(**{**order.lines[0].__dict__})
                    extra.line_id = str(int(order.lines[-1].line_id) + 1)
                    sku = DEFAULT_SKUS[len(order.lines) % len(DEFAULT_SKUS)]
                    extra.outer_id, extra.item_id, extra.sku_id, extra.title = sku[0], sku[1], sku[2], sku[3]
                    extra.discount = Decimal("0")
                    order.lines.append(extra)
                del order.lines[lines:]
        return pid

    def later(self, minutes: int = 5):
        """Move the platform's clock on (its changes get newer modified times than the last pull)."""
        self._minutes += minutes
        offset = self._minutes * 60
        self.market.state.clock = lambda: time.time() + offset
        return self.market.state.now()

    def modify(self, pid: str, **changes) -> None:
        """A change on the platform, four minutes before its "now" moves on by five (PDD lists
        only what is three minutes old), after the last pull."""
        when = self.later()
        self.market.state.modify_order(self.platform, pid, modified=when - timedelta(minutes=4), **changes)

    def pull(self):
        adapter = get_adapter(Shop.objects.get(pk=self.shop.pk), sleep=SleepRecorder())
        run = channel_services.shop_pull(tenant_id=self.tenant.pk, shop_id=self.shop.pk,
                                         now=self.market.state.now(), adapter=adapter)
        assert run.status == "ok", run.error
        return run

    def order(self, pid: str) -> Order:
        return Order.objects.get(tenant=self.tenant, shop=self.shop, platform_order_id=pid)

    def sku(self, code: str) -> Sku:
        return self.skus[code]


@pytest.fixture
def world(tenant, market, carriers):
    return World(tenant, market, carriers)
