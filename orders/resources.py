"""Imports (CSV / XLSX) of orders from other channels, SKUs, SKU mappings and stock levels.

One shape for every kind: the file is read once (UTF-8, UTF-8 with BOM, GBK / GB18030 or XLSX;
headers in Chinese or English), every row is validated and every problem listed with its line,
column and message; nothing is written unless every row is valid, and then everything is
written in one transaction. Re-importing the same file changes nothing:

- orders: rows are lines, grouped by order number, into CanonicalOrders for the tenant's "manual"
  shop (created on demand), ingested by the page path orders.services.orders_ingest_many (new
  orders in bulk; known ones through order_ingest); an order's modified time comes from the
  file, so a re-import is an "unchanged" no-op of the ingest service;
- SKUs (inventory.Sku) and SKU mappings (channels.Listing): upserts that skip unchanged rows;
  a new or changed mapping re-processes the orders held for it (channels.services.listing_saved);
- stock levels: inventory.resources.StockLevelResource (django-import-export) does the counting.

Files above BACKGROUND_ROWS rows run in a Celery task with an ImportJob (progress page).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import tablib
from celery import shared_task
from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from inventory.models import Sku
from oms.generic_views import FileProblem, GenericImportView, read_rows, template_response
from oms.models import ImportJob
from oms.roles import Area
from oms.views_base import TenantDetailView, TenantViewMixin

from .canonical import CanonicalLine, CanonicalOrder, PlatformState
from .services import orders_ingest_many

logger = logging.getLogger(__name__)

BACKGROUND_ROWS = 2000
#: orders per orders_ingest_many call when importing
IMPORT_PAGE = 500
MANUAL_PLATFORM = "manual"


@dataclass
class ImportColumn:
    key: str
    zh: str
    en: str
    required: bool = False
    help: str = ""


@dataclass
class RowError:
    line: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "message": self.message}


@dataclass
class ImportReport:
    kind: str
    encoding: str = ""
    total_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[int], None]


class Importer:
    kind = ""
    label = ""
    columns: list[ImportColumn] = []

    def template_headers(self, lang: str) -> list[str]:
        return [c.zh if lang == "zh" else c.en for c in self.columns]

    def map_header(self, header: list[str]) -> tuple[dict[str, int], list[RowError]]:
        """column key -> index; a header cell may be the Chinese or the English name."""
        names = {}
        for c in self.columns:
            for alias in (c.key, c.zh, c.en):
                names[_norm(alias)] = c.key
        index, errors = {}, []
        for i, h in enumerate(header):
            key = names.get(_norm(h))
            if key is None:
                continue
            if key in index:
                errors.append(RowError(1, h, _("列重复")))
            index[key] = i
        for c in self.columns:
            if c.required and c.key not in index:
                errors.append(RowError(1, c.zh, _("缺少必填列“%(zh)s”（%(en)s）") % {"zh": c.zh, "en": c.en}))
        return index, errors

    def column_label(self, key: str) -> str:
        c = next((c for c in self.columns if c.key == key), None)
        return c.zh if c else key

    def validate(self, *, tenant_id: int, rows: list[tuple[int, dict]], progress: Progress) -> tuple[object, list[RowError]]:
        raise NotImplementedError

    def apply(self, *, tenant_id: int, plan, actor, progress: Progress) -> dict:
        raise NotImplementedError


def _norm(text: str) -> str:
    return "".join(str(text or "").lower().split()).replace("_", "").replace("（", "(").replace("）", ")")


# --- value parsing ------------------------------------------------------------------------------
SHANGHAI = ZoneInfo("Asia/Shanghai")
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d",
                "%Y-%m-%dT%H:%M:%S")


def parse_datetime(text: str) -> datetime:
    for fmt in DATE_FORMATS:
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return dt.replace(tzinfo=SHANGHAI)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_("时间“%(v)s”格式不正确，应为 2024-05-01 10:30:00") % {"v": text}) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=SHANGHAI)


def parse_decimal(text: str, *, allow_negative: bool = False) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").replace("¥", "").replace("￥", ""))
    except InvalidOperation:
        raise ValueError(_("“%(v)s”不是有效的金额") % {"v": text}) from None
    if not value.is_finite():
        raise ValueError(_("“%(v)s”不是有效的金额") % {"v": text})
    if value < 0 and not allow_negative:
        raise ValueError(_("金额不能为负数"))
    return value.quantize(Decimal("0.01"))


def parse_positive_int(text: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("“%(v)s”不是整数") % {"v": text}) from None
    if value != value.to_integral_value():
        raise ValueError(_("“%(v)s”不是整数") % {"v": text})
    if value <= 0:
        raise ValueError(_("数量必须是正整数"))
    return int(value)


def parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("", "0", "否", "no", "n", "false", "f"):
        return False
    if t in ("1", "是", "yes", "y", "true", "t"):
        return True
    raise ValueError(_("“%(v)s”应为 是/否") % {"v": text})


@functools.lru_cache(maxsize=8192)  # every line of an order repeats its phone
def valid_phone(text: str) -> bool:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


# --- orders ---------------------------------------------------------------------------------------
STATES = {
    "paid": PlatformState.PAID, "已付款": PlatformState.PAID, "待发货": PlatformState.PAID,
    "unpaid": PlatformState.UNPAID, "待付款": PlatformState.UNPAID,
    "shipped": PlatformState.SHIPPED, "已发货": PlatformState.SHIPPED,
    "completed": PlatformState.COMPLETED, "已完成": PlatformState.COMPLETED, "已签收": PlatformState.COMPLETED,
    "cancelled": PlatformState.CANCELLED, "已取消": PlatformState.CANCELLED,
}
#: order-level columns: later rows of an order may leave them blank; filled ones must agree
ORDER_FIELDS = ("placed_at", "paid_at", "modified_at", "state", "buyer_nick", "receiver_name", "receiver_phone",
                "province", "city", "district", "address", "postcode", "shipping", "discount", "paid_amount", "currency",
                "buyer_note", "seller_note", "urgent")


class OrderImporter(Importer):
    kind = "orders"
    label = gettext_lazy("订单")
    columns = [
        ImportColumn("order_no", "订单号", "order_no", True, gettext_lazy("同一订单的多行用同一个订单号")),
        ImportColumn("line_no", "子单号", "line_no", False, gettext_lazy("留空时用 SKU 编码")),
        ImportColumn("placed_at", "下单时间", "placed_at", True, gettext_lazy("例如 2024-05-01 10:30:00（北京时间）")),
        ImportColumn("paid_at", "付款时间", "paid_at", False, gettext_lazy("已付款订单留空时取下单时间")),
        ImportColumn("state", "订单状态", "state", False, gettext_lazy("已付款/待付款/已发货/已完成/已取消，默认已付款")),
        ImportColumn("buyer_nick", "买家昵称", "buyer_nick"),
        ImportColumn("receiver_name", "收件人", "receiver_name", True),
        ImportColumn("receiver_phone", "收件人电话", "receiver_phone", True),
        ImportColumn("province", "省", "province", True),
        ImportColumn("city", "市", "city", True),
        ImportColumn("district", "区县", "district"),
        ImportColumn("address", "详细地址", "address", True),
        ImportColumn("postcode", "邮编", "postcode"),
        ImportColumn("sku", "SKU编码", "sku", True, gettext_lazy("本系统的商家编码，必须已存在")),
        ImportColumn("title", "商品名称", "title"),
        ImportColumn("quantity", "数量", "quantity", True),
        ImportColumn("unit_price", "单价", "unit_price", True),
        ImportColumn("shipping", "运费", "shipping"),
        ImportColumn("discount", "优惠", "discount"),
        ImportColumn("paid_amount", "实付金额", "paid_amount", False, gettext_lazy("留空时按 商品金额+运费−优惠 计算")),
        ImportColumn("currency", "币种", "currency", False, gettext_lazy("默认租户币种，例如 CNY")),
        ImportColumn("buyer_note", "买家留言", "buyer_note"),
        ImportColumn("seller_note", "卖家备注", "seller_note"),
        ImportColumn("urgent", "加急", "urgent", False, gettext_lazy("是/否")),
        ImportColumn("modified_at", "修改时间", "modified_at", False,
                     gettext_lazy("改了已导入的订单时填写更晚的时间，留空表示不变")),
    ]

    def validate(self, *, tenant_id, rows, progress):
        errors: list[RowError] = []
        codes = {r.get("sku", "") for _line, r in rows if r.get("sku")}
        skus = dict(Sku.objects.filter(tenant_id=tenant_id, code__in=codes).values_list("code", "pk")) if codes else {}
        Tenant = apps.get_model("oms", "Tenant")
        default_currency = Tenant.objects.filter(pk=tenant_id).values_list("default_currency", flat=True).first() or "CNY"
        orders: OrderedDict[str, dict] = OrderedDict()
        seen_lines: dict[tuple[str, str], int] = {}
        first_rows: dict[str, tuple[int, dict]] = {}
        for n, (line, row) in enumerate(rows):
            if n % 500 == 0:
                progress(n)
            errs: list[RowError] = []
            order_no = row.get("order_no", "")
            inherited: set[str] = set()
            if order_no in first_rows:
                first_line, first = first_rows[order_no]
                for col in ORDER_FIELDS:
                    if row.get(col) and row[col] != first.get(col, ""):
                        errs.append(RowError(line, self.column_label(col), _("与订单 %(o)s 第 %(first)s 行不一致") % {
                            "o": order_no, "first": first_line}))
                inherited = {col for col in ORDER_FIELDS if not row.get(col)}  # their problems show on the first row
                row = {**row, **{col: first.get(col, "") for col in ORDER_FIELDS}}
            elif order_no:
                first_rows[order_no] = (line, row)

            def err(col: str, msg: str, _line=line, _errs=errs, _inherited=inherited):
                if col in _inherited:
                    _errs.append(RowError(0, "", ""))  # counts as a problem of the order; reported on its first row
                    return
                _errs.append(RowError(_line, self.column_label(col), msg))

            def need(col: str, _row=row, _err=err) -> str:
                value = _row.get(col, "")
                if not value:
                    _err(col, _("不能为空"))
                return value

            order_no = need("order_no")
            values: dict = {}
            for col in ("receiver_name", "province", "city", "address"):
                values[col] = need(col)
            phone = need("receiver_phone")
            if phone and not valid_phone(phone):
                err("receiver_phone", _("电话号码“%(v)s”无效") % {"v": phone})
            values["receiver_phone"] = phone
            for col in ("placed_at", "paid_at", "modified_at"):
                text = row.get(col, "")
                values[col] = None
                if col == "placed_at" and not text:
                    err(col, _("不能为空"))
                elif text:
                    try:
                        values[col] = parse_datetime(text)
                    except ValueError as exc:
                        err(col, str(exc))
            state_text = row.get("state", "")
            values["state"] = STATES.get(state_text.lower() if state_text.isascii() else state_text,
                                         PlatformState.PAID if not state_text else None)
            if values["state"] is None:
                err("state", _("未知订单状态“%(v)s”") % {"v": state_text})
            for col in ("shipping", "discount", "paid_amount"):
                text = row.get(col, "")
                values[col] = None
                if text:
                    try:
                        values[col] = parse_decimal(text)
                    except ValueError as exc:
                        err(col, str(exc))
            try:
                values["urgent"] = parse_bool(row.get("urgent", ""))
            except ValueError as exc:
                err("urgent", str(exc))
            currency = (row.get("currency", "") or default_currency).upper()
            if len(currency) != 3 or not currency.isalpha():
                err("currency", _("币种“%(v)s”应为三位字母代码，例如 CNY") % {"v": currency})
            values["currency"] = currency
            for col in ("buyer_nick", "district", "postcode", "buyer_note", "seller_note"):
                values[col] = row.get(col, "")

            sku_code = need("sku")
            sku_id = skus.get(sku_code) if sku_code else None
            if sku_code and sku_id is None:
                err("sku", _("未知 SKU 编码“%(v)s”") % {"v": sku_code})
            quantity = unit_price = None
            if need("quantity"):
                try:
                    quantity = parse_positive_int(row["quantity"])
                except ValueError as exc:
                    err("quantity", str(exc))
            if need("unit_price"):
                try:
                    unit_price = parse_decimal(row["unit_price"])
                except ValueError as exc:
                    err("unit_price", str(exc))
            line_no = row.get("line_no", "") or sku_code
            if order_no and line_no:
                key = (order_no, line_no)
                if key in seen_lines:
                    err("line_no" if row.get("line_no") else "sku",
                        _("订单 %(o)s 的这一行与第 %(first)s 行重复") % {"o": order_no, "first": seen_lines[key]})
                else:
                    seen_lines[key] = line
            errors.extend(e for e in errs if e.line)
            if errs or not order_no:
                continue
            entry = orders.setdefault(order_no, {"line": line, "values": values, "lines": []})
            entry["lines"].append(CanonicalLine(platform_line_id=line_no[:64], quantity=quantity, unit_price=unit_price,
                                                title=row.get("title", "")[:255], outer_sku_id=sku_code, sku_id=sku_id,
                                                amount=unit_price * quantity))
        progress(len(rows))
        plan = [self._canonical(no, entry) for no, entry in orders.items()] if not errors else []
        return plan, errors

    def _canonical(self, order_no: str, entry: dict) -> CanonicalOrder:
        v = entry["values"]
        goods = sum((ln.amount for ln in entry["lines"]), Decimal("0"))
        shipping, discount = v["shipping"] or Decimal("0"), v["discount"] or Decimal("0")
        paid_amount = v["paid_amount"] if v["paid_amount"] is not None else goods + shipping - discount
        paid_at = v["paid_at"] or (v["placed_at"] if v["state"] != PlatformState.UNPAID else None)
        modified = v["modified_at"] or max(d for d in (v["placed_at"], paid_at) if d)
        return CanonicalOrder(
            platform=MANUAL_PLATFORM, platform_order_id=order_no[:64], platform_status="import", state=v["state"],
            placed_at=v["placed_at"], modified_at=modified, lines=entry["lines"], currency=v["currency"],
            goods_amount=goods, shipping_amount=shipping, discount_amount=discount, paid_amount=paid_amount,
            paid_at=paid_at, buyer_nick=v["buyer_nick"], receiver_name=v["receiver_name"],
            receiver_phone=v["receiver_phone"], receiver_province=v["province"], receiver_city=v["city"],
            receiver_district=v["district"], receiver_address=v["address"], receiver_postcode=v["postcode"],
            buyer_note=v["buyer_note"], seller_note=v["seller_note"], urgent=v["urgent"])

    def apply(self, *, tenant_id, plan, actor, progress):
        """Through the page ingest (orders_ingest_many), IMPORT_PAGE orders at a time, inside the
        import's one transaction: new orders in bulk, known ones through order_ingest."""
        shop = manual_shop(tenant_id=tenant_id)
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for start in range(0, len(plan), IMPORT_PAGE):
            page = plan[start:start + IMPORT_PAGE]
            for result in orders_ingest_many(tenant_id=tenant_id, shop_id=shop.pk, canonicals=page, source="import"):
                counts[result.outcome if result.outcome in counts else "updated"] += 1
            progress(start + len(page))
        return counts


