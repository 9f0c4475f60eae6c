"""factory_boy factories. Every tenant-owned factory takes a tenant (and builds related rows
inside the same tenant)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from channels.models import ChannelCall, Listing, PullRun, RawOrder, Shop
from inventory.models import Reservation, Sku, SkuComponent, StockLevel, StockMovement, Warehouse
from logistics.models import Carrier, CarrierRule, Shipment, ShipmentLine, TrackingEvent
from notifications.models import Notification
from oms.models import Membership, Tenant
from orders.canonical import CanonicalLine, CanonicalOrder, PlatformState
from orders.models import Hold, Order, OrderEvent, OrderLine


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"租户{n}")
    slug = factory.Sequence(lambda n: f"t{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw-123456")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def member(tenant, role: str, username: str | None = None):
    user = UserFactory(username=username or f"{tenant.slug}-{role}")
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
    return user


class TenantOwnedFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    tenant = factory.SubFactory(TenantFactory)


class WarehouseFactory(TenantOwnedFactory):
    class Meta:
        model = Warehouse

    code = factory.Sequence(lambda n: f"WH{n}")
    name = factory.Sequence(lambda n: f"仓库{n}")
    province = "浙江省"
    city = "杭州市"


class SkuFactory(TenantOwnedFactory):
    class Meta:
        model = Sku

    code = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"商品{n}")
    reference_price = Decimal("99.00")


class SkuComponentFactory(TenantOwnedFactory):
    class Meta:
        model = SkuComponent

    combo = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"), is_combo=True)
    component = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))
    quantity = 2


class StockLevelFactory(TenantOwnedFactory):
    """Creates a level with no stock; put stock in through inventory.services (ledger!)."""

    class Meta:
        model = StockLevel

    warehouse = factory.SubFactory(WarehouseFactory, tenant=factory.SelfAttribute("..tenant"))
    sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))


class StockMovementFactory(TenantOwnedFactory):
    class Meta:
        model = StockMovement

    warehouse = factory.SubFactory(WarehouseFactory, tenant=factory.SelfAttribute("..tenant"))
    sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))
    kind = "adjust"
    on_hand_delta = 0


class ShopFactory(TenantOwnedFactory):
    class Meta:
        model = Shop

    platform = "taobao"
    name = factory.Sequence(lambda n: f"店铺{n}")
    credentials = factory.LazyFunction(lambda: {"app_key": "k", "app_secret": "s"})


class ListingFactory(TenantOwnedFactory):
    class Meta:
        model = Listing

    shop = factory.SubFactory(ShopFactory, tenant=factory.SelfAttribute("..tenant"))
    sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))
    platform_item_id = factory.Sequence(lambda n: f"{6000000 + n}")
    platform_sku_id = factory.Sequence(lambda n: f"{8000000 + n}")


class RawOrderFactory(TenantOwnedFactory):
    class Meta:
        model = RawOrder

    shop = factory.SubFactory(ShopFactory, tenant=factory.SelfAttribute("..tenant"))
    platform_order_id = factory.Sequence(lambda n: f"R{n}")
    payload = factory.LazyFunction(lambda: {"tid": 1})
    payload_hash = factory.Sequence(lambda n: f"{n:064d}")


class PullRunFactory(TenantOwnedFactory):
    class Meta:
        model = PullRun

    shop = factory.SubFactory(ShopFactory, tenant=factory.SelfAttribute("..tenant"))


class ChannelCallFactory(TenantOwnedFactory):
    class Meta:
        model = ChannelCall

    shop = factory.SubFactory(ShopFactory, tenant=factory.SelfAttribute("..tenant"))
    kind = "push_stock"


class OrderFactory(TenantOwnedFactory):
    class Meta:
        model = Order

    shop = factory.SubFactory(ShopFactory, tenant=factory.SelfAttribute("..tenant"))
    platform = "taobao"
    platform_order_id = factory.Sequence(lambda n: f"{3900000000000 + n}")
    status = "pending_review"
    receiver_name = "张三"
    receiver_phone = "13800138000"
    receiver_province = "浙江省"
    receiver_city = "杭州市"
    receiver_district = "西湖区"
    receiver_address = "文三路 100 号"
    placed_at = factory.LazyFunction(timezone.now)
    platform_modified_at = factory.LazyFunction(timezone.now)


class OrderLineFactory(TenantOwnedFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory, tenant=factory.SelfAttribute("..tenant"))
    platform_line_id = factory.Sequence(lambda n: f"L{n}")
    quantity = 1
    unit_price = Decimal("10.00")
    amount = Decimal("10.00")


class OrderEventFactory(TenantOwnedFactory):
    class Meta:
        model = OrderEvent

    order = factory.SubFactory(OrderFactory, tenant=factory.SelfAttribute("..tenant"))
    type = "note"
    message = "备注"


class HoldFactory(TenantOwnedFactory):
    class Meta:
        model = Hold

    order = factory.SubFactory(OrderFactory, tenant=factory.SelfAttribute("..tenant"))
    reason = "manual"
    detail = "人工"


class ReservationFactory(TenantOwnedFactory):
    class Meta:
        model = Reservation

    order_id = 1
    line_id = 1
    sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))
    quantity = 1
    status = "short"


class CarrierRuleFactory(TenantOwnedFactory):
    class Meta:
        model = CarrierRule

    name = factory.Sequence(lambda n: f"规则{n}")
    carrier = factory.LazyFunction(lambda: Carrier.objects.get_or_create(code="SF", defaults={"name": "顺丰速运"})[0])


class ShipmentFactory(TenantOwnedFactory):
    class Meta:
        model = Shipment

    order = factory.SubFactory(OrderFactory, tenant=factory.SelfAttribute("..tenant"))
    tracking_number = factory.Sequence(lambda n: f"SF{1000000000 + n}")


class ShipmentLineFactory(TenantOwnedFactory):
    class Meta:
        model = ShipmentLine

    shipment = factory.SubFactory(ShipmentFactory, tenant=factory.SelfAttribute("..tenant"))
    order_line = factory.SubFactory(OrderLineFactory, tenant=factory.SelfAttribute("..tenant"))
    quantity = 1


class TrackingEventFactory(TenantOwnedFactory):
    class Meta:
        model = TrackingEvent

    shipment = factory.SubFactory(ShipmentFactory, tenant=factory.SelfAttribute("..tenant"))
    occurred_at = factory.LazyFunction(timezone.now)
    status = "in_transit"
    description = "运输中"


class NotificationFactory(TenantOwnedFactory):
    class Meta:
        model = Notification

    channel = "sms"
    recipient = "13800138000"
    template = "shipped"
    dedupe_key = factory.Sequence(lambda n: f"k{n}")


#: one factory per tenant-owned model; a test asserts every such model is listed here, so a
#: new model cannot escape the isolation sweep.
FACTORIES = {
    f._meta.model: f
    for f in [WarehouseFactory, SkuFactory, SkuComponentFactory, StockLevelFactory, StockMovementFactory,
              ShopFactory, ListingFactory, RawOrderFactory, PullRunFactory, ChannelCallFactory, OrderFactory,
              OrderLineFactory, OrderEventFactory, HoldFactory, ReservationFactory, CarrierRuleFactory,
              ShipmentFactory, ShipmentLineFactory, TrackingEventFactory, NotificationFactory]
}


def canonical(platform_order_id: str = "T1", *, lines=None, state: str = PlatformState.PAID, modified=None,
              **kw) -> CanonicalOrder:
    now = timezone.now()
    return CanonicalOrder(
        platform="taobao", platform_order_id=platform_order_id, platform_status="WAIT_SELLER_SEND_GOODS",
        state=state, placed_at=kw.pop("placed_at", now - timedelta(hours=1)), modified_at=modified or now,
        paid_at=kw.pop("paid_at", now - timedelta(minutes=50)),
        lines=lines if lines is not None else [CanonicalLine("1", 1, Decimal("10.00"), outer_sku_id="SKU-A")],
        receiver_name=kw.pop("receiver_name", "李四"), receiver_phone=kw.pop("receiver_phone", "13912345678"),
        receiver_province=kw.pop("receiver_province", "浙江省"), receiver_city=kw.pop("receiver_city", "杭州市"),
        receiver_district=kw.pop("receiver_district", "西湖区"),
        receiver_address=kw.pop("receiver_address", "文三路 100 号"), paid_amount=Decimal("10.00"),
        goods_amount=Decimal("10.00"), **kw,
    )


# --- per-app factory modules (tests/factories_<app>.py) register their models here ---------------
def _load_app_factories() -> None:
    import importlib

    for app in ("orders", "inventory", "channels", "logistics", "notifications", "console"):
        try:
            module = importlib.import_module(f"tests.factories_{app}")
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.factories_{app}":
                raise
            continue
        FACTORIES.update(getattr(module, "FACTORIES", {}))


_load_app_factories()
