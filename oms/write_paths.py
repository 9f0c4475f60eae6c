"""Who may write each field of every model the admin shows: a service, or the admin itself.

One declaration per model (`WRITE_PATHS`), read by the admin (oms/admin_base.py makes the
service-owned fields read-only, links each to the page where its action lives, and saves only the
other fields) and by tests/oms/test_admin_write_paths.py (which walks every ModelAdmin and fails on
an editable field a service owns, and on any field of an admin model listed nowhere here).

- `owned`: field -> the service that changes it (dotted path, imported by the test). Such a field
  is read-only in every admin form: its change must be refused in some states, or write a timeline
  or ledger row, or re-run review. `"*"` stands for every field not listed otherwise (ledgers,
  archives, timelines: written by the system only).
- `editable`: fields no service owns (configuration, master data): the admin edits them.
- `saved_by`: the admin saves this model through that service (its save_model / save_related
  calls it: the mapping is re-applied, availability re-pushed ...); the fields that service owns
  may be entered in the add form.
- `page`: where the actions are (an URL name and the attribute giving its argument).

A new model field is one line here; a field listed nowhere is read-only in the admin and fails
the test with its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

ALL = "*"


@dataclass(frozen=True)
class Page:
    url_name: str
    arg: str | None  # attribute of the object passed to reverse(), None: no argument
    label: str

    def url(self, obj) -> str | None:
        if self.arg is None:
            return reverse(self.url_name)
        value = obj
        for attr in self.arg.split("."):  # "pk", "order_id", "return_request.order_id"
            value = getattr(value, attr, None)
        try:
            return reverse(self.url_name, args=[value]) if value is not None else None
        except NoReverseMatch:
            return None


@dataclass(frozen=True)
class WritePaths:
    owned: dict[str, str] = field(default_factory=dict)
    editable: frozenset[str] = frozenset()
    saved_by: str = ""
    page: Page | None = None


def _e(*names: str) -> frozenset[str]:
    return frozenset(names)


def _same(service: str, *names: str) -> dict[str, str]:
    return dict.fromkeys(names, service)


ORDER_PAGE = Page("orders:detail", "pk", _("订单页面"))
ORDER_PAGE_OF = Page("orders:detail", "order_id", _("订单页面"))
SHIPMENT_PAGE_OF = Page("logistics:shipment_detail", "shipment_id", _("包裹页面"))
INGEST = "orders.services.order_ingest"
RECEIVER = "orders.services.order_change_receiver"
ORD = "orders.services."
INV = "inventory.services."
LOG = "logistics.services."
CH = "channels.services."

WRITE_PATHS: dict[str, WritePaths] = {
    # --- oms (platform operators and tenant owners) -------------------------------------------------
    "oms.Tenant": WritePaths(editable=_e("name", "slug", "auto_approve", "default_currency")),
    "oms.Membership": WritePaths(editable=_e("tenant", "user", "role")),
    # --- orders ------------------------------------------------------------------------------------
    "orders.Order": WritePaths(page=ORDER_PAGE, owned={
        **_same(INGEST, "shop", "platform", "platform_order_id", "platform_status", "buyer_nick", "buyer_email",
                "receiver_country", "receiver_oaid", "currency", "goods_amount", "shipping_amount",
                "discount_amount", "paid_amount", "placed_at", "paid_at", "platform_modified_at", "buyer_note",
                "seller_note", "fulfilled_by_platform"),
        **_same(RECEIVER, "receiver_name", "receiver_phone", "receiver_province", "receiver_city",
                "receiver_district", "receiver_address", "receiver_postcode"),
        "status": ORD + "order_transition",
        "urgent": ORD + "order_set_urgent",
        "warehouse": ORD + "order_allocate",
        "kind": ORD + "order_merge",
    }),
    "orders.OrderLine": WritePaths(page=ORDER_PAGE_OF, owned={
        **_same(INGEST, "order", "platform_line_id", "platform_item_id", "platform_sku_id", "outer_sku_id", "title",
                "quantity", "unit_price", "amount", "refund_status", "refund_reason", "is_gift", "gift_rule"),
        **_same(ORD + "order_line_map", "sku", "sku_by_hand"),
        "source_line": ORD + "order_split",
    }),
    "orders.Hold": WritePaths(page=ORDER_PAGE_OF, owned={
        **_same(ORD + "order_hold", "order", "reason", "detail", "until"),
        **_same(ORD + "hold_resolve", "resolved_at", "resolved_by", "resolution_note", "auto_released"),
    }),
    "orders.OrderEvent": WritePaths(page=ORDER_PAGE_OF, owned={ALL: "orders.services"}),
    "orders.OrderSource": WritePaths(page=ORDER_PAGE_OF, owned={ALL: ORD + "order_merge"}),
    "orders.ReturnRequest": WritePaths(page=ORDER_PAGE_OF, owned={
        **_same(ORD + "return_request_create", "order", "kind", "reason", "source", "currency", "created_by"),
        "status": ORD + "return_receive",
        "note": ORD + "return_inspect",
        "refund_amount": ORD + "return_set_refund",
        "warehouse": ORD + "return_restock",
        "exchange_order": ORD + "return_create_exchange",
    }),
    "orders.ReturnLine": WritePaths(page=Page("orders:detail", "return_request.order_id", _("订单页面")),
                                    owned={ALL: ORD + "return_request_create"}),
    "orders.ReviewRule": WritePaths(owned={"code": "orders.rules.rule_settings"}, editable=_e("enabled", "threshold")),
    "orders.OrderSettings": WritePaths(editable=_e("auto_allocate", "allow_split", "auto_merge")),
    "orders.Blacklist": WritePaths(editable=_e("kind", "value", "note")),
    "orders.GiftRule": WritePaths(editable=_e("name", "shop", "starts_at", "ends_at", "trigger_sku", "trigger_quantity",
                                              "min_paid_amount", "gift_sku", "gift_quantity", "per_quantity",
                                              "enabled")),
    # --- inventory ---------------------------------------------------------------------------------
    "inventory.Sku": WritePaths(saved_by=INV + "sku_saved", editable=_e(
        "code", "name", "barcode", "is_combo", "reference_price", "currency", "weight_grams", "active")),
    "inventory.SkuComponent": WritePaths(saved_by=INV + "sku_saved", editable=_e("combo", "component", "quantity")),
    "inventory.Warehouse": WritePaths(editable=_e("code", "name", "province", "city", "address", "contact_name",
                                                  "contact_phone", "regions", "priority", "active")),
    "inventory.StockLevel": WritePaths(
        page=Page("admin:inventory_stocklevel_import", None, _("库存导入（盘点）")),
        owned={**_same(INV + "stock_receive", "warehouse", "sku"), "on_hand": INV + "stock_count",
               "reserved": INV + "stock_reserve_order"},
        editable=_e("bin_location")),
    "inventory.StockMovement": WritePaths(owned={ALL: "inventory.services"}),
    "inventory.Reservation": WritePaths(page=ORDER_PAGE_OF, owned={ALL: INV + "stock_reserve_order"}),
    "inventory.ReorderPoint": WritePaths(saved_by=INV + "reorder_point_set",
                                         editable=_e("sku", "warehouse", "reorder_point", "reorder_quantity")),
    "inventory.LowStockAlert": WritePaths(page=Page("inventory:low_stock", None, _("低库存页面")),
                                          owned={ALL: INV + "low_stock_evaluate"}),
    "inventory.StockWriteOff": WritePaths(owned={ALL: INV + "stock_write_off"}),
    "inventory.TransferOrder": WritePaths(
        saved_by=INV + "transfer_create", page=Page("inventory:transfer_detail", "pk", _("调拨单页面")), owned={
            **_same(INV + "transfer_create", "source", "destination", "created_by"),
            **_same(INV + "transfer_suggest", "suggested", "reason"),
            "status": INV + "transfer_ship",
            "accepted_at": INV + "transfer_accept",
            "edited_at": INV + "transfer_update_lines",
            "shipped_at": INV + "transfer_ship",
            "received_at": INV + "transfer_receive",
            "closed_at": INV + "transfer_close",
        }, editable=_e("note")),
    "inventory.TransferLine": WritePaths(
        saved_by=INV + "transfer_create", page=Page("inventory:transfer_detail", "transfer_id", _("调拨单页面")),
        owned={**_same(INV + "transfer_create", "transfer", "sku", "quantity"),
               "received_quantity": INV + "transfer_receive", "lost_quantity": INV + "transfer_close"}),
    # --- channels ----------------------------------------------------------------------------------
    "channels.Shop": WritePaths(
        owned=_same(CH + "shop_pull", "high_water_mark", "last_pull_at", "last_pull_error"),
        # credentials: write-only (a new value replaces them; the stored ones are never sent back)
        editable=_e("platform", "name", "platform_shop_id", "api_base_url", "credentials", "enabled",
                    "pull_interval_minutes", "safety_stock", "allocation_ratio", "warehouses")),
    "channels.Listing": WritePaths(
        saved_by=CH + "listing_saved", owned=_same(CH + "listing_push", "last_pushed_quantity", "last_pushed_at"),
        editable=_e("shop", "sku", "platform_item_id", "platform_sku_id", "outer_id", "push_enabled")),
    "channels.RawOrder": WritePaths(owned={ALL: CH + "raw_archive"}),
    "channels.ChannelCall": WritePaths(owned={ALL: CH + "listing_push"}),
    "channels.PullRun": WritePaths(owned={ALL: CH + "shop_pull"}),
    # --- logistics ---------------------------------------------------------------------------------
    "logistics.Carrier": WritePaths(editable=_e("code", "name", "kuaidi100_code", "cainiao_code")),
    "logistics.CarrierRule": WritePaths(editable=_e(
        "name", "priority", "enabled", "urgent", "buyer_express_keywords", "provinces", "remote", "min_weight_grams",
        "max_weight_grams", "min_order_value", "max_order_value", "shop", "strategy", "carrier", "service")),
    "logistics.CarrierService": WritePaths(editable=_e("carrier", "code", "name", "promised_hours", "product_code",
                                                       "is_default")),
    "logistics.CarrierRate": WritePaths(editable=_e("carrier", "service", "zone", "provinces", "first_weight_grams",
                                                    "first_price", "additional_weight_grams", "additional_price",
                                                    "currency")),
    "logistics.LogisticsSettings": WritePaths(editable=_e("remote_provinces", "default_parcel_grams",
                                                          "packaging_grams", "scorecard_days")),
    "logistics.CarrierAccount": WritePaths(editable=_e("provider", "name", "api_base_url", "credentials", "enabled")),
    "logistics.Shipment": WritePaths(page=Page("logistics:shipment_detail", "pk", _("包裹页面")), owned={
        **_same(LOG + "shipment_prepare", "order", "warehouse", "weight_grams"),
        **_same(LOG + "shipment_override", "carrier", "service", "choice_explanation", "overridden"),
        **_same(LOG + "waybill_request", "tracking_number", "waybill_provider", "print_data", "last_error"),
        **_same(LOG + "shipment_ship", "status", "shipped_at"),
        **_same(LOG + "tracking_record", "delivered_at", "last_polled_at", "next_poll_at", "poll_count",
                "quiet_polls"),
        "cancelled_at": LOG + "waybill_cancel",
    }),
    "logistics.ShipmentLine": WritePaths(page=SHIPMENT_PAGE_OF, owned={ALL: LOG + "shipment_prepare"}),
    "logistics.TrackingEvent": WritePaths(page=SHIPMENT_PAGE_OF, owned={ALL: LOG + "tracking_record"}),
    "logistics.BulkShipJob": WritePaths(page=Page("logistics:bulk_job", "pk", _("一键发货任务页面")),
                                        owned={ALL: LOG + "bulk_ship_run"}),
    # --- notifications -----------------------------------------------------------------------------
    "notifications.Notification": WritePaths(page=Page("notifications:detail", "pk", _("通知页面")),
                                             owned={ALL: "notifications.services.notification_enqueue"}),
    "notifications.NotificationTemplate": WritePaths(editable=_e(
        "event", "channel", "enabled", "subject", "body", "sms_template_code", "sms_params")),
    "notifications.Contact": WritePaths(editable=_e("name", "email", "phone", "is_purchasing", "active")),
    "notifications.SmsAccount": WritePaths(editable=_e("provider", "sign_name", "credentials", "api_base_url",
                                                       "region_id", "enabled")),
}

#: what a person does on the model's page to change a field of that service (the field's link)
ACTIONS: dict[str, str] = {
    RECEIVER: _("修改收件信息"),
    ORD + "order_set_urgent": _("加急 / 取消加急"),
    ORD + "order_transition": _("审核、挂起、取消"),
    ORD + "order_allocate": _("分仓"),
    ORD + "order_hold": _("挂起"),
    ORD + "hold_resolve": _("解除挂起（地址冲突：保留本地或采用平台）"),
    ORD + "order_line_map": _("人工匹配商品"),
    ORD + "return_receive": _("售后处理：收货、质检、入库、报损"),
    ORD + "return_inspect": _("质检说明"),
    ORD + "return_set_refund": _("记录退款金额"),
    ORD + "return_restock": _("退货入库"),
    ORD + "return_create_exchange": _("创建换货单"),
    INV + "stock_count": _("盘点导入"),
    INV + "transfer_ship": _("采纳、发出、到货、关闭"),
    INV + "transfer_update_lines": _("修改数量"),
    LOG + "shipment_override": _("改派快递"),
    LOG + "shipment_ship": _("标记发货"),
    LOG + "waybill_cancel": _("取消面单"),
}

MODULE_FILE = "oms/write_paths.py"
UNCLASSIFIED = f"(listed nowhere in {MODULE_FILE})"


def label(model) -> str:
    return model._meta.label


def entry(model) -> WritePaths | None:
    return WRITE_PATHS.get(label(model))


def field_names(model) -> list[str]:
    """The fields a form could edit: editable concrete and many-to-many fields (not the pk)."""
    opts = model._meta
    return [f.name for f in [*opts.concrete_fields, *opts.many_to_many]
            if f.editable and not f.primary_key]


def owned(model, *, adding: bool = False) -> dict[str, str]:
    """field -> service of the fields that are read-only in the admin. A field (or model) listed
    nowhere is read-only too, until it is classified (the test names it). In an add form, the
    creating service's own fields are entered (it saves them)."""
    paths = entry(model) or WritePaths()
    out = {}
    for name in field_names(model):
        if name in paths.editable:
            continue
        service = paths.owned.get(name) or paths.owned.get(ALL) or UNCLASSIFIED
        if not (adding and paths.saved_by and service == paths.saved_by):
            out[name] = service
    return out