def manual_shop(*, tenant_id: int):
    """The tenant's shop for imported / hand-made orders (platform "manual"), created on demand."""
    Shop = apps.get_model("channels", "Shop")
    shop = Shop.objects.filter(tenant_id=tenant_id, platform=MANUAL_PLATFORM).order_by("pk").first()
    if shop is None:
        name = str(_("手工/导入订单"))
        if Shop.objects.filter(tenant_id=tenant_id, name=name).exists():
            name = f"{name} ({MANUAL_PLATFORM})"
        shop = Shop.objects.create(tenant_id=tenant_id, platform=MANUAL_PLATFORM, name=name, enabled=False)
    return shop


# --- SKUs -------------------------------------------------------------------------------------------
class SkuImporter(Importer):
    kind = "skus"
    label = gettext_lazy("SKU")
    columns = [
        ImportColumn("code", "商家编码", "code", True),
        ImportColumn("name", "名称", "name", True),
        ImportColumn("barcode", "条码", "barcode"),
        ImportColumn("reference_price", "参考价", "reference_price"),
        ImportColumn("currency", "币种", "currency"),
        ImportColumn("weight_grams", "重量(克)", "weight_grams"),
        ImportColumn("active", "启用", "active", False, gettext_lazy("是/否，默认是")),
    ]

    def validate(self, *, tenant_id, rows, progress):
        errors, plan, seen = [], [], {}
        for line, row in rows:
            errs = []
            code, name = row.get("code", ""), row.get("name", "")
            if not code:
                errs.append(RowError(line, "商家编码", _("不能为空")))
            elif len(code) > 64:
                errs.append(RowError(line, "商家编码", _("最长 64 个字符")))
            elif code in seen:
                errs.append(RowError(line, "商家编码", _("与第 %(first)s 行重复") % {"first": seen[code]}))
            else:
                seen[code] = line
            if not name:
                errs.append(RowError(line, "名称", _("不能为空")))
            values = {"name": name[:200], "barcode": row.get("barcode", "")[:64],
                      "currency": (row.get("currency") or "CNY").upper()[:3]}
            try:
                values["reference_price"] = parse_decimal(row["reference_price"]) if row.get("reference_price") else None
            except ValueError as exc:
                errs.append(RowError(line, "参考价", str(exc)))
            try:
                values["weight_grams"] = int(row["weight_grams"]) if row.get("weight_grams") else 0
                if values["weight_grams"] < 0:
                    raise ValueError
            except ValueError:
                errs.append(RowError(line, "重量(克)", _("应为不小于 0 的整数")))
            try:
                values["active"] = parse_bool(row["active"]) if row.get("active") else True
            except ValueError as exc:
                errs.append(RowError(line, "启用", str(exc)))
            errors.extend(errs)
            if not errs:
                plan.append((code, values))
        progress(len(rows))
        return plan, errors

    def apply(self, *, tenant_id, plan, actor, progress):
        return sku_upsert_many(tenant_id=tenant_id, rows=plan)


