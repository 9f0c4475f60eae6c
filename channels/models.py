"""Marketplace shops, their listings, the raw-payload archive and pull runs."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from oms.crypto import EncryptedJSONField
from oms.models import TenantOwned


class Platform(models.TextChoices):
    TAOBAO = "taobao", _("淘宝/天猫")
    JD = "jd", _("京东")
    PDD = "pdd", _("拼多多")
    DOUYIN = "douyin", _("抖店")
    AMAZON = "amazon", _("亚马逊")
    SHOPIFY = "shopify", _("Shopify")
    WOOCOMMERCE = "woocommerce", _("WooCommerce")
    MANUAL = "manual", _("手工/导入")


class Shop(TenantOwned):
    platform = models.CharField(_("平台"), max_length=20, choices=Platform.choices)
    name = models.CharField(_("店铺名称"), max_length=100)
    platform_shop_id = models.CharField(_("平台店铺ID"), max_length=64, blank=True)
    api_base_url = models.CharField(_("接口地址"), max_length=200, blank=True,
                                   help_text=_("留空使用平台正式网关；演示和测试指向沙箱"))
    credentials = EncryptedJSONField(_("接口凭证"), blank=True, default=dict)
    enabled = models.BooleanField(_("启用同步"), default=True)
    pull_interval_minutes = models.PositiveIntegerField(_("拉单间隔(分钟)"), default=15)
    high_water_mark = models.DateTimeField(_("已同步至"), null=True, blank=True)
    last_pull_at = models.DateTimeField(_("上次拉单"), null=True, blank=True)
    last_pull_error = models.TextField(_("上次错误"), blank=True)
    safety_stock = models.PositiveIntegerField(_("安全库存"), default=0)
    allocation_ratio = models.DecimalField(_("库存分配比例"), max_digits=4, decimal_places=3, default=1,
                                           help_text=_("推送给该店铺的可用库存比例，0–1"))
    # through a tenant-owned table, so the link rows are distributed with the tenant (docs/scale-out.md);
    # write with .set(..., through_defaults={"tenant_id": shop.tenant_id})
    warehouses = models.ManyToManyField("inventory.Warehouse", blank=True, related_name="shops",
                                        through="ShopWarehouse",
                                        verbose_name=_("发货仓"), help_text=_("留空表示所有启用的仓库"))
    # the pull lock: taken with a conditional UPDATE, survives a crashed worker by expiry
    pull_lock_until = models.DateTimeField(null=True, blank=True, editable=False)
    pull_lock_token = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("店铺")
        verbose_name_plural = _("店铺")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="shop_name_unique"),
            models.CheckConstraint(condition=models.Q(allocation_ratio__gte=0, allocation_ratio__lte=1),
                                   name="shop_allocation_ratio_range"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_platform_display()})"


class ShopWarehouse(TenantOwned):
    """A warehouse that ships a shop's orders (Shop.warehouses)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("店铺发货仓")
        verbose_name_plural = _("店铺发货仓")
        constraints = [models.UniqueConstraint(fields=["tenant", "shop", "warehouse"], name="shopwarehouse_unique")]

    def __str__(self) -> str:
        return f"{self.shop_id} -> {self.warehouse_id}"


