"""Canonical orders: Order, OrderLine, OrderEvent (append-only timeline), Hold."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from oms.models import TenantOwned

from .states import OrderStatus

MONEY = {"max_digits": 12, "decimal_places": 2, "default": 0}


class OrderKind(models.TextChoices):
    NORMAL = "normal", _("平台订单")
    MERGED = "merged", _("合并单")
    SPLIT = "split", _("拆分子单")
    EXCHANGE = "exchange", _("换货单")


class Order(TenantOwned):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, verbose_name=_("店铺"))
    platform = models.CharField(_("平台"), max_length=20)
    platform_order_id = models.CharField(_("平台订单号"), max_length=64)
    platform_status = models.CharField(_("平台状态"), max_length=40, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=OrderStatus.choices,
                              default=OrderStatus.PENDING_REVIEW)
    buyer_nick = models.CharField(_("买家昵称"), max_length=100, blank=True)
    buyer_email = models.CharField(_("买家邮箱"), max_length=254, blank=True)
    receiver_name = models.CharField(_("收件人"), max_length=100, blank=True)
    receiver_phone = models.CharField(_("收件人电话"), max_length=40, blank=True)
    receiver_country = models.CharField(_("国家"), max_length=2, default="CN")
    receiver_province = models.CharField(_("省"), max_length=50, blank=True)
    receiver_city = models.CharField(_("市"), max_length=50, blank=True)
    receiver_district = models.CharField(_("区县"), max_length=50, blank=True)
    receiver_address = models.CharField(_("详细地址"), max_length=255, blank=True)
    receiver_postcode = models.CharField(_("邮编"), max_length=20, blank=True)
    #: Taobao's privacy-protected receiver (oaid): passed to the Cainiao e-waybill while the
    #: receiver is the platform's (a local address change makes it plain text)
    receiver_oaid = models.CharField(_("收件人OAID"), max_length=128, blank=True)
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
    kind = models.CharField(_("订单类型"), max_length=10, choices=OrderKind.choices, default=OrderKind.NORMAL)
    #: the last values the platform sent of the fields both sides may change (receiver, notes,
    #: urgent) and its do-not-ship flags: the base of the three-way merge of platform updates
    #: (orders.merge). None: ingested before it was kept; the current values stand in.
    platform_values = models.JSONField(_("平台最近一次的值"), null=True, blank=True, editable=False)
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
            # customer-service lookup (exact matches) and the worklists' keyset sort
            models.Index(fields=["tenant", "receiver_name"], name="order_tenant_receiver"),
            models.Index(fields=["tenant", "buyer_nick"], name="order_tenant_buyer"),
            models.Index(fields=["tenant", "buyer_email"], name="order_tenant_buyer_email"),
            models.Index(fields=["tenant", "status", "-urgent", "paid_at", "id"], name="order_worklist_sort"),
            models.Index(fields=["tenant", "kind", "paid_at"], name="order_tenant_kind_paid"),
            # the two worklist tabs that span two statuses (待发货, 已发货): keep in step with WORKLISTS
            models.Index(fields=["tenant", "-urgent", "paid_at", "id"], name="order_tab_to_ship",
                         condition=Q(status__in=["allocated", "picking"])),
            models.Index(fields=["tenant", "-urgent", "paid_at", "id"], name="order_tab_shipped",
                         condition=Q(status__in=["shipped", "delivered"])),
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
    refund_reason = models.CharField(_("退款原因"), max_length=255, blank=True)
    #: the SKU was chosen by a person (a re-pull keeps it)
    sku_by_hand = models.BooleanField(_("人工匹配"), default=False)
    is_gift = models.BooleanField(_("赠品"), default=False)
    #: for lines of merged / split / exchange orders: the platform order's line it stands for
    source_line = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                    verbose_name=_("来源订单行"))
    gift_rule = models.ForeignKey("orders.GiftRule", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("赠品规则"))

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
    ALLOCATION = "allocation", _("无法整单分仓")
    REFUND = "refund", _("退款拦截")
    CONFLICT = "conflict", _("地址冲突")
    FORBID_SHIP = "forbid_ship", _("平台禁止发货")


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
    #: closed by the system because its cause went away (not acknowledged by a person)
    auto_released = models.BooleanField(_("自动解除"), default=False)
    #: what the hold is about, for the order page: a conflict's two versions, a refund's lines
    data = models.JSONField(_("数据"), null=True, blank=True, editable=False)

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


class OrderSource(TenantOwned):
    """A merged, split or exchange order points at the platform order(s) it stands for, so a
    shipment can be confirmed to every platform order it carries."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="sources", verbose_name=_("订单"))
    source = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="derived", verbose_name=_("来源订单"))
    platform_order_id = models.CharField(_("来源平台订单号"), max_length=64)

    class Meta:
        verbose_name = _("订单来源")
        verbose_name_plural = _("订单来源")
        constraints = [models.UniqueConstraint(fields=["tenant", "order", "source"], name="ordersource_unique")]
        indexes = [models.Index(fields=["tenant", "source"], name="ordersource_tenant_source")]

    def __str__(self) -> str:
        return f"{self.order_id} ← {self.platform_order_id}"