def sku_upsert_many(*, tenant_id: int, rows: list[tuple[str, dict]]) -> dict:
    """Create or update SKUs by code; unchanged rows write nothing. (Belongs in inventory.services
    as sku_upsert: SKUs have no side effects, so it is safe here until it moves.)"""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    existing = {s.code: s for s in Sku.objects.filter(tenant_id=tenant_id, code__in=[c for c, _v in rows])}
    with transaction.atomic():
        for code, values in rows:
            sku = existing.get(code)
            if sku is None:
                Sku.objects.create(tenant_id=tenant_id, code=code, **values)
                counts["created"] += 1
                continue
            changed = {k: v for k, v in values.items() if getattr(sku, k) != v}
            if not changed:
                counts["unchanged"] += 1
                continue
            Sku.objects.filter(tenant_id=tenant_id, pk=sku.pk).update(**changed)
            counts["updated"] += 1
    return counts


# --- SKU mappings -------------------------------------------------------------------------------
class ListingImporter(Importer):
    kind = "listings"
    label = gettext_lazy("商品映射")
    columns = [
        ImportColumn("shop", "店铺", "shop", True, gettext_lazy("店铺名称")),
        ImportColumn("platform_item_id", "平台商品ID", "platform_item_id", True),
        ImportColumn("platform_sku_id", "平台SKU ID", "platform_sku_id"),
        ImportColumn("outer_id", "平台商家编码", "outer_id"),
        ImportColumn("sku", "SKU编码", "sku", True, gettext_lazy("本系统的商家编码")),
        ImportColumn("push_enabled", "推送库存", "push_enabled", False, gettext_lazy("是/否，默认是")),
    ]

    def validate(self, *, tenant_id, rows, progress):
        Shop = apps.get_model("channels", "Shop")
        shops = dict(Shop.objects.filter(tenant_id=tenant_id).values_list("name", "pk"))
        codes = {r.get("sku") for _l, r in rows if r.get("sku")}
        skus = dict(Sku.objects.filter(tenant_id=tenant_id, code__in=codes).values_list("code", "pk"))
        errors, plan, seen = [], [], {}
        for line, row in rows:
            errs = []
            shop_id = shops.get(row.get("shop", ""))
            if not row.get("shop"):
                errs.append(RowError(line, "店铺", _("不能为空")))
            elif shop_id is None:
                errs.append(RowError(line, "店铺", _("未知店铺“%(v)s”") % {"v": row["shop"]}))
            item = row.get("platform_item_id", "")
            if not item:
                errs.append(RowError(line, "平台商品ID", _("不能为空")))
            sku_id = skus.get(row.get("sku", ""))
            if not row.get("sku"):
                errs.append(RowError(line, "SKU编码", _("不能为空")))
            elif sku_id is None:
                errs.append(RowError(line, "SKU编码", _("未知 SKU 编码“%(v)s”") % {"v": row["sku"]}))
            key = (shop_id, item, row.get("platform_sku_id", ""))
            if shop_id and item:
                if key in seen:
                    errs.append(RowError(line, "平台商品ID", _("与第 %(first)s 行重复") % {"first": seen[key]}))
                seen.setdefault(key, line)
            try:
                push = parse_bool(row["push_enabled"]) if row.get("push_enabled") else True
            except ValueError as exc:
                errs.append(RowError(line, "推送库存", str(exc)))
            errors.extend(errs)
            if not errs:
                plan.append({"shop_id": shop_id, "platform_item_id": item[:64],
                             "platform_sku_id": row.get("platform_sku_id", "")[:64],
                             "outer_id": row.get("outer_id", "")[:64], "sku_id": sku_id, "push_enabled": push})
        progress(len(rows))
        return plan, errors

    def apply(self, *, tenant_id, plan, actor, progress):
        return listing_upsert_many(tenant_id=tenant_id, rows=plan)


