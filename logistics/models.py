"""Carriers, carrier rules, shipments and their tracking events."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from oms.crypto import EncryptedJSONField
from oms.models import TenantOwned


class Carrier(models.Model):
    """A reference table shared by all tenants (SF, YTO, ...); tenants' rates and rules point here."""

    code = models.CharField(_("编码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    kuaidi100_code = models.CharField(_("快递100编码"), max_length=30, blank=True)
    cainiao_code = models.CharField(_("菜鸟编码"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("快递公司")
        verbose_name_plural = _("快递公司")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def short_name(self) -> str:
        """顺丰速运 -> 顺丰, 圆通速递 -> 圆通: what people call the carrier."""
        for suffix in ("速运", "速递", "快递", "物流"):
            if self.name.endswith(suffix) and len(self.name) > len(suffix):
                return self.name[: -len(suffix)]
        return self.name


class CarrierService(TenantOwned):
    """A service level of a carrier for a tenant (e.g. 顺丰标快 / 顺丰特快) and its promised hours."""

    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="+", verbose_name=_("快递"))
    code = models.CharField(_("编码"), max_length=30, help_text=_("例如 standard / express"))
    name = models.CharField(_("名称"), max_length=50, help_text=_("例如 标快、特快"))
    promised_hours = models.PositiveIntegerField(_("承诺时效(小时)"), default=72)
    product_code = models.CharField(_("产品编码"), max_length=20, blank=True,
                                    help_text=_("快递公司接口的产品代码，例如顺丰 expressTypeId：1 特快，2 标快"))
    is_default = models.BooleanField(_("默认服务"), default=False)

    class Meta:
        verbose_name = _("快递服务")
        verbose_name_plural = _("快递服务")
        ordering = ["carrier__code", "code"]
        constraints = [models.UniqueConstraint(fields=["tenant", "carrier", "code"], name="carrierservice_unique")]

    def __str__(self) -> str:
        return f"{self.carrier.short_name}{self.name}"


class CarrierRate(TenantOwned):
    """Price of a parcel: first weight + each additional unit, for one zone (a set of provinces).
    A rate row without provinces is the carrier's default for every other province."""

    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="+", verbose_name=_("快递"))
    service = models.ForeignKey(CarrierService, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="rates", verbose_name=_("服务"), help_text=_("留空表示默认服务"))
    zone = models.CharField(_("区域"), max_length=50)
    provinces = models.JSONField(_("省份"), default=list, blank=True,
                                 help_text=_("例如 [\"浙江省\", \"上海市\"]；留空表示其他所有省份"))
    first_weight_grams = models.PositiveIntegerField(_("首重(克)"), default=1000)
    first_price = models.DecimalField(_("首重价格"), max_digits=8, decimal_places=2)
    additional_weight_grams = models.PositiveIntegerField(_("续重单位(克)"), default=1000)
    additional_price = models.DecimalField(_("续重价格"), max_digits=8, decimal_places=2, default=0)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")

    class Meta:
        verbose_name = _("快递价格")
        verbose_name_plural = _("快递价格")
        ordering = ["carrier__code", "zone"]
        indexes = [models.Index(fields=["tenant", "carrier"], name="carrierrate_tenant_carrier")]
        constraints = [
            models.CheckConstraint(condition=models.Q(additional_weight_grams__gte=1), name="carrierrate_unit_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier.short_name} {self.zone}"


class RuleStrategy(models.TextChoices):
    CARRIER = "carrier", _("指定快递")
    CHEAPEST = "cheapest", _("最便宜")
    FASTEST = "fastest", _("时效优先")
    BEST_SERVICE = "best_service", _("服务优先")


class CarrierRule(TenantOwned):
    """An ordered rule: when every filled-in condition holds, use the carrier (or a strategy).
    Empty conditions match everything."""

    name = models.CharField(_("名称"), max_length=100)
    priority = models.PositiveIntegerField(_("顺序"), default=100)
    enabled = models.BooleanField(_("启用"), default=True)
    # conditions
    urgent = models.BooleanField(_("加急订单"), null=True, blank=True, help_text=_("是：仅加急；否：仅非加急；空：不限"))
    buyer_express_keywords = models.CharField(
        _("买家指定快递关键词"), max_length=100, blank=True,
        help_text=_("买家留言或卖家备注包含任一关键词时匹配，用逗号分隔，例如：顺丰,SF"))
    provinces = models.JSONField(_("收件省份"), default=list, blank=True,
                                 help_text=_("例如 [\"北京市\", \"广东省\"]；留空不限"))
    remote = models.BooleanField(_("偏远地区"), null=True, blank=True,
                                 help_text=_("是：仅偏远地区；否：仅非偏远地区；空：不限"))
    min_weight_grams = models.PositiveIntegerField(_("最小重量(克)"), null=True, blank=True)
    max_weight_grams = models.PositiveIntegerField(_("最大重量(克)"), null=True, blank=True)
    min_order_value = models.DecimalField(_("最低订单金额"), max_digits=12, decimal_places=2, null=True, blank=True)
    max_order_value = models.DecimalField(_("最高订单金额"), max_digits=12, decimal_places=2, null=True, blank=True)
    shop = models.ForeignKey("channels.Shop", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                             verbose_name=_("店铺"))
    # action
    strategy = models.CharField(_("选择方式"), max_length=20, choices=RuleStrategy.choices,
                                default=RuleStrategy.CARRIER)
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("快递"))
    service = models.CharField(_("服务"), max_length=50, blank=True, help_text=_("快递服务编码，留空用默认服务"))

    class Meta:
        verbose_name = _("快递规则")
        verbose_name_plural = _("快递规则")
        ordering = ["priority", "id"]
        indexes = [models.Index(fields=["tenant", "priority"], name="carrierrule_tenant_prio")]

    def __str__(self) -> str:
        return self.name


DEFAULT_REMOTE_PROVINCES = ["新疆维吾尔自治区", "西藏自治区", "青海省", "内蒙古自治区", "甘肃省", "宁夏回族自治区"]


def _default_remote() -> list:
    return list(DEFAULT_REMOTE_PROVINCES)


class LogisticsSettings(TenantOwned):
    """One row per tenant: remote areas, default parcel weight, scorecard window."""

    remote_provinces = models.JSONField(_("偏远地区省份"), default=_default_remote, blank=True)
    default_parcel_grams = models.PositiveIntegerField(_("默认包裹重量(克)"), default=500,
                                                       help_text=_("商品没有重量时使用"))
    packaging_grams = models.PositiveIntegerField(_("包材重量(克)"), default=50)
    scorecard_days = models.PositiveIntegerField(_("考核窗口(天)"), default=30)

    class Meta:
        verbose_name = _("物流设置")
        verbose_name_plural = _("物流设置")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="logisticssettings_unique")]

    def __str__(self) -> str:
        return str(_("物流设置"))


class AccountProvider(models.TextChoices):
    SF = "sf", _("顺丰开放平台")
    CAINIAO = "cainiao", _("菜鸟电子面单(淘宝开放平台)")
    KUAIDI100 = "kuaidi100", _("快递100轨迹查询")


class CarrierAccount(TenantOwned):
    """A tenant's account with a waybill / tracking provider. Credentials are encrypted at rest.

    sf: partner_id, check_word, monthly_card; cainiao: app_key, app_secret, session, sign_method;
    kuaidi100: customer, key."""

    provider = models.CharField(_("服务商"), max_length=20, choices=AccountProvider.choices)
    name = models.CharField(_("名称"), max_length=100, blank=True)
    api_base_url = models.CharField(_("接口地址"), max_length=200, blank=True,
                                    help_text=_("留空使用正式网关；演示和测试指向沙箱"))
    credentials = EncryptedJSONField(_("接口凭证"), blank=True, default=dict)
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("快递账号")
        verbose_name_plural = _("快递账号")
        constraints = [models.UniqueConstraint(fields=["tenant", "provider"], name="carrieraccount_unique")]

    def __str__(self) -> str:
        return self.name or self.get_provider_display()


class ShipmentStatus(models.TextChoices):
    CREATED = "created", _("已创建")
    LABELLED = "labelled", _("已取号")
    SHIPPED = "shipped", _("已发货")
    IN_TRANSIT = "in_transit", _("运输中")
    OUT_FOR_DELIVERY = "out_for_delivery", _("派送中")
    DELIVERED = "delivered", _("已签收")
    PROBLEM = "problem", _("异常")
    RETURNED = "returned", _("已退回")
    CANCELLED = "cancelled", _("已取消")


class Shipment(TenantOwned):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="shipments",
                              verbose_name=_("订单"))
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, null=True, blank=True,
                                  verbose_name=_("发货仓"))
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("快递"))
    service = models.CharField(_("服务"), max_length=50, blank=True)
    tracking_number = models.CharField(_("运单号"), max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=ShipmentStatus.choices,
                              default=ShipmentStatus.CREATED)
    weight_grams = models.PositiveIntegerField(_("重量(克)"), default=0)
    choice_explanation = models.CharField(_("选择依据"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    shipped_at = models.DateTimeField(_("发货时间"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    # tracking polls: when we asked last, when to ask next (backs off while quiet), how often
    last_polled_at = models.DateTimeField(_("上次查询轨迹"), null=True, blank=True)
    next_poll_at = models.DateTimeField(_("下次查询轨迹"), null=True, blank=True)
    poll_count = models.PositiveIntegerField(_("查询次数"), default=0)
    quiet_polls = models.PositiveIntegerField(_("连续无新轨迹次数"), default=0)
    # the electronic waybill
    waybill_provider = models.CharField(_("面单来源"), max_length=20, blank=True)
    print_data = models.TextField(_("打印数据"), blank=True, help_text=_("菜鸟返回的打印数据（常为加密，仅供菜鸟打印组件使用）"))
    last_error = models.CharField(_("最近错误"), max_length=255, blank=True)
    overridden = models.BooleanField(_("人工改派"), default=False)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("包裹")
        verbose_name_plural = _("包裹")
        indexes = [
            models.Index(fields=["tenant", "tracking_number"], name="shipment_tenant_tracking"),
            models.Index(fields=["tenant", "status"], name="shipment_tenant_status"),
            models.Index(fields=["next_poll_at"], name="shipment_next_poll"),
        ]
        constraints = [
            # one live parcel per order: a retried "prepare" finds it instead of creating another
            models.UniqueConstraint(fields=["tenant", "order"], condition=~models.Q(status="cancelled"),
                                    name="shipment_one_live_per_order"),
        ]

    def __str__(self) -> str:
        return self.tracking_number or f"#{self.pk}"

    @property
    def waybill_ref(self) -> str:
        """Our idempotency key at the carrier (SF orderId, Cainiao object_id): same parcel, same key."""
        return f"OMS{self.tenant_id}S{self.pk}"


class ShipmentLine(TenantOwned):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines", verbose_name=_("包裹"))
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, verbose_name=_("订单行"))
    quantity = models.PositiveIntegerField(_("数量"))

    class Meta:
        verbose_name = _("包裹明细")
        verbose_name_plural = _("包裹明细")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shipment", "order_line"], name="shipmentline_unique"),
        ]


class TrackingEvent(TenantOwned):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking_events",
                                 verbose_name=_("包裹"))
    occurred_at = models.DateTimeField(_("时间"))
    status = models.CharField(_("状态"), max_length=20, choices=ShipmentStatus.choices)
    description = models.CharField(_("描述"), max_length=255)
    location = models.CharField(_("地点"), max_length=100, blank=True)
    raw_state = models.CharField(_("原始状态码"), max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("物流轨迹")
        verbose_name_plural = _("物流轨迹")
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shipment", "occurred_at", "description"],
                                    name="trackingevent_unique"),
        ]


class BulkShipJob(TenantOwned):
    """One click of 一键发货: the orders, progress, per-order failures and the merged PDF."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("处理中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("出错")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                   verbose_name=_("操作人"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    order_ids = models.JSONField(_("订单"), default=list)
    include_pick_list = models.BooleanField(_("附拣货单"), default=True)
    total = models.PositiveIntegerField(_("总数"), default=0)
    done = models.PositiveIntegerField(_("已发货"), default=0)
    failed = models.PositiveIntegerField(_("失败"), default=0)
    failures = models.JSONField(_("失败明细"), default=list, blank=True)
    shipment_ids = models.JSONField(_("包裹"), default=list, blank=True)
    pdf_path = models.CharField(_("PDF 文件"), max_length=255, blank=True)
    error = models.CharField(_("错误"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("一键发货任务")
        verbose_name_plural = _("一键发货任务")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "created_at"], name="bulkshipjob_tenant_created")]

    def __str__(self) -> str:
        return f"#{self.pk}"

    @property
    def percent(self) -> int:
        return int(100 * (self.done + self.failed) / self.total) if self.total else 100
