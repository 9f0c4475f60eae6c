"""Canonical orders: Order, OrderLine, OrderEvent (append-only timeline), Hold."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from oms.models import TenantOwned

from .states import OrderStatus

MONEY = {"max_digits": 12, "decimal_places": 2, "default": 0}


class Order(TenantOwned):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, verbose_name=_("店铺"))
    platform = models.CharField(_("平台"), max_length=20)
    platform_order_id = models.CharField(_("平台订单号"), max_length=64)
    platform_status = models.CharField(_("平台状态"), max_length=40, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=OrderStatus.choices,
                              default=OrderStatus.PENDING_REVIEW)
    buyer_nick = models.CharField(_("买家昵称"), max_length=100, blank=True)
    receiver_name = models.CharField(_("收件人"), max_length=100, blank=True)
    receiver_phone = models.CharField(_("收件人电话"), max_length=40, blank=True)
    receiver_country = models.CharField(_("国家"), max_length=2, default="CN")
    receiver_province = models.CharField(_("省"), max_length=50, blank=True)
    receiver_city = models.CharField(_("市"), max_length=50, blank=True)
    receiver_district = models.CharField(_("区县"), max_length=50, blank=True)
    receiver_address = models.CharField(_("详细地址"), max_length=255, blank=True)
    receiver_postcode = models.CharField(_("邮编"), max_length=20, blank=True)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    goods_amount = models.DecimalField(_("商品金额"), **MONEY)
    shipping_amount = models.DecimalField(_("运费"), **MONEY)
    discount_amount = models.DecimalField(_("优惠"), **MONEY)
    paid_amount = models.DecimalField(_("实付"), **MONEY)
    placed_at = models.DateTimeField(_("下单时间"))
    paid_at = models.DateTimeField(_("付款时间"), null=True, blank=True)
    platform_modified_at = models.DateTimeField(_("平台修改时间"))
    urgent = models.BooleanField(_("加急"), default=False)
    buyer_note = models.TextField(_("买家留言"), blank=True)
    seller_note = models.TextField(_("卖家备注"), blank=True)
    fulfilled_by_platform = models.BooleanField(_("平台代发"), default=False)
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, null=True, blank=True,
                                  verbose_name=_("发货仓"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("订单")
        verbose_name_plural = _("订单")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shop", "platform_order_id"], name="order_platform_unique"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "paid_at"], name="order_tenant_status_paid"),
            models.Index(fields=["tenant", "platform_order_id"], name="order_tenant_pid"),
            models.Index(fields=["tenant", "receiver_phone"], name="order_tenant_phone"),
        ]

    @property
    def number(self) -> str:
        """Our order number, shown to staff and accepted by lookups."""
        return f"OMS{self.pk:08d}" if self.pk else ""

    def __str__(self) -> str:
        return f"{self.number} ({self.platform_order_id})"


class OrderLine(TenantOwned):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("订单"))
    platform_line_id = models.CharField(_("平台子单号"), max_length=64)
    platform_item_id = models.CharField(_("平台商品ID"), max_length=64, blank=True)
    platform_sku_id = models.CharField(_("平台SKU ID"), max_length=64, blank=True)
    outer_sku_id = models.CharField(_("商家编码"), max_length=64, blank=True)
    title = models.CharField(_("商品名称"), max_length=255, blank=True)
    sku = models.ForeignKey("inventory.Sku", on_delete=models.PROTECT, null=True, blank=True,
                            verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("数量"))
    unit_price = models.DecimalField(_("单价"), **MONEY)
    amount = models.DecimalField(_("实付金额"), **MONEY)
    refund_status = models.CharField(_("退款状态"), max_length=40, blank=True)
    is_gift = models.BooleanField(_("赠品"), default=False)

    class Meta:
        verbose_name = _("订单行")
        verbose_name_plural = _("订单行")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "order", "platform_line_id"], name="orderline_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orderline_qty_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.title or self.outer_sku_id} x{self.quantity}"


class OrderEvent(TenantOwned):
    """Append-only timeline of an order: who did what, with the before/after values."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("订单"))
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              verbose_name=_("操作人"))
    actor_label = models.CharField(_("来源"), max_length=50, blank=True)
    type = models.CharField(_("类型"), max_length=40)
    message = models.CharField(_("说明"), max_length=255, blank=True)
    before = models.JSONField(_("变更前"), null=True, blank=True)
    after = models.JSONField(_("变更后"), null=True, blank=True)

    class Meta:
        verbose_name = _("订单日志")
        verbose_name_plural = _("订单日志")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["tenant", "order", "created_at"], name="orderevent_tenant_order")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("OrderEvent is append-only")
        super().save(*args, **kwargs)


class HoldReason(models.TextChoices):
    OUT_OF_STOCK = "out_of_stock", _("缺货")
    UNMAPPED_SKU = "unmapped_sku", _("商品未匹配")
    MANUAL = "manual", _("人工挂起")
    ADDRESS = "address", _("地址不完整")
    PHONE = "phone", _("电话无效")
    AMOUNT = "amount", _("金额异常")
    NOTE = "note", _("有留言/备注")
    HIGH_VALUE = "high_value", _("大额订单")
    BLACKLIST = "blacklist", _("黑名单")
    DUPLICATE = "duplicate", _("疑似重复")
    ADDRESS_CHANGED = "address_changed", _("地址已变更")
    PLATFORM = "platform", _("平台状态异常")


class Hold(TenantOwned):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="holds", verbose_name=_("订单"))
    reason = models.CharField(_("原因"), max_length=30, choices=HoldReason.choices)
    detail = models.CharField(_("说明"), max_length=255, blank=True)
    until = models.DateTimeField(_("挂起至"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("解除人"))
    resolution_note = models.CharField(_("处理说明"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("挂起")
        verbose_name_plural = _("挂起")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "order", "reason"], condition=Q(resolved_at__isnull=True),
                                    name="hold_open_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "reason", "resolved_at"], name="hold_tenant_reason")]

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: {self.detail}"