# --- review -----------------------------------------------------------------------------------
class RuleCode(models.TextChoices):
    ADDRESS = "address", _("收件信息完整（阈值：详细地址最少字数）")
    PHONE = "phone", _("电话号码有效")
    AMOUNT_MISMATCH = "amount_mismatch", _("实付与商品+运费−优惠一致（阈值：允许误差，元）")
    PRICE_NONPOSITIVE = "price_nonpositive", _("单价为零或负数（赠品除外）")
    DISCOUNT = "discount", _("优惠过高（阈值：占商品金额的百分比）")
    BELOW_REFERENCE = "below_reference", _("单价远低于参考价（阈值：参考价的百分比）")
    NOTE = "note", _("有买家留言或卖家备注转人工")
    HIGH_VALUE = "high_value", _("大额订单（阈值：实付金额）")
    BLACKLIST = "blacklist", _("黑名单买家/电话/地址")
    DUPLICATE = "duplicate", _("疑似重复下单（阈值：分钟）")


class ReviewRule(TenantOwned):
    """One review rule of a tenant: on/off and its threshold. Rows are created on demand with
    the defaults of orders.rules.DEFAULTS."""

    code = models.CharField(_("规则"), max_length=30, choices=RuleCode.choices)
    enabled = models.BooleanField(_("启用"), default=True)
    threshold = models.DecimalField(_("阈值"), max_digits=12, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("审单规则")
        verbose_name_plural = _("审单规则")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="reviewrule_unique")]

    def __str__(self) -> str:
        return self.get_code_display()


class OrderSettings(TenantOwned):
    """A tenant's order-processing switches (created on demand)."""

    auto_allocate = models.BooleanField(_("自动分仓"), default=True,
                                        help_text=_("审核通过的订单由定时任务自动分配发货仓"))
    allow_split = models.BooleanField(_("允许拆单发货"), default=False,
                                      help_text=_("没有一个仓能整单发货时，按仓拆成多个子单"))
    auto_merge = models.BooleanField(_("自动合单"), default=False,
                                     help_text=_("同一买家、同一收件信息的订单自动合并"))

    class Meta:
        verbose_name = _("订单处理设置")
        verbose_name_plural = _("订单处理设置")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="ordersettings_unique")]

    def __str__(self) -> str:
        return str(_("订单处理设置"))


class BlacklistKind(models.TextChoices):
    BUYER = "buyer", _("买家账号")
    PHONE = "phone", _("电话")
    ADDRESS = "address", _("地址")