def listing_upsert_many(*, tenant_id: int, rows: list[dict]) -> dict:
    """Create or update SKU mappings; a new or changed mapping goes through
    channels.services.listing_saved (orders held as unmapped are mapped and re-processed)."""
    from channels.services import listing_saved  # channels sits above orders: imported lazily

    Listing = apps.get_model("channels", "Listing")
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with transaction.atomic():
        for row in rows:
            key = {k: row[k] for k in ("shop_id", "platform_item_id", "platform_sku_id")}
            listing = Listing.objects.filter(tenant_id=tenant_id, **key).first()
            values = {k: row[k] for k in ("outer_id", "sku_id", "push_enabled")}
            if listing is None:
                listing = Listing.objects.create(tenant_id=tenant_id, **key, **values)
                counts["created"] += 1
            else:
                changed = {k: v for k, v in values.items() if getattr(listing, k) != v}
                if not changed:
                    counts["unchanged"] += 1
                    continue
                for k, v in changed.items():
                    setattr(listing, k, v)
                listing.save(update_fields=list(changed))
                counts["updated"] += 1
            listing_saved(listing=listing)
    return counts


# --- stock levels (the inventory engineer's resource) ------------------------------------------------
class StockImporter(Importer):
    kind = "stock"
    label = gettext_lazy("库存")
    columns = [
        ImportColumn("warehouse", "仓库编码", "warehouse", True),
        ImportColumn("sku", "SKU编码", "sku", True),
        ImportColumn("on_hand", "在库数量", "on_hand", True, gettext_lazy("盘点数量")),
        ImportColumn("reorder_point", "补货点", "reorder_point"),
    ]
    COLUMN_KEYS = {"warehouse": "仓库编码", "sku": "SKU编码", "on_hand": "在库数量", "reorder_point": "补货点"}

    def _dataset(self, rows) -> tablib.Dataset:
        keys = [c.key for c in self.columns]
        ds = tablib.Dataset(headers=keys)
        for _line, row in rows:
            ds.append([row.get(k, "") for k in keys])
        return ds

    def _errors(self, result, lines: list[int]) -> list[RowError]:
        out = []
        for number, errs in result.row_errors():
            for e in errs:
                out.append(RowError(lines[number - 1] if 0 < number <= len(lines) else 0, "", str(e.error)))
        for inv in result.invalid_rows:
            line = lines[inv.number - 1] if 0 < inv.number <= len(lines) else 0
            for col, messages in inv.error_dict.items():
                for m in messages:
                    out.append(RowError(line, self.COLUMN_KEYS.get(col, col), _strip_line(m)))
        for e in result.base_errors:
            out.append(RowError(1, "", str(e.error)))
        return out

    def validate(self, *, tenant_id, rows, progress):
        from inventory.resources import StockLevelResource

        lines = [line for line, _r in rows]
        try:
            result = StockLevelResource(tenant_id=tenant_id).import_data(self._dataset(rows), dry_run=True)
        except ValidationError as exc:
            return None, [RowError(1, "", m) for m in exc.messages]
        progress(len(rows))
        errors = self._errors(result, lines)
        return (rows if not errors else None), errors

    def apply(self, *, tenant_id, plan, actor, progress):
        from inventory.resources import StockLevelResource

        result = StockLevelResource(tenant_id=tenant_id, actor=actor).import_data(self._dataset(plan), dry_run=False)
        errors = self._errors(result, [line for line, _r in plan])
        if errors:
            raise ImportFailed(errors)
        totals = result.totals
        return {"created": totals.get("new", 0), "updated": totals.get("update", 0),
                "unchanged": totals.get("skip", 0)}


