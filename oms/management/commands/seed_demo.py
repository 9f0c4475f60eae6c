"""Idempotent demo data: two tenants, a user per role, warehouses, SKUs with stock, shops
pointing at the sandbox marketplaces, and a few hundred orders through order_ingest."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from channels.models import Listing, Shop
from inventory import services as stock
from inventory.models import Sku, SkuComponent, StockLevel, StockMovement, Warehouse
from oms import demo_data, rls
from oms.models import Membership, Tenant
from oms.roles import Role
from orders import services as order_services
from orders.canonical import CanonicalLine, CanonicalOrder, PlatformState

DEMO_PASSWORD = "demo-pass-2026"
SANDBOX_URL = "http://127.0.0.1:8765"
CARRIER_SANDBOX_URL = "http://127.0.0.1:8768"
SMS_SANDBOX_URL = "http://127.0.0.1:8767/"
SMS_DEMO_ACCOUNT = ("demo-sms-key", "demo-sms-secret")

#: (carrier, service code, name, promised hours, product code, default?)
DEMO_SERVICES = [("SF", "standard", "标快", 48, "2", True), ("SF", "express", "特快", 24, "1", False),
                 ("YTO", "standard", "标准快递", 72, "", True), ("ZTO", "standard", "标准快递", 72, "", True),
                 ("YUNDA", "standard", "标准快递", 72, "", True), ("STO", "standard", "标准快递", 72, "", True)]
#: carrier -> (near zone first/additional, far zone first/additional), CNY per kg
DEMO_RATES = {"SF": (("12", "2"), ("18", "6")), "YTO": (("5", "1"), ("8", "3")), "ZTO": (("5.5", "1"), ("8.5", "3")),
              "YUNDA": (("5.2", "1.2"), ("8.2", "3")), "STO": (("5.8", "1"), ("9", "3"))}
NEAR_ZONE = ["浙江省", "上海市", "江苏省", "安徽省"]
#: new arrivals only the Hangzhou warehouse has yet: southern orders for them ship cross-region,
#: so the transfer suggestion proposes moving some to Guangzhou
NOT_STOCKED = {("GZ", "JK-DNM-L"), ("GZ", "SK-WOL-F")}

TENANTS = [
    {
        "slug": "fashion", "name": "一个服装店", "prefix": "fashion",
        "warehouses": [("HZ", "杭州仓", "浙江省", "杭州市", ["浙江省", "上海市", "江苏省", "安徽省"], 1),
                       ("GZ", "广州仓", "广东省", "广州市", ["广东省", "广西壮族自治区", "海南省", "福建省"], 2),
                       ("CD", "成都仓", "四川省", "成都市", ["四川省", "重庆市", "云南省", "陕西省"], 3)],
        "skus": [("TS-WHT-M", "纯棉T恤 白色 M", "79.00"), ("TS-WHT-L", "纯棉T恤 白色 L", "79.00"),
                 ("TS-BLK-M", "纯棉T恤 黑色 M", "79.00"), ("JK-DNM-L", "牛仔夹克 L", "299.00"),
                 ("DR-FLR-S", "碎花连衣裙 S", "189.00"), ("SK-WOL-F", "羊毛围巾 均码", "129.00"),
                 ("PT-KHK-32", "卡其休闲裤 32", "159.00"), ("SO-CTN-5", "棉袜五双装", "39.00")],
        "combos": [("SET-TS-3", "T恤三件套", "199.00", [("TS-WHT-M", 2), ("TS-BLK-M", 1)])],
        "shops": [("taobao", "服装店淘宝旗舰店"), ("jd", "服装店京东自营店"), ("pdd", "服装店拼多多店")],
    },
    {
        "slug": "tea", "name": "茗香茶叶", "prefix": "tea",
        "warehouses": [("FZ", "福州仓", "福建省", "福州市", ["福建省", "浙江省", "江西省"], 1),
                       ("BJ", "北京仓", "北京市", "北京市", ["北京市", "天津市", "河北省", "山东省"], 2)],
        "skus": [("TEA-LJ-250", "西湖龙井 250g", "268.00"), ("TEA-TGY-500", "安溪铁观音 500g", "188.00"),
                 ("TEA-PE-357", "普洱茶饼 357g", "158.00"), ("TEA-HC-100", "大红袍 100g", "128.00")],
        "combos": [],
        "shops": [("taobao", "茗香茶叶天猫店")],
    },
]

# Channels II: an international tenant selling in USD / EUR on Amazon, Shopify and WooCommerce, and
# a Douyin shop for the fashion tenant. These shops get no seeded orders: in `make demo` their
# orders come from the sandbox marketplaces (pull, webhooks and push).
CHANNELS2_TENANT = {
    "slug": "global", "name": "环球好物 Global Goods", "prefix": "global",
    "warehouses": [("SZ", "深圳跨境仓", "广东省", "深圳市", [], 1)],
    "skus": [("GG-EARBUD-BLK", "Wireless earbuds, black", "49.90"), ("GG-LAMP-DESK", "LED desk lamp", "35.00"),
             ("GG-BOTTLE-750", "Insulated bottle 750 ml", "24.50"), ("GG-CABLE-USB-C", "USB-C cable 2 m", "9.99")],
    "combos": [],
    "shops": [("amazon", "Global Goods Amazon US"), ("shopify", "Global Goods Shopify"),
              ("woocommerce", "Global Goods EU (WooCommerce)")],
}
CHANNELS2_EXTRA_SHOPS = {"fashion": [("douyin", "服装店抖音小店")]}

PLATFORM_STATUS = {"taobao": "WAIT_SELLER_SEND_GOODS", "jd": "WAIT_SELLER_STOCK_OUT", "pdd": "1"}


class Command(BaseCommand):
    help = "Create (or refresh, idempotently) the demo tenants, users, stock, shops and orders."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=150, help="orders per shop")
        parser.add_argument("--sandbox-url", default=SANDBOX_URL)

    @rls.system_scope()  # demo data for every tenant
    def handle(self, *args, orders: int, sandbox_url: str, **kwargs):
        started = time.monotonic()
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        admin.set_password(DEMO_PASSWORD)
        admin.save()
        logins = [("admin", "平台管理员（超级用户）")]
        totals = {"orders": 0, "created": 0}
        for spec in TENANTS:
            tenant, _ = Tenant.objects.get_or_create(slug=spec["slug"], defaults={"name": spec["name"]})
            for role in Role:
                username = f"{spec['prefix']}-{role.value}"
                user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
                user.set_password(DEMO_PASSWORD)
                user.save()
                Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role.value})
                logins.append((username, f"{tenant.name} · {role.label}"))
            whs = self._warehouses(tenant, spec)
            skus = self._skus(tenant, spec, whs)
            shops = self._shops(tenant, spec, whs, skus, sandbox_url)
            for shop in shops:
                c = self._orders(tenant, shop, skus, orders)
                totals["orders"] += orders
                totals["created"] += c
        self._channels2(User, logins, sandbox_url)
        for tenant in Tenant.objects.filter(slug__in=[t["slug"] for t in TENANTS]):
            self._logistics(tenant)
            self._notifications(tenant)
            self._stock_watch(tenant)
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(
            f"demo data ready in {elapsed:.1f}s: {totals['orders']} orders seeded ({totals['created']} new)"))
        self.stdout.write(f"logins (password for all: {DEMO_PASSWORD}):")
        for username, what in logins:
            self.stdout.write(f"  {username:<22} {what}")

    def _logistics(self, tenant):
        """Carrier services, rate tables, an urgent-order rule and sandbox carrier accounts."""
        from logistics.models import Carrier, CarrierAccount, CarrierRate, CarrierRule, CarrierService

        carriers = {c.code: c for c in Carrier.objects.all()}
        services = {}
        for code, svc, name, hours, product, default in DEMO_SERVICES:
            services[(code, svc)], _ = CarrierService.objects.get_or_create(
                tenant=tenant, carrier=carriers[code], code=svc,
                defaults={"name": name, "promised_hours": hours, "product_code": product, "is_default": default})
        for code, ((nf, na), (ff, fa)) in DEMO_RATES.items():
            for zone, provinces, first, extra in (("江浙沪皖", NEAR_ZONE, nf, na), ("全国其他", [], ff, fa)):
                CarrierRate.objects.get_or_create(tenant=tenant, carrier=carriers[code], service=None, zone=zone,
                                                  defaults={"provinces": provinces, "first_price": Decimal(first),
                                                            "additional_price": Decimal(extra)})
        CarrierRule.objects.get_or_create(tenant=tenant, name="加急订单", defaults={
            "priority": 1, "urgent": True, "carrier": carriers["SF"], "service": "express"})
        CarrierRule.objects.get_or_create(tenant=tenant, name="买家指定顺丰", defaults={
            "priority": 2, "buyer_express_keywords": "顺丰,SF", "carrier": carriers["SF"], "service": "standard"})
        key = f"{tenant.slug}-carrier"
        for provider, creds in (
            ("sf", {"partner_id": f"{key}-sf", "check_word": f"{key}-checkword", "monthly_card": "7551234567"}),
            ("cainiao", {"app_key": f"{key}-top", "app_secret": f"{key}-top-secret", "session": f"{key}-session",
                         "sign_method": "md5"}),
            ("kuaidi100", {"customer": f"{key}-k100", "key": f"{key}-k100-key"}),
        ):
            CarrierAccount.objects.get_or_create(tenant=tenant, provider=provider, defaults={
                "name": f"演示 {provider}", "api_base_url": f"{CARRIER_SANDBOX_URL}/{provider}", "credentials": creds})

    def _notifications(self, tenant):
        from notifications.models import Contact, SmsAccount

        SmsAccount.objects.get_or_create(tenant=tenant, defaults={
            "sign_name": tenant.name[:50], "api_base_url": SMS_SANDBOX_URL,
            "credentials": {"access_key_id": SMS_DEMO_ACCOUNT[0], "access_key_secret": SMS_DEMO_ACCOUNT[1]}})
        Contact.objects.get_or_create(tenant=tenant, name="采购 王经理", defaults={
            "email": f"purchasing@{tenant.slug}.example.com", "phone": "13912345678", "is_purchasing": True})

    def _stock_watch(self, tenant):
        """Reorder points (so the low-stock list has content) and a first transfer suggestion run."""
        from inventory.models import ReorderPoint

        for sku in Sku.objects.filter(tenant=tenant, is_combo=False).order_by("code"):
            if not ReorderPoint.objects.filter(tenant=tenant, sku=sku, warehouse=None).exists():
                stock.reorder_point_set(tenant_id=tenant.pk, sku_id=sku.pk, warehouse_id=None, reorder_point=30,
                                        reorder_quantity=100)
        from orders import services as order_services

        order_services.orders_allocate_queue(tenant_id=tenant.pk)  # what beat does every minute
        stock.low_stock_evaluate(tenant_id=tenant.pk,
                                 sku_ids=list(Sku.objects.filter(tenant=tenant).values_list("pk", flat=True)))
        stock.transfer_suggest(tenant_id=tenant.pk)

    def _warehouses(self, tenant, spec):
        out = []
        for code, name, province, city, regions, prio in spec["warehouses"]:
            wh, _ = Warehouse.objects.get_or_create(
                tenant=tenant, code=code,
                defaults={"name": name, "province": province, "city": city, "regions": regions, "priority": prio,
                          "address": f"{city}物流园 {prio} 号库", "contact_name": "仓管", "contact_phone": "0571-88888888"})
            out.append(wh)
        return out

    @transaction.atomic
    def _skus(self, tenant, spec, whs):
        rng = random.Random(f"stock-{tenant.slug}")
        skus = {}
        for code, name, price in spec["skus"]:
            sku, _ = Sku.objects.get_or_create(tenant=tenant, code=code, defaults={
                "name": name, "reference_price": Decimal(price), "weight_grams": rng.choice([200, 350, 500, 800])})
            skus[code] = sku
            for i, wh in enumerate(whs):
                if (wh.code, code) in NOT_STOCKED:
                    continue
                if not StockMovement.objects.filter(tenant=tenant, warehouse=wh, sku=sku).exists():
                    # the last SKU is scarce so that some orders go on hold "out of stock"
                    qty = 3 if code == spec["skus"][-1][0] else rng.randint(120, 320) // (i + 1)
                    stock.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=qty,
                                        reference="seed", note="期初库存", actor_label="seed")
                    # a bin location for the pick list (not a quantity: no ledger row needed)
                    StockLevel.objects.filter(tenant=tenant, warehouse=wh, sku=sku, bin_location="").update(
                        bin_location=f"{chr(65 + len(skus) % 4)}-{len(skus) + 1:02d}-{i + 1:02d}")
        for code, name, price, parts in spec["combos"]:
            combo, _ = Sku.objects.get_or_create(tenant=tenant, code=code, defaults={
                "name": name, "reference_price": Decimal(price), "is_combo": True})
            for part, qty in parts:
                SkuComponent.objects.get_or_create(tenant=tenant, combo=combo, component=skus[part],
                                                   defaults={"quantity": qty})
            skus[code] = combo
        return skus

    def _shops(self, tenant, spec, whs, skus, sandbox_url):
        shops = []
        for i, (platform, name) in enumerate(spec["shops"]):
            creds = demo_credentials(platform, f"{tenant.slug}-{platform}")
            shop, _ = Shop.objects.get_or_create(tenant=tenant, name=name, defaults={
                "platform": platform, "api_base_url": f"{sandbox_url}/{platform}", "credentials": creds,
                "safety_stock": 2, "pull_interval_minutes": 1 if platform != "jd" else 2,
                "high_water_mark": timezone.now() - timedelta(minutes=10)})
            shop.warehouses.set(whs, through_defaults={"tenant_id": shop.tenant_id})
            for j, sku in enumerate(skus.values()):
                Listing.objects.get_or_create(tenant=tenant, shop=shop, platform_item_id=f"{6100000 + j}",
                                              platform_sku_id=f"{i + 1}{8100000 + j}", defaults={
                                                  "sku": sku, "outer_id": sku.code})
            shops.append(shop)
        return shops

    def _channels2(self, User, logins, sandbox_url):
        """Channels II demo shops (no seeded orders; idempotent)."""
        spec = CHANNELS2_TENANT
        tenant, _ = Tenant.objects.get_or_create(slug=spec["slug"], defaults={"name": spec["name"]})
        for role in Role:
            username = f"{spec['prefix']}-{role.value}"
            user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
            user.set_password(DEMO_PASSWORD)
            user.save()
            Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role.value})
            logins.append((username, f"{tenant.name} · {role.label}"))
        whs = self._warehouses(tenant, spec)
        skus = self._skus(tenant, spec, whs)
        plan = [(tenant, spec["shops"], whs, skus)]
        for slug, shops in CHANNELS2_EXTRA_SHOPS.items():
            other = Tenant.objects.get(slug=slug)
            plan.append((other, shops, list(Warehouse.objects.filter(tenant=other)),
                         {s.code: s for s in Sku.objects.filter(tenant=other, is_combo=False).order_by("code")}))
        for t, shops, warehouses, sku_map in plan:
            for platform, name in shops:
                creds = demo_credentials(platform, f"{t.slug}-{platform}", sandbox_url)
                shop, _ = Shop.objects.get_or_create(tenant=t, name=name, defaults={
                    "platform": platform, "api_base_url": f"{sandbox_url}/{platform}", "credentials": creds,
                    "platform_shop_id": creds.get("shop_id", ""), "safety_stock": 2, "pull_interval_minutes": 1,
                    "high_water_mark": timezone.now() - timedelta(minutes=10)})
                shop.warehouses.set(warehouses, through_defaults={"tenant_id": shop.tenant_id})
                for j, sku in enumerate(sku_map.values()):
                    item_id, sku_id = channels2_listing_ids(platform, j, sku.code)
                    Listing.objects.get_or_create(tenant=t, shop=shop, platform_item_id=item_id,
                                                  platform_sku_id=sku_id, defaults={"sku": sku, "outer_id": sku.code})

    def _orders(self, tenant, shop, skus, n):
        rng = random.Random(f"orders-{shop.tenant_id}-{shop.name}")
        codes = list(skus)
        created = 0
        base = timezone.now().replace(minute=0, second=0, microsecond=0)
        for k in range(n):
            placed = base - timedelta(minutes=37 * (n - k))
            province, city, district, detail = demo_data.address(rng)
            lines = []
            # the scarce SKU (last of the list) is in a few orders only: those go on hold "缺货"
            scarce = [[c for c in codes if not skus[c].is_combo][-1]]
            common = [c for c in codes if c not in scarce]
            picked = rng.sample(common, rng.choice([1, 1, 1, 2, 3])) + (scarce if rng.random() < 0.06 else [])
            for li, code in enumerate(picked):
                qty = rng.choice([1, 1, 1, 2])
                price = skus[code].reference_price or Decimal("10")
                lines.append(CanonicalLine(f"{k}-{li}", qty, price, title=skus[code].name, outer_sku_id=code,
                                           platform_item_id=str(6100000 + codes.index(code))))
            goods = sum(ln.unit_price * ln.quantity for ln in lines)
            shipping = Decimal("0") if goods >= 99 else Decimal("8.00")
            state = PlatformState.PAID if rng.random() > 0.05 else PlatformState.UNPAID
            note = rng.choice(demo_data.NOTES) if rng.random() < 0.1 else ""
            phone = demo_data.mobile(rng)
            if rng.random() < 0.03:
                phone = phone[:-1]  # a broken phone number for review to catch
            canonical = CanonicalOrder(
                platform=shop.platform, platform_order_id=f"DEMO{shop.pk:02d}{k:06d}",
                platform_status=PLATFORM_STATUS.get(shop.platform, "paid"), state=state, placed_at=placed,
                modified_at=placed + timedelta(minutes=2), paid_at=placed + timedelta(minutes=1), lines=lines,
                goods_amount=goods, shipping_amount=shipping, paid_amount=goods + shipping,
                buyer_nick=f"tb_{rng.randrange(10**6):06d}", receiver_name=demo_data.name(rng), receiver_phone=phone,
                receiver_province=province, receiver_city=city, receiver_district=district, receiver_address=detail,
                buyer_note=note, urgent=rng.random() < 0.05,
            )
            result = order_services.order_ingest(tenant=tenant, shop=shop, canonical=canonical, source="seed")
            created += result.outcome == "created"
        return created


def _ws_url(sandbox_url: str) -> str:
    """The sandbox's PDD message socket listens on its port + 1."""
    from urllib.parse import urlsplit

    parts = urlsplit(sandbox_url)
    return f"ws://{parts.hostname}:{(parts.port or 80) + 1}"


