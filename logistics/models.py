"""Carriers, carrier rules, shipments and their tracking events."""

from django.db import models
from django.utils.translation import gettext_lazy as _

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


class CarrierRule(TenantOwned):
    name = models.CharField(_("名称"), max_length=100)
    priority = models.PositiveIntegerField(_("顺序"), default=100)
    enabled = models.BooleanField(_("启用"), default=True)
    conditions = models.JSONField(_("条件"), default=dict, blank=True)
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("快递"))
    service = models.CharField(_("服务"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("快递规则")
        verbose_name_plural = _("快递规则")
        ordering = ["priority", "id"]
        indexes = [models.Index(fields=["tenant", "priority"], name="carrierrule_tenant_prio")]

    def __str__(self) -> str:
        return self.name


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

    class Meta:
        verbose_name = _("包裹")
        verbose_name_plural = _("包裹")
        indexes = [
            models.Index(fields=["tenant", "tracking_number"], name="shipment_tenant_tracking"),
            models.Index(fields=["tenant", "status"], name="shipment_tenant_status"),
            models.Index(fields=["next_poll_at"], name="shipment_next_poll"),
        ]

    def __str__(self) -> str:
        return self.tracking_number or f"#{self.pk}"


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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("物流轨迹")
        verbose_name_plural = _("物流轨迹")
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shipment", "occurred_at", "description"],
                                    name="trackingevent_unique"),
        ]