def problems(model, registry: dict[str, WritePaths] | None = None) -> list[str]:
    """What is wrong with a model's declaration: fields listed nowhere or twice, unknown names."""
    registry = WRITE_PATHS if registry is None else registry
    paths = registry.get(label(model))
    names = field_names(model)
    if paths is None:
        return [f"{label(model)} is shown in the admin but has no entry in {MODULE_FILE}: list its fields "
                f"{sorted(names)} as `owned` (field -> the service that changes it) or `editable`"]
    out = []
    listed = set(paths.owned) - {ALL}
    for name in names:
        if name in listed and name in paths.editable:
            out.append(f"{label(model)}.{name} is both service-owned and editable in {MODULE_FILE}")
        elif name not in listed and name not in paths.editable and ALL not in paths.owned:
            out.append(f"{label(model)}.{name} is listed nowhere in {MODULE_FILE}: add it to WRITE_PATHS"
                       f"[{label(model)!r}] as owned (\"{name}\": \"<app>.services.<the service that changes it>\") "
                       f"or as editable (no service owns it)")
    for name in sorted((listed | paths.editable) - set(names)):
        out.append(f"{label(model)}: {MODULE_FILE} names {name!r}, which is no editable field of the model")
    return out


def resolve(path: str):
    """The service a dotted path names (a module or a callable in it); raises when it is gone."""
    try:
        return import_module(path)
    except ModuleNotFoundError:
        module, _dot, attr = path.rpartition(".")
        return getattr(import_module(module), attr)