class Blacklist(TenantOwned):
    kind = models.CharField(_("类型"), max_length=10, choices=BlacklistKind.choices)
    value = models.CharField(_("值"), max_length=200,
                             help_text=_("买家账号、电话须完全一致；地址按包含匹配（忽略空格）"))
    note = models.CharField(_("原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("黑名单")
        verbose_name_plural = _("黑名单")
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "value"], name="blacklist_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class GiftRule(TenantOwned):
    """赠品策略: when an order (of `shop`, paid within the dates) contains `trigger_sku` x
    `trigger_quantity` and/or pays at least `min_paid_amount`, add `gift_sku` x `gift_quantity`
    as a zero-price gift line; with `per_quantity`, once per qualifying quantity."""

    name = models.CharField(_("名称"), max_length=100)
    shop = models.ForeignKey("channels.Shop", on_delete=models.CASCADE, null=True, blank=True,
                             verbose_name=_("店铺"), help_text=_("留空表示所有店铺"))
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    trigger_sku = models.ForeignKey("inventory.Sku", on_delete=models.CASCADE, null=True, blank=True,
                                    related_name="+", verbose_name=_("购买商品"))
    trigger_quantity = models.PositiveIntegerField(_("购买数量"), default=1)
    min_paid_amount = models.DecimalField(_("实付满"), max_digits=12, decimal_places=2, null=True, blank=True)
    gift_sku = models.ForeignKey("inventory.Sku", on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("赠品"))
    gift_quantity = models.PositiveIntegerField(_("赠送数量"), default=1)
    per_quantity = models.BooleanField(_("按数量累计"), default=False,
                                       help_text=_("每满“购买数量”送一份"))
    enabled = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("赠品策略")
        verbose_name_plural = _("赠品策略")
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "enabled", "starts_at"], name="giftrule_tenant_active")]
        constraints = [
            models.CheckConstraint(condition=Q(trigger_quantity__gte=1), name="giftrule_trigger_qty_pos"),
            models.CheckConstraint(condition=Q(gift_quantity__gte=1), name="giftrule_gift_qty_pos"),
        ]

    def __str__(self) -> str:
        return self.name


# --- after-sales ------------------------------------------------------------------------------
class ReturnKind(models.TextChoices):
    RETURN = "return", _("退货退款")
    EXCHANGE = "exchange", _("换货")


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("已申请")
    RECEIVED = "received", _("已收货")
    INSPECTED = "inspected", _("已质检")
    RESTOCKED = "restocked", _("已入库")
    WRITTEN_OFF = "written_off", _("已报损")
    CANCELLED = "cancelled", _("已撤销")


class ReturnRequest(TenantOwned):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns", verbose_name=_("订单"))
    kind = models.CharField(_("类型"), max_length=10, choices=ReturnKind.choices, default=ReturnKind.RETURN)
    status = models.CharField(_("状态"), max_length=12, choices=ReturnStatus.choices,
                              default=ReturnStatus.REQUESTED)
    reason = models.CharField(_("原因"), max_length=255, blank=True)
    source = models.CharField(_("来源"), max_length=20, default="manual")  # manual | platform
    refund_amount = models.DecimalField(_("退款金额"), **MONEY)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, null=True, blank=True,
                                  verbose_name=_("入库仓"))
    exchange_order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                       verbose_name=_("换货单"))
    note = models.CharField(_("处理说明"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("创建人"))

    class Meta:
        verbose_name = _("售后单")
        verbose_name_plural = _("售后单")
        indexes = [models.Index(fields=["tenant", "status", "created_at"], name="return_tenant_status")]
        constraints = [
            # one open platform after-sale per order: the pull updates it instead of adding more
            models.UniqueConstraint(fields=["tenant", "order"], condition=Q(source="platform", status="requested"),
                                    name="return_platform_open_unique"),
        ]

    @property
    def number(self) -> str:
        return f"RT{self.pk:08d}" if self.pk else ""

    def __str__(self) -> str:
        return f"{self.number} ({self.get_status_display()})"


class ReturnLine(TenantOwned):
    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="lines",
                                       verbose_name=_("售后单"))
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines",
                                   verbose_name=_("订单行"))
    quantity = models.PositiveIntegerField(_("数量"))
    exchange_sku = models.ForeignKey("inventory.Sku", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("换成"))

    class Meta:
        verbose_name = _("售后明细")
        verbose_name_plural = _("售后明细")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "return_request", "order_line"], name="returnline_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="returnline_qty_pos"),
        ]