def channels2_listing_ids(platform: str, j: int, code: str) -> tuple[str, str]:
    """(platform_item_id, platform_sku_id) of the j-th SKU on a Channels II demo shop; the sandbox
    generates orders with the same ids (rundemo hands them over)."""
    if platform == "amazon":
        return code, ""  # Amazon lines map by SellerSKU
    return f"{7100000 + j}", f"{7200000 + j}"


def demo_credentials(platform: str, key: str, sandbox_url: str = SANDBOX_URL) -> dict:
    """The credentials demo shops use; the sandbox accepts exactly these (see `manage.py sandbox`)."""
    secret = f"{key}-secret"
    if platform == "taobao":
        return {"app_key": key, "app_secret": secret, "session": f"{key}-session", "sign_method": "hmac-sha256"}
    if platform == "jd":
        return {"app_key": key, "app_secret": secret, "access_token": f"{key}-token"}
    if platform == "pdd":
        return {"client_id": key, "client_secret": secret, "access_token": f"{key}-token",
                "message_url": _ws_url(sandbox_url)}
    if platform == "amazon":
        return {"client_id": key, "client_secret": secret, "refresh_token": f"Atzr|{key}", "seller_id": "A1DEMO",
                "marketplace_ids": "ATVPDKIKX0DER", "region": "na"}
    if platform == "shopify":
        return {"shop_domain": f"{key}.myshopify.com", "access_token": f"shpat_{key}", "webhook_secret": secret}
    if platform == "woocommerce":
        return {"consumer_key": f"ck_{key}", "consumer_secret": f"cs_{secret}"}
    if platform == "douyin":
        return {"app_key": key, "app_secret": secret, "shop_id": str(7000000 + sum(map(ord, key)))}
    return {"key": key, "secret": secret}
