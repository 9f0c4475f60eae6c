"""SKUs (incl. combos), warehouses, stock levels, the stock ledger and reservations.

Invariant: a StockLevel's on_hand and reserved equal the sums of its StockMovement deltas.
Available = on_hand - reserved. Orders are referenced by id (inventory sits below orders).
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from oms.models import TenantOwned


class Sku(TenantOwned):
    code = models.CharField(_("商家编码"), max_length=64)
    name = models.CharField(_("名称"), max_length=200)
    barcode = models.CharField(_("条码"), max_length=64, blank=True)
    is_combo = models.BooleanField(_("组合装"), default=False)
    reference_price = models.DecimalField(_("参考价"), max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    weight_grams = models.PositiveIntegerField(_("重量(克)"), default=0)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKU")
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="sku_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SkuComponent(TenantOwned):
    combo = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="components", verbose_name=_("组合装"))
    component = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="+", verbose_name=_("子件"))
    quantity = models.PositiveIntegerField(_("数量"), default=1)

    class Meta:
        verbose_name = _("组合装子件")
        verbose_name_plural = _("组合装子件")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "combo", "component"], name="sku_component_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="sku_component_qty_pos"),
        ]


class Warehouse(TenantOwned):
    code = models.CharField(_("编码"), max_length=32)
    name = models.CharField(_("名称"), max_length=100)
    province = models.CharField(_("省份"), max_length=32)
    city = models.CharField(_("城市"), max_length=32, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    regions = models.JSONField(_("覆盖省份"), default=list, blank=True,
                               help_text=_("该仓优先发货的省份列表，例如 [\"浙江省\", \"上海市\"]"))
    priority = models.PositiveIntegerField(_("优先级"), default=100, help_text=_("数字小者优先"))
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("仓库")
        verbose_name_plural = _("仓库")
        ordering = ["priority", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="warehouse_code_unique")]

    def __str__(self) -> str:
        return self.name


class StockLevel(TenantOwned):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, verbose_name=_("仓库"))
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, verbose_name=_("SKU"))
    on_hand = models.IntegerField(_("在库"), default=0)
    reserved = models.IntegerField(_("占用"), default=0)
    bin_location = models.CharField(_("库位"), max_length=32, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("库存")
        verbose_name_plural = _("库存")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "warehouse", "sku"], name="stocklevel_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stocklevel_on_hand_nonneg"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stocklevel_reserved_nonneg"),
        ]
        indexes = [models.Index(fields=["tenant", "sku"], name="stocklevel_tenant_sku")]

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def __str__(self) -> str:
        return f"{self.warehouse_id}/{self.sku_id}: {self.on_hand}-{self.reserved}"


class MovementKind(models.TextChoices):
    RECEIVE = "receive", _("采购入库")
    ADJUST = "adjust", _("盘点调整")
    WRITE_OFF = "write_off", _("报损")
    RESERVE = "reserve", _("订单占用")
    RELEASE = "release", _("释放占用")
    SHIP = "ship", _("发货出库")
    RETURN = "return", _("退货入库")
    TRANSFER_OUT = "transfer_out", _("调拨出库")
    TRANSFER_IN = "transfer_in", _("调拨入库")


class StockMovement(TenantOwned):
    """The ledger. Append-only: one row per change of a StockLevel, in the same transaction."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, verbose_name=_("仓库"))
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, verbose_name=_("SKU"))
    kind = models.CharField(_("类型"), max_length=20, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField(_("在库变化"), default=0)
    reserved_delta = models.IntegerField(_("占用变化"), default=0)
    reference = models.CharField(_("关联单据"), max_length=64, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=False)

    class Meta:
        verbose_name = _("库存流水")
        verbose_name_plural = _("库存流水")
        indexes = [models.Index(fields=["tenant", "warehouse", "sku"], name="movement_tenant_wh_sku")]


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", _("占用中")
    SHORT = "short", _("缺货")
    RELEASED = "released", _("已释放")
    CONSUMED = "consumed", _("已出库")


class Reservation(TenantOwned):
    """Stock held for one order line (one row per component SKU and warehouse).

    A shortfall is recorded as a row with status SHORT, no warehouse, and the missing quantity.
    """

    order_id = models.BigIntegerField(_("订单"))
    line_id = models.BigIntegerField(_("订单行"))
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, verbose_name=_("SKU"))
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, null=True, blank=True,
                                  verbose_name=_("仓库"))
    quantity = models.PositiveIntegerField(_("数量"))
    status = models.CharField(_("状态"), max_length=10, choices=ReservationStatus.choices,
                              default=ReservationStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("库存占用")
        verbose_name_plural = _("库存占用")
        indexes = [models.Index(fields=["tenant", "order_id"], name="reservation_tenant_order")]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="reservation_qty_pos")]


__all__ = ["Sku", "SkuComponent", "Warehouse", "StockLevel", "StockMovement", "MovementKind",
           "Reservation", "ReservationStatus"]