def page_url(model, obj) -> tuple[str, str] | None:
    paths = entry(model)
    if obj is None or paths is None or paths.page is None:
        return None
    url = paths.page.url(obj)
    return (url, str(paths.page.label)) if url else None


def help_texts(model, obj) -> dict[str, str]:
    """A link per read-only field whose change is a person's action on the model's page."""
    link = page_url(model, obj)
    if link is None:
        return {}
    url, page_label = link
    return {name: format_html('<a href="{}">{}：{}</a>', url, page_label, ACTIONS[service])
            for name, service in owned(model).items() if service in ACTIONS}


def admin_update_fields(obj) -> list[str]:
    """The columns an admin save of an existing row writes: never a service-owned one (a stale
    copy would undo what a service wrote meanwhile), never a non-editable one (locks, snapshots);
    the auto_now timestamps with them. Empty: nothing for the admin to write."""
    model = type(obj)
    skip = set(owned(model))
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and f.name != "tenant"]
    names = [f.name for f in fields if f.editable and f.name not in skip and not getattr(f, "auto_now", False)]
    return [*names, *(f.name for f in fields if getattr(f, "auto_now", False))] if names else []


__all__ = ["ALL", "WRITE_PATHS", "ACTIONS", "Page", "WritePaths", "admin_update_fields", "entry", "field_names",
           "help_texts", "owned", "page_url", "problems", "resolve"]
