"""CSV / XLSX import and export of stock levels and reorder points (django-import-export).

Columns: warehouse (warehouse code), sku (SKU code), on_hand (the COUNTED quantity), and an
optional reorder_point; the export adds sku_name, reserved and available (ignored on import).

An import is a stock count: each row goes through inventory.services.stock_count (and
reorder_point_set), so the ledger stays complete. It is all-or-nothing: one bad row (unknown
warehouse / SKU of this tenant, negative or non-integer quantity, below the reserved stock,
a duplicate row) is reported with its line number and nothing is written. Re-importing the same
file changes nothing (no ledger rows): a count equal to on_hand is a no-op. The ledger rows name
the importing user (`actor`) and the source "import".
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from . import selectors, services
from .models import Sku, StockLevel, Warehouse


def _int(value, *, line: int, label: str, required: bool) -> int | None:
    text = "" if value is None else str(value).strip()
    if text == "":
        if required:
            raise ValidationError(_("第 %(line)s 行：%(label)s 不能为空") % {"line": line, "label": label})
        return None
    try:
        number = float(text) if "." in text else int(text)
    except ValueError:
        number = None
    if number is None or number != int(number):
        raise ValidationError(_("第 %(line)s 行：%(label)s “%(value)s” 不是整数") % {
            "line": line, "label": label, "value": text})
    number = int(number)
    if number < 0:
        raise ValidationError(_("第 %(line)s 行：%(label)s 不能为负数") % {"line": line, "label": label})
    return number


class StockLevelResource(resources.ModelResource):
    warehouse = fields.Field(attribute="warehouse", column_name="warehouse",
                             widget=widgets.ForeignKeyWidget(Warehouse, "code"))
    sku = fields.Field(attribute="sku", column_name="sku", widget=widgets.ForeignKeyWidget(Sku, "code"))
    sku_name = fields.Field(attribute="sku__name", column_name="sku_name", readonly=True)
    on_hand = fields.Field(attribute="on_hand", column_name="on_hand", widget=widgets.IntegerWidget())
    reserved = fields.Field(attribute="reserved", column_name="reserved", readonly=True)
    available = fields.Field(column_name="available", readonly=True)
    reorder_point = fields.Field(column_name="reorder_point")

    class Meta:
        model = StockLevel
        fields = ("warehouse", "sku", "sku_name", "on_hand", "reserved", "available", "reorder_point")
        export_order = fields
        import_id_fields = ("warehouse", "sku")
        use_transactions = True
        skip_unchanged = False
        clean_model_instances = False

    def __init__(self, tenant_id: int | None = None, actor=None, **kwargs):
        # import-export builds field lists with a bare StockLevelResource(); without a tenant every
        # lookup filters on tenant_id=None and finds nothing, so nothing can leak.
        super().__init__(**kwargs)
        self.tenant_id = tenant_id
        self.actor = actor if getattr(actor, "pk", None) else None  # the importing user
        self._points: dict[tuple[int, int], int] | None = None
        self._seen: dict[tuple[int, int], int] = {}
        self._parsed: dict[int, dict] = {}
        self._row_number: int | None = None

    # --- export -------------------------------------------------------------------------------
    def get_queryset(self):
        return StockLevel.objects.filter(tenant_id=self.tenant_id).select_related("warehouse", "sku") \
            .order_by("warehouse__code", "sku__code")

    def filter_export(self, queryset, **kwargs):
        return queryset.filter(tenant_id=self.tenant_id).select_related("warehouse", "sku")

    def _reorder_points(self) -> dict[tuple[int, int], int]:
        if self._points is None:
            self._points = selectors.reorder_points_by_level(tenant_id=self.tenant_id)
        return self._points

    def dehydrate_available(self, level: StockLevel) -> int:
        return level.on_hand - level.reserved

    def dehydrate_reorder_point(self, level: StockLevel):
        return self._reorder_points().get((level.warehouse_id, level.sku_id), "")

    # --- import -------------------------------------------------------------------------------
    def import_data(self, dataset, *args, **kwargs):
        kwargs["use_transactions"] = True
        kwargs["rollback_on_validation_errors"] = True  # all or nothing
        return super().import_data(dataset, *args, **kwargs)

    def before_import(self, dataset, **kwargs):
        self._seen, self._parsed = {}, {}
        missing = [c for c in ("warehouse", "sku", "on_hand") if c not in (dataset.headers or [])]
        if missing:
            raise ValidationError(_("缺少列：%(cols)s") % {"cols": ", ".join(missing)})

    def before_import_row(self, row, row_number=None, **kwargs):
        line = (row_number or 0) + 1  # the header is line 1
        wh_code = str(row.get("warehouse") or "").strip()
        sku_code = str(row.get("sku") or "").strip()
        errors = {}
        warehouse = Warehouse.objects.filter(tenant_id=self.tenant_id, code=wh_code).first() if wh_code else None
        if warehouse is None:
            errors["warehouse"] = _("第 %(line)s 行：未知仓库编码 “%(code)s”") % {"line": line, "code": wh_code}
        sku = Sku.objects.filter(tenant_id=self.tenant_id, code=sku_code).first() if sku_code else None
        if sku is None:
            errors["sku"] = _("第 %(line)s 行：未知 SKU 编码 “%(code)s”") % {"line": line, "code": sku_code}
        elif sku.is_combo:
            errors["sku"] = _("第 %(line)s 行：组合装 “%(code)s” 没有自己的库存") % {"line": line, "code": sku_code}
        counted = point = None
        try:
            counted = _int(row.get("on_hand"), line=line, label=_("在库数量"), required=True)
        except ValidationError as exc:
            errors["on_hand"] = exc.messages[0]
        try:
            point = _int(row.get("reorder_point"), line=line, label=_("补货点"), required=False)
        except ValidationError as exc:
            errors["reorder_point"] = exc.messages[0]
        if warehouse is not None and sku is not None:
            key = (warehouse.pk, sku.pk)
            if key in self._seen:
                errors["sku"] = _("第 %(line)s 行：与第 %(first)s 行重复") % {"line": line, "first": self._seen[key]}
            self._seen.setdefault(key, line)
        if errors:
            raise ValidationError(errors)
        self._parsed[row_number] = {"warehouse": warehouse, "sku": sku, "counted": counted, "point": point,
                                    "line": line}

    def get_or_init_instance(self, instance_loader, row):
        parsed = self._current
        level = StockLevel.objects.filter(tenant_id=self.tenant_id, warehouse=parsed["warehouse"],
                                          sku=parsed["sku"]).first()
        if level is not None:
            return level, False
        return StockLevel(tenant_id=self.tenant_id, warehouse=parsed["warehouse"], sku=parsed["sku"]), True

    def import_row(self, row, instance_loader, **kwargs):
        self._row_number = kwargs.get("row_number")  # the hooks below work on this row's parsed values
        return super().import_row(row, instance_loader, **kwargs)

    def import_instance(self, instance, row, **kwargs):
        instance.on_hand = self._current["counted"]  # shown in the preview's diff

    def save_instance(self, instance, is_create, row, **kwargs):
        parsed = self._current
        try:
            level = services.stock_count(tenant_id=self.tenant_id, warehouse_id=parsed["warehouse"].pk,
                                         sku_id=parsed["sku"].pk, counted=parsed["counted"],
                                         reference=_("导入盘点"), actor=self.actor, actor_label="import")
            if parsed["point"] is not None:
                services.reorder_point_set(tenant_id=self.tenant_id, sku_id=parsed["sku"].pk,
                                           warehouse_id=parsed["warehouse"].pk, reorder_point=parsed["point"])
        except services.StockError as exc:
            raise ValidationError({"on_hand": _("第 %(line)s 行：%(error)s") % {"line": parsed["line"], "error": exc}})
        instance.pk, instance.on_hand, instance.reserved = level.pk, level.on_hand, level.reserved
        self._points = None

    @property
    def _current(self) -> dict:
        return self._parsed[self._row_number]
