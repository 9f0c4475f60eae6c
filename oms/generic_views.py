"""The generic list / filter / bulk-action / export view stack, built once (NetBox's shape).

A page is a few attributes on `GenericListView`: a base queryset, a django-filter FilterSet,
columns, whitelisted sort keys and bulk actions. Everything else is here, once:

- scoping: the base queryset is the tenant's (TenantViewMixin); ids posted for a bulk action are
  looked up inside the tenant, and an id of another tenant is a 404 (nothing is acted on);
- keyset pagination on the current ordering (always ending in the primary key), so page 1000
  costs what page 1 costs; counts are capped (`LIMIT cap+1` -> "1000+"), never a full scan;
- "select all matching": the bulk action re-applies the filter to the whole queryset;
- bulk actions call a service per object and report per-row failures;
- export of the filtered list as CSV (streamed) or XLSX, with formula-looking cells neutralised.

Also the file reading shared by imports: encoding detection (UTF-8, UTF-8 with BOM, GBK /
GB18030) and XLSX, header rows in Chinese or English.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import tablib
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Q
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from .roles import CHANGE, role_can
from .views_base import TenantViewMixin

logger = logging.getLogger(__name__)

# --- export: spreadsheet formula injection ---------------------------------------------------------
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if timezone.is_aware(value) else \
            value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal | int | float):
        return str(value)
    return neutralise(str(value))


class _Echo:
    def write(self, value):
        return value


def csv_response(filename: str, headers: list[str], rows: Iterable[Iterable[Any]]) -> StreamingHttpResponse:
    """Streamed CSV, UTF-8 with BOM (so Excel on Windows opens Chinese text correctly)."""
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff" + writer.writerow([neutralise(str(h)) for h in headers])
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])

    resp = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return resp


def xlsx_response(filename: str, headers: list[str], rows: Iterable[Iterable[Any]]) -> HttpResponse:
    data = tablib.Dataset(headers=[neutralise(str(h)) for h in headers])
    for row in rows:
        data.append([_cell(v) for v in row])
    resp = HttpResponse(data.export("xlsx"),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return resp


# --- import: reading a file -------------------------------------------------------------------------
class FileProblem(Exception):
    """The file as a whole cannot be read (encoding, format, header)."""


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding). UTF-8 with BOM, UTF-8, then GB18030 (a superset of GBK / GB2312).
    Binary or UTF-16 files (NUL bytes) and undecodable bytes are refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise FileProblem(_("文件以 UTF-8 标记开头，但内容不是有效的 UTF-8")) from None
    if b"\x00" in data:
        raise FileProblem(_("无法识别文件编码：请保存为 UTF-8 或 GBK 编码的 CSV，或 XLSX"))
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise FileProblem(_("无法识别文件编码：请保存为 UTF-8 或 GBK 编码的 CSV，或 XLSX")) from None


def read_rows(data: bytes, filename: str = "") -> tuple[list[str], list[list[str]], str]:
    """(header, rows, encoding) of a CSV or XLSX file; cells as stripped strings."""
    is_xlsx = filename.lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04"
    if is_xlsx:
        try:
            ds = tablib.Dataset().load(io.BytesIO(data), format="xlsx")
        except Exception as exc:  # noqa: BLE001  (a broken workbook is the user's file problem)
            raise FileProblem(_("无法读取 XLSX 文件：%(e)s") % {"e": exc}) from None
        header = [str(h or "").strip() for h in (ds.headers or [])]
        rows = [[_xlsx_cell(c) for c in r] for r in ds]
        encoding = "xlsx"
    else:
        text, encoding = decode_text(data)
        sample = text[:4096]
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        parsed = list(csv.reader(io.StringIO(text), dialect))
        if not parsed:
            raise FileProblem(_("文件是空的"))
        header = [h.strip() for h in parsed[0]]
        rows = [[c.strip() for c in r] for r in parsed[1:]]
    rows = [r for r in rows if any(c for c in r)]
    if not any(header):
        raise FileProblem(_("文件缺少表头行"))
    return header, rows, encoding


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --- list views -------------------------------------------------------------------------------------
@dataclass
class Column:
    """One column of a list: `value(obj)` gives the cell, `sort` the whitelisted field to order by,
    `link(obj)` an URL for the cell; `export` False keeps it out of exports."""

    key: str
    label: str
    value: Callable[[Any], Any]
    sort: str = ""
    link: Callable[[Any], str] | None = None
    export: bool = True
    html: bool = False


@dataclass
class BulkAction:
    """A bulk action. Exactly one of:
    - `per_object(view, obj, params)`: called once per selected object; an exception listed in
      `view.row_errors` becomes that row's failure, the others go on;
    - `together(view, objects, params)`: called once with all selected objects (e.g. merge);
    - `handoff(view, ids, params)`: returns a response that hands the ids to another page.
    `param` names an optional text input sent along (e.g. a hold reason)."""

    key: str
    label: str
    per_object: Callable | None = None
    together: Callable | None = None
    handoff: Callable | None = None
    param: str = ""
    param_label: str = ""
    confirm: str = ""
    max_objects: int = 5000
    needs_change: bool = True


@dataclass
class BulkOutcome:
    action: str
    ok: int = 0
    failures: list[dict] = field(default_factory=list)


class GenericListView(TenantViewMixin, TemplateView):
    template_name = "console/list.html"
    title = ""
    model = None
    filterset_class = None
    columns: list[Column] = []
    actions: list[BulkAction] = []
    #: the default ordering; the primary key is appended when missing (keyset needs a total order)
    ordering: tuple[str, ...] = ("-id",)
    paginate_by = 50
    max_page_size = 200
    count_cap = 1000
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple = ()
    export_name = "export"
    export_limit = 200_000
    row_errors: tuple[type[BaseException], ...] = (ValidationError,)

    # --- queryset ---------------------------------------------------------------------------------
    def base_queryset(self):
        return self.model._default_manager.filter(tenant_id=self.tenant.pk)

    def filterset(self, data: QueryDict):
        if self.filterset_class is None:
            return None
        return self.filterset_class(data, queryset=self.base_queryset(), request=self.request)

    def filtered_queryset(self, data: QueryDict):
        fs = self.filterset(data)
        if fs is None:
            return self.base_queryset(), None
        qs = fs.qs if fs.is_valid() else self.base_queryset().none()
        return qs, fs

    def sortable(self) -> dict[str, str]:
        return {c.key: c.sort for c in self.columns if c.sort}

    def current_ordering(self, data: QueryDict) -> tuple[list[str], str]:
        sort = data.get("sort", "")
        fields = self.sortable()
        key = sort.lstrip("-")
        if key in fields:
            desc = sort.startswith("-")
            field_name = fields[key]
            order = [f"-{field_name}" if desc else field_name]
        else:
            sort, order = "", list(self.ordering)
        if not any(o.lstrip("-") in ("id", "pk") for o in order):
            order.append("-id" if order[-1].startswith("-") else "id")
        return order, sort

    # --- GET: the page, or an export --------------------------------------------------------------
    def get(self, request, *args, **kwargs):
        fmt = request.GET.get("export")
        if fmt in ("csv", "xlsx"):
            return self.export(request.GET, fmt)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        data = self.request.GET
        qs, fs = self.filtered_queryset(data)
        order, sort = self.current_ordering(data)
        try:
            size = max(1, min(self.max_page_size, int(data.get("size") or self.paginate_by)))
        except ValueError:
            size = self.paginate_by
        page = keyset_page(qs, order, size=size, after=data.get("after"), before=data.get("before"),
                           select_related=self.select_related, prefetch_related=self.prefetch_related)
        count = capped_count(qs, self.count_cap)
        filters = data.copy()
        for k in ("after", "before", "sort", "export"):
            filters.pop(k, None)
        role = self.request.membership.role
        can_change = role_can(role, self.area, CHANGE)
        ctx.update(
            title=self.title, filterset=fs, columns=self.columns,
            rows=[(obj, [self.render_cell(c, obj) for c in self.columns]) for obj in page.objects],
            page=page, count=count, count_capped=count > self.count_cap, count_cap=self.count_cap,
            sort=sort, headers=self.headers(filters, sort),
            filter_query=filters.urlencode(),
            actions=[a for a in self.actions if can_change or not a.needs_change],
            bulk_outcome=self.request.session.pop(self.outcome_key(), None),
            export_formats=("csv", "xlsx"),
        )
        return ctx

    def render_cell(self, column: Column, obj) -> dict:
        value = column.value(obj)
        if isinstance(value, datetime):
            value = formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
        elif isinstance(value, date):
            value = formats.date_format(value, "SHORT_DATE_FORMAT")
        return {"value": value, "link": column.link(obj) if column.link else "", "html": column.html,
                "key": column.key}

    def headers(self, filters: QueryDict, sort: str) -> list[dict]:
        out = []
        for c in self.columns:
            head = {"label": c.label, "url": "", "active": False, "desc": False}
            if c.sort:
                q = filters.copy()
                q["sort"] = f"-{c.key}" if sort == c.key else c.key
                head.update(url="?" + q.urlencode(), active=sort.lstrip("-") == c.key, desc=sort == f"-{c.key}")
            out.append(head)
        return out

    # --- export -------------------------------------------------------------------------------------
    def export_columns(self) -> list[Column]:
        return [c for c in self.columns if c.export]

    def export_value(self, column: Column, obj):
        return column.value(obj)

    def export(self, data: QueryDict, fmt: str):
        qs, _fs = self.filtered_queryset(data)
        order, _sort = self.current_ordering(data)
        qs = qs.select_related(*self.select_related).prefetch_related(*self.prefetch_related).order_by(*order)
        cols = self.export_columns()
        headers = [str(c.label) for c in cols]

        def rows():
            for obj in qs[: self.export_limit].iterator(chunk_size=2000):
                yield [self.export_value(c, obj) for c in cols]

        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        name = f"{self.export_name}-{stamp}"
        if fmt == "xlsx":
            return xlsx_response(name, headers, rows())
        return csv_response(name, headers, rows())

    # --- POST: bulk actions --------------------------------------------------------------------------
    def outcome_key(self) -> str:
        return f"bulk_outcome:{self.request.path}"

    def post(self, request, *args, **kwargs):
        key = request.POST.get("action", "")
        action = next((a for a in self.actions if a.key == key), None)
        if action is None:
            raise Http404
        if action.needs_change and not role_can(request.membership.role, self.area, CHANGE):
            raise PermissionDenied
        filters = QueryDict(request.POST.get("filters", ""))
        self.post_filters = filters
        back = request.path + ("?" + filters.urlencode() if filters else "")
        ids = self.selected_ids(request.POST, filters, action)
        if not ids:
            messages.error(request, _("请先选择订单"))
            return redirect(back)
        if len(ids) > action.max_objects:
            messages.error(request, _("一次最多处理 %(n)s 条，请缩小筛选范围") % {"n": action.max_objects})
            return redirect(back)
        params = {action.param: request.POST.get(action.param, "").strip()} if action.param else {}
        if action.handoff is not None:
            return action.handoff(self, ids, params)
        outcome = BulkOutcome(action=str(action.label))
        objects = self.objects_for(ids)
        if action.together is not None:
            try:
                action.together(self, objects, params)
                outcome.ok = len(objects)
            except self.row_errors as exc:
                outcome.failures.append({"label": "、".join(self.object_label(o) for o in objects),
                                         "message": _message(exc)})
        else:
            for obj in objects:
                try:
                    action.per_object(self, obj, params)
                    outcome.ok += 1
                except self.row_errors as exc:
                    outcome.failures.append({"id": obj.pk, "label": self.object_label(obj), "message": _message(exc)})
        logger.info("tenant=%s bulk %s: %s ok, %s failed", self.tenant.pk, action.key, outcome.ok,
                    len(outcome.failures))
        request.session[self.outcome_key()] = {"action": outcome.action, "ok": outcome.ok,
                                               "failures": outcome.failures[:500],
                                               "more": max(0, len(outcome.failures) - 500)}
        return redirect(back)

    def selected_ids(self, post: QueryDict, filters: QueryDict, action: BulkAction) -> list[int]:
        """The posted ids (each must be the tenant's: else 404), or every row matching the filter."""
        if post.get("select_all") == "1":
            qs, _fs = self.filtered_queryset(filters)
            order, _sort = self.current_ordering(filters)
            return list(qs.order_by(*order).values_list("pk", flat=True)[: action.max_objects + 1])
        try:
            ids = list(dict.fromkeys(int(v) for v in post.getlist("pk")))
        except ValueError:
            raise Http404 from None
        if not ids:
            return []
        mine = set(self.model._default_manager.filter(tenant_id=self.tenant.pk, pk__in=ids)
                   .values_list("pk", flat=True))
        if len(mine) != len(ids):
            raise Http404
        return ids

    def objects_for(self, ids: list[int]) -> list:
        by_pk = self.model._default_manager.filter(tenant_id=self.tenant.pk, pk__in=ids).in_bulk()
        return [by_pk[i] for i in ids if i in by_pk]

    def object_label(self, obj) -> str:
        return str(obj)


def _message(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "；".join(exc.messages)
    return str(exc) or exc.__class__.__name__


# --- counting and keyset pagination ---------------------------------------------------------------
def capped_count(qs, cap: int) -> int:
    """COUNT over at most cap+1 rows (SELECT COUNT(*) FROM (... LIMIT cap+1)): never a full scan."""
    return qs.order_by().values("pk")[: cap + 1].count()


@dataclass
class KeysetPage:
    objects: list
    next_cursor: str = ""
    prev_cursor: str = ""
    is_first: bool = True


def _encode(values: list) -> str:
    def enc(v):
        if isinstance(v, datetime):
            return {"t": "dt", "v": v.isoformat()}
        if isinstance(v, Decimal):
            return {"t": "dec", "v": str(v)}
        if isinstance(v, date):
            return {"t": "d", "v": v.isoformat()}
        return v

    raw = json.dumps([enc(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> list | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list):
        return None

    def dec(v):
        if isinstance(v, dict):
            if v.get("t") == "dt":
                return datetime.fromisoformat(v["v"])
            if v.get("t") == "dec":
                return Decimal(v["v"])
            if v.get("t") == "d":
                return date.fromisoformat(v["v"])
            return None
        return v

    try:
        return [dec(v) for v in values]
    except (ValueError, KeyError, ArithmeticError):
        return None


def _nullable(model, name: str) -> bool:
    """Whether a sort column may hold NULL (unknown or related columns: assume it may)."""
    if model is None or "__" in name:
        return True
    try:
        return model._meta.get_field(name).null
    except Exception:
        return True


def _order_exprs(order: list[str], reverse: bool = False, model=None):
    exprs = []
    for o in order:
        desc = o.startswith("-")
        if reverse:
            desc = not desc
        name = o.lstrip("-")
        if not _nullable(model, name):
            # plain ASC/DESC: the same order as the (tenant, status, -urgent, paid_at, id) index
            exprs.append(F(name).desc() if desc else F(name).asc())
            continue
        # NULLs always sort after values in the forward direction (so both databases agree)
        exprs.append(F(name).desc(nulls_first=True) if desc and reverse else
                     F(name).desc(nulls_last=True) if desc else
                     F(name).asc(nulls_first=True) if reverse else F(name).asc(nulls_last=True))
    return exprs


def _after_q(order: list[str], values: list, reverse: bool = False, model=None) -> Q:
    """Rows strictly after `values` in `order` (forward order: NULLs last)."""
    result = Q(pk__in=[])
    equal = Q()
    for o, v in zip(order, values, strict=True):
        name, desc = o.lstrip("-"), o.startswith("-")
        nullable = _nullable(model, name)
        if reverse:
            # strictly before in forward order
            if v is None:
                step = Q(**{f"{name}__isnull": False})
            else:
                step = Q(**{f"{name}__gt" if desc else f"{name}__lt": v})
        else:
            if v is None:
                step = Q(pk__in=[])
            else:
                step = Q(**{f"{name}__lt" if desc else f"{name}__gt": v})
                if nullable:
                    step |= Q(**{f"{name}__isnull": True})
        result |= equal & step
        equal &= Q(**{f"{name}__isnull": True}) if v is None else Q(**{name: v})
    return result


def keyset_page(qs, order: list[str], *, size: int, after: str | None = None, before: str | None = None,
                select_related=(), prefetch_related=()) -> KeysetPage:
    """One page of `qs` in `order` after (or before) a cursor: `WHERE (k1, k2, id) > (...)`
    spelled out for mixed directions and NULLs. No OFFSET, no COUNT."""
    names = [o.lstrip("-") for o in order]
    base = qs.select_related(*select_related).prefetch_related(*prefetch_related)
    cursor_values = _decode(after) if after else (_decode(before) if before else None)
    if cursor_values is not None and len(cursor_values) != len(order):
        cursor_values = None
    going_back = bool(before) and cursor_values is not None
    if cursor_values is not None:
        base = base.filter(_after_q(order, cursor_values, reverse=going_back, model=qs.model))
    rows = list(base.order_by(*_order_exprs(order, reverse=going_back, model=qs.model))[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    if going_back:
        rows.reverse()
    page = KeysetPage(objects=rows, is_first=cursor_values is None or (going_back and not has_more))

    def key(obj):
        return [_attr(obj, n) for n in names]

    if rows:
        if going_back or has_more:
            page.next_cursor = _encode(key(rows[-1]))
        if not page.is_first:
            page.prev_cursor = _encode(key(rows[0]))
    return page


def _attr(obj, path: str):
    for part in path.split("__"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


ACTION_PARAM_LABEL = gettext_lazy("说明")


# --- import views --------------------------------------------------------------------------------------
class GenericImportView(TenantViewMixin, TemplateView):
    """Upload -> preview (every problem with line, column, message) -> import (all or nothing).

    `importers` maps a kind to an importer (columns with Chinese and English names); `run(...)`
    validates / writes; files with more rows than `background_rows` go to `start_job(...)`,
    whose progress page the user is sent to. The previewed file is kept under MEDIA_ROOT and
    referred to by a token held in this user's session (never a path from the browser)."""

    template_name = "console/import.html"
    action = CHANGE
    importers: dict = {}
    background_rows = 2000
    max_bytes = 50 * 1024 * 1024
    job_url_name = ""

    def run(self, **kwargs):
        raise NotImplementedError

    def start_job(self, **kwargs):
        raise NotImplementedError

    def count_rows(self, data: bytes, filename: str) -> int:
        raise NotImplementedError

    def kind(self) -> str:
        kind = self.request.POST.get("kind") or self.request.GET.get("kind") or next(iter(self.importers))
        if kind not in self.importers:
            raise Http404
        return kind

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        kind = kwargs.get("kind") or self.kind()
        ctx.update(kind=kind, importer=self.importers[kind], kinds=[(k, i.label) for k, i in self.importers.items()],
                   background_rows=self.background_rows)
        return ctx

    def _store(self, data: bytes, filename: str) -> str:
        token = uuid4().hex
        folder = Path(settings.MEDIA_ROOT) / "imports" / "preview" / str(self.tenant.pk)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / token).write_bytes(data)
        previews = self.request.session.get("import_previews", {})
        previews[token] = {"tenant": self.tenant.pk, "name": filename}
        self.request.session["import_previews"] = dict(list(previews.items())[-5:])
        return token

    def _load(self, token: str) -> tuple[bytes, str]:
        entry = self.request.session.get("import_previews", {}).get(token)
        if not entry or entry.get("tenant") != self.tenant.pk or not token.isalnum():
            raise Http404
        path = Path(settings.MEDIA_ROOT) / "imports" / "preview" / str(self.tenant.pk) / token
        if not path.exists():
            raise Http404
        return path.read_bytes(), entry["name"]

    def post(self, request, *args, **kwargs):
        kind = self.kind()
        upload = request.FILES.get("file")
        token = request.POST.get("token", "")
        if upload is not None:
            if upload.size > self.max_bytes:
                messages.error(request, _("文件太大（最大 50 MB）"))
                return self.render_to_response(self.get_context_data(kind=kind))
            data, filename = upload.read(), upload.name
        elif token:
            data, filename = self._load(token)
        else:
            messages.error(request, _("请选择文件"))
            return self.render_to_response(self.get_context_data(kind=kind))
        dry_run = request.POST.get("mode") != "import"
        if not dry_run and self.count_rows(data, filename) > self.background_rows:
            job = self.start_job(tenant_id=self.tenant.pk, kind=kind, data=data, filename=filename, actor=request.user)
            return redirect(self.job_url_name, pk=job.pk)
        report = self.run(tenant_id=self.tenant.pk, kind=kind, data=data, filename=filename, dry_run=dry_run,
                          actor=request.user)
        ctx = self.get_context_data(kind=kind)
        ctx.update(report=report, filename=filename, dry_run=dry_run)
        if dry_run and report.ok:
            ctx["token"] = self._store(data, filename)
        if report.applied:
            messages.success(request, _("导入完成"))
        return self.render_to_response(ctx)


def template_response(importer, *, fmt: str, lang: str) -> HttpResponse:
    headers = importer.template_headers("en" if lang == "en" else "zh")
    name = f"{importer.kind}-template-{'en' if lang == 'en' else 'zh'}"
    if fmt == "xlsx":
        return xlsx_response(name, headers, [])
    resp = HttpResponse("\ufeff" + ",".join(headers) + "\r\n", content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return resp