def _strip_line(message: str) -> str:
    """The inventory resource says “第 3 行：...”; the line is shown in its own column here."""
    if message.startswith("第 ") and "行：" in message:
        return message.split("行：", 1)[1]
    return message


class ImportFailed(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors[:3]))


IMPORTERS: dict[str, Importer] = {i.kind: i for i in (OrderImporter(), SkuImporter(), ListingImporter(), StockImporter())}


# --- running an import ---------------------------------------------------------------------------
def _rows(importer: Importer, data: bytes, filename: str, report: ImportReport) -> list[tuple[int, dict]] | None:
    try:
        header, raw_rows, report.encoding = read_rows(data, filename)
    except FileProblem as exc:
        report.errors.append(RowError(0, "", str(exc)))
        return None
    index, header_errors = importer.map_header(header)
    report.total_rows = len(raw_rows)
    if header_errors:
        report.errors.extend(header_errors)
        return None
    rows = []
    for n, raw in enumerate(raw_rows, start=2):
        rows.append((n, {k: (raw[i].strip() if i < len(raw) else "") for k, i in index.items()}))
    if not rows:
        report.errors.append(RowError(0, "", _("文件中没有数据行")))
        return None
    return rows


def import_run(*, tenant_id: int, kind: str, data: bytes, filename: str = "", dry_run: bool = False, actor=None,
               progress: Progress | None = None) -> ImportReport:
    """Validate every row; when all are valid and not a dry run, write them all in one transaction.
    A problem anywhere means nothing is written. Safe to re-run: unchanged rows write nothing."""
    importer = IMPORTERS[kind]
    report = ImportReport(kind=kind)
    progress = progress or (lambda n: None)
    rows = _rows(importer, data, filename, report)
    if rows is None:
        return report
    plan, errors = importer.validate(tenant_id=tenant_id, rows=rows, progress=progress)
    report.errors.extend(sorted(errors, key=lambda e: (e.line, e.column)))
    if report.errors or dry_run:
        return report
    try:
        with transaction.atomic():
            report.counts = importer.apply(tenant_id=tenant_id, plan=plan, actor=actor, progress=progress)
    except ImportFailed as exc:
        report.errors.extend(exc.errors)
        return report
    except (ValidationError, ValueError) as exc:
        messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        report.errors.extend(RowError(0, "", m) for m in messages)
        return report
    report.applied = True
    logger.info("tenant=%s import %s: %s rows, %s", tenant_id, kind, report.total_rows, report.counts)
    return report


