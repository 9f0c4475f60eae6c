"""SKUs (incl. combos), warehouses, stock levels, the stock ledger and reservations.

Invariant: a StockLevel's on_hand and reserved equal the sums of its StockMovement deltas.
Available = on_hand - reserved. Orders are referenced by id (inventory sits below orders).
"""

from django.conf import settings
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
    #: who or what caused it: the user (when a person did), and the source in the vocabulary of
    #: OrderEvent.actor_label -- "user", "channel:taobao", "import", "seed", "task:<name>", "system".
    #: No index of its own: the ledger is the hottest insert path, and only deleting a user reads it.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", db_index=False, verbose_name=_("操作人"))
    actor_label = models.CharField(_("来源"), max_length=50, blank=True)
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


class ReorderPoint(TenantOwned):
    """Reorder point of a SKU in one warehouse, or over all warehouses (warehouse empty).

    When the available stock there falls to or below `reorder_point`, one LowStockAlert opens."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="reorder_points", verbose_name=_("SKU"))
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="reorder_points", verbose_name=_("仓库"),
                                  help_text=_("留空表示所有仓库合计"))
    reorder_point = models.PositiveIntegerField(_("补货点"))
    reorder_quantity = models.PositiveIntegerField(_("建议补货量"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("补货点")
        verbose_name_plural = _("补货点")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sku", "warehouse"], condition=Q(warehouse__isnull=False),
                                    name="reorderpoint_wh_unique"),
            models.UniqueConstraint(fields=["tenant", "sku"], condition=Q(warehouse__isnull=True),
                                    name="reorderpoint_total_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id}@{self.warehouse_id or '*'} ≤ {self.reorder_point}"


class LowStockAlert(TenantOwned):
    """One open alert per (sku, warehouse-or-total) while available <= the reorder point."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="low_stock_alerts", verbose_name=_("SKU"))
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="+", verbose_name=_("仓库"))
    reorder_point = models.IntegerField(_("补货点"))
    available = models.IntegerField(_("触发时可用"))
    raised_at = models.DateTimeField(_("触发时间"), auto_now_add=True)
    cleared_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    available_at_clear = models.IntegerField(_("解除时可用"), null=True, blank=True)

    class Meta:
        verbose_name = _("低库存预警")
        verbose_name_plural = _("低库存预警")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sku", "warehouse"],
                                    condition=Q(cleared_at__isnull=True, warehouse__isnull=False),
                                    name="lowstockalert_open_wh_unique"),
            models.UniqueConstraint(fields=["tenant", "sku"],
                                    condition=Q(cleared_at__isnull=True, warehouse__isnull=True),
                                    name="lowstockalert_open_total_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "cleared_at"], name="lowstockalert_tenant_open")]

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None

    def __str__(self) -> str:
        return f"{self.sku_id}@{self.warehouse_id or '*'}: {self.available} ≤ {self.reorder_point}"


class StockWriteOff(TenantOwned):
    """A write-off (报损): damaged or lost goods. Goods on the shelf also leave a ledger row
    (kind write_off); goods lost in transit (a transfer closed short) left the ledger when shipped."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, verbose_name=_("仓库"))
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("数量"))
    in_transit = models.BooleanField(_("在途丢失"), default=False)
    reason = models.CharField(_("原因"), max_length=200)
    reference = models.CharField(_("关联单据"), max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("操作人"))
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("报损记录")
        verbose_name_plural = _("报损记录")
        indexes = [models.Index(fields=["tenant", "sku"], name="writeoff_tenant_sku")]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="writeoff_qty_pos")]


class TransferStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SHIPPED = "shipped", _("已发出")
    PARTIALLY_RECEIVED = "partially_received", _("部分到货")
    RECEIVED = "received", _("已到货")
    CLOSED = "closed", _("已关闭(差异报损)")
    DISMISSED = "dismissed", _("已驳回")


class TransferOrder(TenantOwned):
    """调拨单: stock moves from `source` to `destination`. Shipped stock is in transit: it is in
    neither warehouse's on_hand until received."""

    source = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_out",
                               verbose_name=_("调出仓"))
    destination = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_in",
                                    verbose_name=_("调入仓"))
    status = models.CharField(_("状态"), max_length=20, choices=TransferStatus.choices, default=TransferStatus.DRAFT)
    suggested = models.BooleanField(_("系统建议"), default=False)
    accepted_at = models.DateTimeField(_("采纳时间"), null=True, blank=True)
    edited_at = models.DateTimeField(_("人工修改时间"), null=True, blank=True)
    reason = models.TextField(_("原因"), blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("创建人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    shipped_at = models.DateTimeField(_("发出时间"), null=True, blank=True)
    received_at = models.DateTimeField(_("到货时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("调拨单")
        verbose_name_plural = _("调拨单")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(source=models.F("destination")), name="transfer_distinct_warehouses"),
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="transfer_tenant_status")]

    @property
    def number(self) -> str:
        return f"DB{self.pk:08d}" if self.pk else ""

    @property
    def is_pending_suggestion(self) -> bool:
        return self.suggested and self.accepted_at is None and self.status == TransferStatus.DRAFT

    def __str__(self) -> str:
        return self.number


class TransferLine(TenantOwned):
    transfer = models.ForeignKey(TransferOrder, on_delete=models.CASCADE, related_name="lines",
                                 verbose_name=_("调拨单"))
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("数量"))
    received_quantity = models.PositiveIntegerField(_("已到货"), default=0)
    lost_quantity = models.PositiveIntegerField(_("丢失报损"), default=0)

    class Meta:
        verbose_name = _("调拨明细")
        verbose_name_plural = _("调拨明细")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "transfer", "sku"], name="transferline_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="transferline_qty_pos"),
            models.CheckConstraint(condition=Q(received_quantity__lte=models.F("quantity") - models.F("lost_quantity")),
                                   name="transferline_received_le_qty"),
        ]

    @property
    def outstanding(self) -> int:
        return self.quantity - self.received_quantity - self.lost_quantity

    def __str__(self) -> str:
        return f"{self.sku_id} x{self.quantity}"


__all__ = ["Sku", "SkuComponent", "Warehouse", "StockLevel", "StockMovement", "MovementKind",
           "Reservation", "ReservationStatus", "ReorderPoint", "LowStockAlert", "StockWriteOff", "TransferStatus",
           "TransferOrder", "TransferLine"]