class Listing(TenantOwned):
    """One sellable item of one shop, as the platform knows it, mapped to our SKU."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="listings", verbose_name=_("店铺"))
    sku = models.ForeignKey("inventory.Sku", on_delete=models.PROTECT, related_name="listings",
                            verbose_name=_("SKU"))
    platform_item_id = models.CharField(_("平台商品ID"), max_length=64)
    platform_sku_id = models.CharField(_("平台SKU ID"), max_length=64, blank=True)
    outer_id = models.CharField(_("平台商家编码"), max_length=64, blank=True)
    push_enabled = models.BooleanField(_("推送库存"), default=True)
    last_pushed_quantity = models.IntegerField(_("上次推送数量"), null=True, blank=True)
    last_pushed_at = models.DateTimeField(_("上次推送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("商品映射")
        verbose_name_plural = _("商品映射")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shop", "platform_item_id", "platform_sku_id"],
                                    name="listing_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "sku"], name="listing_tenant_sku")]

    def __str__(self) -> str:
        return f"{self.shop} {self.platform_item_id}/{self.platform_sku_id}"


class RawOutcome(models.TextChoices):
    PENDING = "pending", _("待处理")
    CREATED = "created", _("已新建")
    UPDATED = "updated", _("已更新")
    UNCHANGED = "unchanged", _("无变化")
    FAILED = "failed", _("处理失败")


class PayloadField(models.JSONField):
    """A JSONField that bulk-inserts as one parameter per row. (Django's UNNEST bulk insert on
    PostgreSQL would pass all payloads as one text array, which psycopg escapes character by
    character in Python -- a fifth of the ingest time for big platform payloads.)"""

    def get_placeholder(self, value, compiler, connection):
        return "%s"


class RawOrder(TenantOwned):
    """Every platform order payload as received, archived before normalisation."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="raw_orders", verbose_name=_("店铺"))
    platform_order_id = models.CharField(_("平台订单号"), max_length=64)
    payload = PayloadField(_("原始报文"))
    payload_hash = models.CharField(_("报文摘要"), max_length=64)
    source = models.CharField(_("来源"), max_length=20, default="pull")
    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True)
    processed_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    outcome = models.CharField(_("结果"), max_length=10, choices=RawOutcome.choices, default=RawOutcome.PENDING)
    error = models.TextField(_("错误"), blank=True)
    attempts = models.PositiveIntegerField(_("处理次数"), default=0)

    class Meta:
        verbose_name = _("原始订单报文")
        verbose_name_plural = _("原始订单报文")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shop", "platform_order_id", "payload_hash"],
                                    name="raworder_unique"),
        ]
        indexes = [
            models.Index(fields=["tenant", "outcome"], name="raworder_tenant_outcome"),
            models.Index(fields=["tenant", "shop", "platform_order_id"], name="raworder_tenant_pid"),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id}:{self.platform_order_id}"


class PullRun(TenantOwned):
    class Status(models.TextChoices):
        RUNNING = "running", _("进行中")
        OK = "ok", _("成功")
        FAILED = "failed", _("失败")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="pull_runs", verbose_name=_("店铺"))
    started_at = models.DateTimeField(_("开始"), auto_now_add=True)
    finished_at = models.DateTimeField(_("结束"), null=True, blank=True)
    window_start = models.DateTimeField(_("窗口开始"), null=True, blank=True)
    window_end = models.DateTimeField(_("窗口结束"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    fetched = models.PositiveIntegerField(_("拉取"), default=0)
    created = models.PositiveIntegerField(_("新建"), default=0)
    updated = models.PositiveIntegerField(_("更新"), default=0)
    unchanged = models.PositiveIntegerField(_("无变化"), default=0)
    failed = models.PositiveIntegerField(_("失败"), default=0)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        verbose_name = _("拉单记录")
        verbose_name_plural = _("拉单记录")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["tenant", "shop", "started_at"], name="pullrun_tenant_shop")]


class ChannelCall(TenantOwned):
    """A log of every outbound call that changes something on a platform (stock push, shipment
    confirmation): what was sent, and what came back."""

    class Kind(models.TextChoices):
        PUSH_STOCK = "push_stock", _("推送库存")
        CONFIRM_SHIPMENT = "confirm_shipment", _("回传发货")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="calls", verbose_name=_("店铺"))
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    listing = models.ForeignKey(Listing, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("商品映射"))
    reference = models.CharField(_("关联"), max_length=64, blank=True)
    quantity = models.IntegerField(_("数量"), null=True, blank=True)
    ok = models.BooleanField(_("成功"), default=False)
    error = models.TextField(_("错误"), blank=True)
    attempt = models.PositiveIntegerField(_("第几次"), default=1)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("平台回写记录")
        verbose_name_plural = _("平台回写记录")
        indexes = [models.Index(fields=["tenant", "shop", "created_at"], name="channelcall_tenant_shop")]