def count_rows(data: bytes, filename: str) -> int:
    try:
        _header, rows, _enc = read_rows(data, filename)
    except FileProblem:
        return 0
    return len(rows)


# --- background imports (ImportJob) --------------------------------------------------------------
def _progress_key(job_id: int) -> str:
    return f"importjob:{job_id}:progress"


def import_job_create(*, tenant_id: int, kind: str, data: bytes, filename: str, actor=None) -> ImportJob:
    """Store the file and queue the import (after commit)."""
    if kind not in IMPORTERS:
        raise ValueError(kind)
    suffix = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
    rel = Path("imports") / str(tenant_id) / f"{uuid.uuid4().hex}{suffix}"
    path = Path(settings.MEDIA_ROOT) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    with transaction.atomic():
        job = ImportJob.objects.create(tenant_id=tenant_id, kind=kind, original_name=filename[:255], file_path=str(rel),
                                       total_rows=count_rows(data, filename),
                                       created_by=actor if getattr(actor, "pk", None) else None)
        transaction.on_commit(functools.partial(import_job_task.delay, tenant_id, job.pk))
    return job


def import_job_run(*, tenant_id: int, job_id: int) -> ImportJob:
    """Run a queued job: validate (progress in the cache, visible outside the transaction), then
    write everything in one transaction. A finished job is not run again."""
    claimed = ImportJob.objects.filter(tenant_id=tenant_id, pk=job_id, status=ImportJob.Status.QUEUED) \
        .update(status=ImportJob.Status.VALIDATING)
    job = ImportJob.objects.get(tenant_id=tenant_id, pk=job_id)
    if not claimed:
        return job
    path = Path(settings.MEDIA_ROOT) / job.file_path
    phase = {"writing": False}

    def progress(n: int):
        if n and not phase["writing"]:
            ImportJob.objects.filter(pk=job.pk).update(processed_rows=min(n, job.total_rows))
        cache.set(_progress_key(job.pk), {"processed": n, "writing": phase["writing"]}, 3600)

    importer = IMPORTERS[job.kind]
    try:
        report = ImportReport(kind=job.kind)
        rows = _rows(importer, path.read_bytes(), job.original_name or path.name, report)
        plan = None
        if rows is not None:
            plan, errors = importer.validate(tenant_id=tenant_id, rows=rows, progress=progress)
            report.errors.extend(sorted(errors, key=lambda e: (e.line, e.column)))
        if report.errors:
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.Status.INVALID, errors=[e.as_dict() for e in report.errors[:2000]],
                result={"error_count": len(report.errors), "encoding": report.encoding}, finished_at=timezone.now())
        else:
            phase["writing"] = True
            ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.WRITING, processed_rows=job.total_rows)
            try:
                with transaction.atomic():
                    counts = importer.apply(tenant_id=tenant_id, plan=plan, actor=job.created_by, progress=progress)
            except ImportFailed as exc:
                ImportJob.objects.filter(pk=job.pk).update(
                    status=ImportJob.Status.INVALID, errors=[e.as_dict() for e in exc.errors[:2000]],
                    finished_at=timezone.now())
            else:
                ImportJob.objects.filter(pk=job.pk).update(
                    status=ImportJob.Status.DONE, result={**counts, "encoding": report.encoding},
                    finished_at=timezone.now())
    except Exception as exc:
        logger.exception("tenant=%s import job=%s failed", tenant_id, job.pk)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED,
                                                   errors=[{"line": 0, "column": "", "message": str(exc)[:500]}],
                                                   finished_at=timezone.now())
    cache.delete(_progress_key(job.pk))
    job.refresh_from_db()
    return job


