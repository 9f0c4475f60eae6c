"""The platform-free shape every adapter normalises into, and order_ingest consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext_lazy as _


class PlatformState:
    """The platform's order state, reduced to what matters to us."""

    UNPAID = "unpaid"
    PAID = "paid"  # paid, waiting for the seller to ship
    SHIPPED = "shipped"  # shipped (by us earlier, or outside the OMS)
    COMPLETED = "completed"  # signed / finished
    CANCELLED = "cancelled"  # closed or refunded before shipping

    ALL = (UNPAID, PAID, SHIPPED, COMPLETED, CANCELLED)


class ShipBlock:
    """A platform's "do not ship now" state (CanonicalOrder.ship_blocks keys). While the platform
    shows one, the order is held (平台禁止发货); the hold resolves itself when a later pull or
    push shows the flag cleared. docs/platforms-do-not-ship.md lists where each comes from."""

    FORBID_CONSIGN = "forbid_consign"  # Taobao/Tmall trade status PAID_FORBID_CONSIGN
    RISK_CONTROL = "risk_control"  # Pinduoduo risk_control_status = 1 (风控审核中)
    PAUSED = "paused"  # JD orderState POP_ORDER_PAUSE
    LOCKED = "locked"  # JD orderState LOCKED
    CANCEL_REQUESTED = "cancel_requested"  # the buyer asked to cancel (e.g. Amazon IsBuyerRequestedCancel)
    PLATFORM_HOLD = "platform_hold"  # the platform holds the order for another reason it names

    LABELS = {
        FORBID_CONSIGN: _("平台禁止发货"),
        RISK_CONTROL: _("平台风控审核中"),
        PAUSED: _("平台暂停发货"),
        LOCKED: _("平台已锁定订单"),
        CANCEL_REQUESTED: _("买家申请取消订单"),
        PLATFORM_HOLD: _("平台暂缓发货"),
    }

    @classmethod
    def label(cls, code: str) -> str:
        return str(cls.LABELS.get(code, code))


@dataclass
class CanonicalLine:
    platform_line_id: str
    quantity: int
    unit_price: Decimal
    title: str = ""
    platform_item_id: str = ""
    platform_sku_id: str = ""
    outer_sku_id: str = ""  # the merchant's SKU code as the platform knows it
    sku_id: int | None = None  # internal SKU when the channel layer resolved it (Listing)
    amount: Decimal | None = None  # paid for the line after discounts
    refund_status: str = ""  # "" | "requested" | "refunded"
    refund_reason: str = ""  # the platform's after-sale reason, where the payload carries one
    is_gift: bool = False


@dataclass
class CanonicalOrder:
    platform: str
    platform_order_id: str
    platform_status: str
    state: str  # one of PlatformState
    placed_at: datetime
    modified_at: datetime
    lines: list[CanonicalLine]
    currency: str = "CNY"
    goods_amount: Decimal = Decimal("0")
    shipping_amount: Decimal = Decimal("0")
    discount_amount: Decimal = Decimal("0")
    paid_amount: Decimal = Decimal("0")
    paid_at: datetime | None = None
    buyer_nick: str = ""
    buyer_email: str = ""  # where the platform sends one (Shopify, WooCommerce, Amazon's relay address)
    receiver_name: str = ""
    receiver_phone: str = ""
    receiver_country: str = "CN"
    receiver_province: str = ""
    receiver_city: str = ""
    receiver_district: str = ""
    receiver_address: str = ""
    receiver_postcode: str = ""
    #: Taobao's privacy-protected receiver id: a Cainiao e-waybill for such an order needs it
    receiver_oaid: str = ""
    buyer_note: str = ""
    seller_note: str = ""
    urgent: bool = False
    fulfilled_by_platform: bool = False  # e.g. Amazon FBA: visible, never reserved or shipped by us
    #: the platform's do-not-ship states now: {ShipBlock code: the platform's own words}
    ship_blocks: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.state not in PlatformState.ALL:
            raise ValueError(f"unknown platform state {self.state!r}")
        if not self.platform_order_id:
            raise ValueError("platform_order_id is required")
        for ln in self.lines:
            if ln.quantity <= 0:
                raise ValueError(f"line {ln.platform_line_id}: quantity must be positive")
