"""The platform-free shape every adapter normalises into, and order_ingest consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class PlatformState:
    """The platform's order state, reduced to what matters to us."""

    UNPAID = "unpaid"
    PAID = "paid"  # paid, waiting for the seller to ship
    SHIPPED = "shipped"  # shipped (by us earlier, or outside the OMS)
    COMPLETED = "completed"  # signed / finished
    CANCELLED = "cancelled"  # closed or refunded before shipping

    ALL = (UNPAID, PAID, SHIPPED, COMPLETED, CANCELLED)


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
    refund_status: str = ""
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
    receiver_name: str = ""
    receiver_phone: str = ""
    receiver_country: str = "CN"
    receiver_province: str = ""
    receiver_city: str = ""
    receiver_district: str = ""
    receiver_address: str = ""
    receiver_postcode: str = ""
    buyer_note: str = ""
    seller_note: str = ""
    urgent: bool = False
    fulfilled_by_platform: bool = False  # e.g. Amazon FBA: visible, never reserved or shipped by us
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.state not in PlatformState.ALL:
            raise ValueError(f"unknown platform state {self.state!r}")
        if not self.platform_order_id:
            raise ValueError("platform_order_id is required")
        for ln in self.lines:
            if ln.quantity <= 0:
                raise ValueError(f"line {ln.platform_line_id}: quantity must be positive")