def import_job_progress(job: ImportJob) -> dict:
    live = cache.get(_progress_key(job.pk)) or {}
    processed = job.processed_rows
    if live and not live.get("writing"):
        processed = max(processed, min(int(live.get("processed", 0)), job.total_rows))
    percent = job.percent
    if job.status == ImportJob.Status.VALIDATING and job.total_rows:
        percent = int(90 * processed / job.total_rows)
    elif job.status == ImportJob.Status.WRITING:
        percent = 95
    return {"id": job.pk, "status": job.status, "status_label": str(job.get_status_display()), "total": job.total_rows,
            "processed": processed, "percent": percent, "errors": job.errors[:200], "error_count": len(job.errors),
            "result": job.result,
            "finished": job.status in (ImportJob.Status.DONE, ImportJob.Status.INVALID, ImportJob.Status.FAILED)}


@shared_task(name="orders.import_job", time_limit=3600, soft_time_limit=3500)
def import_job_task(tenant_id: int, job_id: int) -> str:
    return import_job_run(tenant_id=tenant_id, job_id=job_id).status


# --- pages ----------------------------------------------------------------------------------------

class ImportView(GenericImportView):
    area = Area.ORDERS
    importers = IMPORTERS
    job_url_name = "orders:import_job"

    @property
    def background_rows(self):
        return BACKGROUND_ROWS

    def run(self, **kwargs):
        return import_run(**kwargs)

    def start_job(self, **kwargs):
        return import_job_create(**kwargs)

    def count_rows(self, data, filename):
        return count_rows(data, filename)


class ImportTemplateView(TenantViewMixin, View):
    area = Area.ORDERS

    def get(self, request, kind: str, fmt: str):
        importer = IMPORTERS.get(kind)
        if importer is None or fmt not in ("csv", "xlsx"):
            raise Http404
        return template_response(importer, fmt=fmt, lang=request.GET.get("lang", "zh"))


class ImportJobView(TenantDetailView):
    area = Area.ORDERS
    model = ImportJob
    template_name = "console/import_job.html"
    context_object_name = "job"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["progress"] = import_job_progress(self.object)
        ctx["importer"] = IMPORTERS.get(self.object.kind)
        return ctx


class ImportJobStatusView(TenantDetailView):
    area = Area.ORDERS
    model = ImportJob

    def get(self, request, *args, **kwargs):
        return JsonResponse(import_job_progress(self.get_object()))
