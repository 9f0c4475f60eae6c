"""Reports: sales by day / week / month, by province, by shop and platform, top SKUs and their
trend, buyers (new vs returning, repeat rate, average order value), hold reasons, and the time
from payment to shipping. Each is a table, a server-rendered SVG chart and a CSV download.

What counts as a sale: a platform order (kind "normal": merged / split / exchange orders stand
for platform orders and would count them twice) paid within the dates (Asia/Shanghai), neither
cancelled nor unpaid. Money is summed per currency, never across currencies.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from html import escape
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Count, Exists, OuterRef, Sum, Value
from django.db.models.functions import Coalesce, NullIf, TruncDay, TruncMonth, TruncWeek
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from oms.generic_views import csv_response
from oms.roles import Area
from oms.views_base import TenantViewMixin

from .models import Hold, HoldReason, Order, OrderKind, OrderLine
from .states import OrderStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOT_SALES = (OrderStatus.CANCELLED, OrderStatus.PENDING_PAYMENT)


# --- period and base query ------------------------------------------------------------------------------
@dataclass
class Period:
    start: date
    end: date  # inclusive
    shop_id: int | None = None

    @property
    def start_dt(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=SHANGHAI)

    @property
    def end_dt(self) -> datetime:  # exclusive
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=SHANGHAI)


def sales_orders(*, tenant_id: int, period: Period):
    qs = Order.objects.filter(tenant_id=tenant_id, kind=OrderKind.NORMAL, paid_at__gte=period.start_dt,
                              paid_at__lt=period.end_dt).exclude(status__in=NOT_SALES)
    if period.shop_id:
        qs = qs.filter(shop_id=period.shop_id)
    return qs


def _money(value) -> Decimal:
    return (Decimal(value) if value is not None else Decimal("0")).quantize(Decimal("0.01"))


TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def _bucket_label(value, granularity: str) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value, SHANGHAI).date() if timezone.is_aware(value) else value.date()
    if granularity == "month":
        return value.strftime("%Y-%m")
    return value.isoformat()


# --- selectors: one per report ----------------------------------------------------------------------
def sales_by_period(*, tenant_id: int, period: Period, granularity: str = "day") -> list[dict]:
    trunc = TRUNC[granularity]("paid_at", tzinfo=SHANGHAI)
    rows = (sales_orders(tenant_id=tenant_id, period=period).annotate(bucket=trunc)
            .values("bucket", "currency").annotate(orders=Count("id"), amount=Sum("paid_amount"))
            .order_by("bucket", "currency"))
    return [{"period": _bucket_label(r["bucket"], granularity), "currency": r["currency"], "orders": r["orders"],
             "amount": _money(r["amount"]),
             "aov": _money(r["amount"] / r["orders"]) if r["orders"] else _money(0)}
            for r in rows]


def sales_by_province(*, tenant_id: int, period: Period) -> list[dict]:
    rows = (sales_orders(tenant_id=tenant_id, period=period).values("receiver_province", "currency")
            .annotate(orders=Count("id"), amount=Sum("paid_amount")).order_by("-orders", "receiver_province"))
    return [{"province": r["receiver_province"] or "-", "currency": r["currency"], "orders": r["orders"],
             "amount": _money(r["amount"])} for r in rows]


def sales_by_shop(*, tenant_id: int, period: Period) -> list[dict]:
    rows = (sales_orders(tenant_id=tenant_id, period=period).values("shop__name", "platform", "currency")
            .annotate(orders=Count("id"), amount=Sum("paid_amount")).order_by("-orders", "shop__name"))
    Shop = apps.get_model("channels", "Shop")
    labels = dict(Shop._meta.get_field("platform").choices)
    return [{"shop": r["shop__name"], "platform": str(labels.get(r["platform"], r["platform"])),
             "currency": r["currency"], "orders": r["orders"], "amount": _money(r["amount"])} for r in rows]


def _sku_key():
    return Coalesce(NullIf("sku__code", Value("")), NullIf("outer_sku_id", Value("")), "title")


def top_skus(*, tenant_id: int, period: Period, limit: int = 20) -> list[dict]:
    lines = OrderLine.objects.filter(tenant_id=tenant_id, order__in=sales_orders(tenant_id=tenant_id, period=period))
    rows = (lines.annotate(code=_sku_key()).values("code", "order__currency")
            .annotate(quantity=Sum("quantity"), amount=Sum("amount"), orders=Count("order_id", distinct=True))
            .order_by("-quantity", "code")[:limit])
    return [{"sku": r["code"], "currency": r["order__currency"], "quantity": r["quantity"], "orders": r["orders"],
             "amount": _money(r["amount"])} for r in rows]


def sku_trend(*, tenant_id: int, period: Period, codes: list[str], granularity: str = "week") -> tuple[list[str], dict]:
    lines = OrderLine.objects.filter(tenant_id=tenant_id, order__in=sales_orders(tenant_id=tenant_id, period=period))
    trunc = TRUNC[granularity]("order__paid_at", tzinfo=SHANGHAI)
    rows = (lines.annotate(code=_sku_key(), bucket=trunc).filter(code__in=codes).values("code", "bucket")
            .annotate(quantity=Sum("quantity")).order_by("bucket"))
    buckets = sorted({_bucket_label(r["bucket"], granularity) for r in rows})
    series = {c: [0] * len(buckets) for c in codes}
    for r in rows:
        series[r["code"]][buckets.index(_bucket_label(r["bucket"], granularity))] += r["quantity"]
    return buckets, series


@dataclass
class BuyerStats:
    currency: str
    buyers: int = 0
    new: int = 0
    returning: int = 0
    repeat: int = 0  # buyers with two or more orders in the period
    orders: int = 0
    amount: Decimal = Decimal("0")

    @property
    def repeat_rate(self) -> Decimal:
        return (Decimal(100) * self.repeat / self.buyers).quantize(Decimal("0.1")) if self.buyers else Decimal("0")

    @property
    def aov(self) -> Decimal:
        return (self.amount / self.orders).quantize(Decimal("0.01")) if self.orders else Decimal("0")


def buyer_stats(*, tenant_id: int, period: Period) -> list[BuyerStats]:
    """A buyer is (platform, buyer nick) -- or the receiver phone when the platform gives no nick.
    New: no sale before the period; returning: at least one."""
    qs = sales_orders(tenant_id=tenant_id, period=period)
    earlier = Order.objects.filter(tenant_id=tenant_id, kind=OrderKind.NORMAL, paid_at__lt=period.start_dt,
                                   platform=OuterRef("platform")).exclude(status__in=NOT_SALES)
    returning_nick = set(qs.exclude(buyer_nick="").filter(
        Exists(earlier.filter(buyer_nick=OuterRef("buyer_nick")))).values_list("platform", "buyer_nick").distinct())
    returning_phone = set(qs.filter(buyer_nick="").exclude(receiver_phone="").filter(
        Exists(earlier.filter(buyer_nick="", receiver_phone=OuterRef("receiver_phone"))))
        .values_list("platform", "receiver_phone").distinct())
    per_currency: dict[str, BuyerStats] = {}
    buyers: dict[tuple, dict] = defaultdict(lambda: {"orders": 0})
    for platform, nick, phone, currency, amount in qs.values_list("platform", "buyer_nick", "receiver_phone",
                                                                  "currency", "paid_amount").iterator():
        st = per_currency.setdefault(currency, BuyerStats(currency=currency))
        st.orders += 1
        st.amount = _money(st.amount + amount)
        key = (currency, platform, "nick" if nick else "phone", nick or phone)
        buyers[key]["orders"] += 1
    for (currency, platform, how, ident), info in buyers.items():
        st = per_currency[currency]
        st.buyers += 1
        is_returning = (platform, ident) in (returning_nick if how == "nick" else returning_phone)
        st.returning += int(is_returning)
        st.new += int(not is_returning)
        st.repeat += int(info["orders"] >= 2)
    return sorted(per_currency.values(), key=lambda s: s.currency)


def hold_reasons(*, tenant_id: int, period: Period) -> list[dict]:
    qs = Hold.objects.filter(tenant_id=tenant_id, created_at__gte=period.start_dt, created_at__lt=period.end_dt)
    if period.shop_id:
        qs = qs.filter(order__shop_id=period.shop_id)
    stats: dict[str, dict] = {}
    for reason, created, resolved, auto in qs.values_list("reason", "created_at", "resolved_at", "auto_released").iterator():
        s = stats.setdefault(reason, {"total": 0, "open": 0, "auto": 0, "hours": []})
        s["total"] += 1
        if resolved is None:
            s["open"] += 1
        else:
            s["hours"].append((resolved - created).total_seconds() / 3600)
            s["auto"] += int(auto)
    labels = dict(HoldReason.choices)
    out = []
    for reason, s in sorted(stats.items(), key=lambda kv: (-kv[1]["total"], kv[0])):
        out.append({"reason": str(labels.get(reason, reason)), "code": reason, "total": s["total"], "open": s["open"],
                    "auto": s["auto"],
                    "avg_hours": round(sum(s["hours"]) / len(s["hours"]), 1) if s["hours"] else None})
    return out


@dataclass
class ShipTimes:
    hours: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.hours)

    @property
    def average(self) -> float | None:
        return round(sum(self.hours) / len(self.hours), 1) if self.hours else None

    @property
    def median(self) -> float | None:
        return round(statistics.median(self.hours), 1) if self.hours else None

    @property
    def p90(self) -> float | None:
        if not self.hours:
            return None
        ordered = sorted(self.hours)
        return round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1)


SHIP_BUCKETS = [(12, "≤12h"), (24, "12–24h"), (48, "24–48h"), (72, "48–72h"), (None, ">72h")]


def paid_to_shipped(*, tenant_id: int, period: Period) -> tuple[ShipTimes, dict[str, ShipTimes], list[int]]:
    """Hours from Order.paid_at to Shipment.shipped_at of the orders paid in the period (their live
    shipments), overall and per shop, plus the counts per bucket."""
    Shipment = apps.get_model("logistics", "Shipment")
    qs = (Shipment.objects.filter(tenant_id=tenant_id, shipped_at__isnull=False, order__paid_at__gte=period.start_dt,
                                  order__paid_at__lt=period.end_dt).exclude(status="cancelled"))
    if period.shop_id:
        qs = qs.filter(order__shop_id=period.shop_id)
    overall, per_shop = ShipTimes(), defaultdict(ShipTimes)
    buckets = [0] * len(SHIP_BUCKETS)
    for shipped, paid, shop in qs.values_list("shipped_at", "order__paid_at", "order__shop__name").iterator():
        hours = max(0.0, (shipped - paid).total_seconds() / 3600)
        overall.hours.append(hours)
        per_shop[shop].hours.append(hours)
        for i, (limit, _label) in enumerate(SHIP_BUCKETS):
            if limit is None or hours <= limit:
                buckets[i] += 1
                break
    return overall, dict(sorted(per_shop.items())), buckets


# --- SVG charts (server-rendered, no JS) -----------------------------------------------------------
PALETTE = ["#0f62a8", "#e07b00", "#067647", "#b42318", "#6941c6", "#0e7090"]


def _fmt(v) -> str:
    if isinstance(v, Decimal):
        return number_format(v, 2, force_grouping=True)
    if isinstance(v, float):
        return number_format(round(v, 1), 1)
    return number_format(v, force_grouping=True)


def bar_chart(labels: list[str], values: list, *, title: str = "", width: int = 860, height: int = 260) -> str:
    if not values:
        return ""
    pad_l, pad_b, pad_t = 60, 60, 24
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    top = max(float(v) for v in values) or 1.0
    n = len(values)
    bw = min(plot_w / n, 64)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" font-size="11" font-family="sans-serif">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 10}" y2="{pad_t + plot_h}" stroke="#999"/>']
    for i in range(5):
        y = pad_t + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{escape(_fmt(top * i / 4))}</text>')
    step = max(1, n // 20)
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * float(v) / top
        x = pad_l + i * bw + bw * 0.1
        parts.append(f'<rect x="{x:.1f}" y="{pad_t + plot_h - h:.1f}" width="{bw * 0.8:.1f}" height="{h:.1f}" '
                     f'fill="{PALETTE[0]}"><title>{escape(str(label))}: {escape(_fmt(v))}</title></rect>')
        if i % step == 0:
            lx, ly = x + bw * 0.4, pad_t + plot_h + 12
            parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" transform="rotate(-35 {lx:.1f} {ly:.1f})" '
                         f'fill="#333">{escape(str(label)[:14])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(x_labels: list[str], series: dict[str, list], *, title: str = "", width: int = 860,
               height: int = 260) -> str:
    if not x_labels or not series:
        return ""
    pad_l, pad_b, pad_t, pad_r = 60, 50, 24, 150
    plot_w, plot_h = width - pad_l - pad_r, height - pad_b - pad_t
    top = max((float(v) for vals in series.values() for v in vals), default=0) or 1.0
    n = len(x_labels)

    def x(i):
        return pad_l + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" font-size="11" font-family="sans-serif"><title>{escape(title)}</title>',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{pad_l + plot_w}" y2="{pad_t + plot_h}" stroke="#999"/>']
    for i in range(5):
        y = pad_t + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{pad_l + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{escape(_fmt(top * i / 4))}</text>')
    step = max(1, n // 12)
    for i, label in enumerate(x_labels):
        if i % step == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{pad_t + plot_h + 16}" text-anchor="middle" fill="#333">'
                         f'{escape(label[5:] if len(label) == 10 else label)}</text>')
    for k, (name, vals) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        pts = " ".join(f"{x(i):.1f},{pad_t + plot_h - plot_h * float(v) / top:.1f}" for i, v in enumerate(vals))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, v in enumerate(vals):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{pad_t + plot_h - plot_h * float(v) / top:.1f}" r="2.5" '
                         f'fill="{color}"><title>{escape(name)} {escape(x_labels[i])}: {escape(_fmt(v))}</title></circle>')
        ly = pad_t + 14 * k
        parts.append(f'<rect x="{pad_l + plot_w + 12}" y="{ly}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{pad_l + plot_w + 26}" y="{ly + 9}" fill="#333">{escape(name[:18])}</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- pages -----------------------------------------------------------------------------------------
REPORTS = [
    ("sales", gettext_lazy("销售趋势")),
    ("provinces", gettext_lazy("按省份")),
    ("shops", gettext_lazy("按店铺/平台")),
    ("skus", gettext_lazy("热销 SKU")),
    ("buyers", gettext_lazy("买家")),
    ("holds", gettext_lazy("挂起原因")),
    ("fulfilment", gettext_lazy("付款到发货")),
]


def _parse_date(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


class ReportView(TenantViewMixin, TemplateView):
    area = Area.ORDERS
    template_name = "console/report.html"

    def period(self) -> Period:
        today = timezone.localdate()
        start = _parse_date(self.request.GET.get("start"), today - timedelta(days=29))
        end = _parse_date(self.request.GET.get("end"), today)
        if end < start:
            start, end = end, start
        if (end - start).days > 3660:
            start = end - timedelta(days=3660)
        shop_id = None
        raw = self.request.GET.get("shop")
        if raw:
            Shop = apps.get_model("channels", "Shop")
            try:
                shop_id = Shop.objects.get(tenant_id=self.tenant.pk, pk=int(raw)).pk
            except (ValueError, Shop.DoesNotExist):
                raise Http404 from None
        return Period(start=start, end=end, shop_id=shop_id)

    def get(self, request, *args, **kwargs):
        self.kind = kwargs.get("kind") or "sales"
        if self.kind not in dict(REPORTS):
            raise Http404
        period = self.period()
        granularity = request.GET.get("by") if request.GET.get("by") in TRUNC else "day"
        report = getattr(self, f"build_{self.kind}")(period, granularity)
        if request.GET.get("format") == "csv":
            return csv_response(f"report-{self.kind}-{period.start}-{period.end}", report["headers"],
                                [[c for c in row] for row in report["rows"]])
        ctx = self.get_context_data(**kwargs)
        Shop = apps.get_model("channels", "Shop")
        query = request.GET.copy()
        query.pop("format", None)
        ctx.update(report=report, rows=report_rows(report), charts=charts_html(report), period=period,
                   granularity=granularity, kind=self.kind,
                   reports=[(k, label, reverse("orders:report", args=[k])) for k, label in REPORTS],
            title=dict(REPORTS)[self.kind], query=query.urlencode(),
            shops=list(Shop.objects.filter(tenant_id=self.tenant.pk).order_by("name").values_list("pk", "name")))
        return self.render_to_response(ctx)

    # each build returns headers, rows (plain values, for the table and the CSV), chart (SVG) and notes
    def build_sales(self, period, granularity):
        rows = sales_by_period(tenant_id=self.tenant.pk, period=period, granularity=granularity)
        charts = []
        for currency in sorted({r["currency"] for r in rows}):
            amounts = {r["period"]: r["amount"] for r in rows if r["currency"] == currency}
            labels = sorted(amounts)
            if granularity == "day" and (period.end - period.start).days <= 400:
                labels = [(period.start + timedelta(days=i)).isoformat() for i in range((period.end - period.start).days + 1)]
            charts.append(bar_chart(labels, [amounts.get(d, Decimal("0")) for d in labels],
                                    title=_("销售额（%(c)s）") % {"c": currency}))
        return {"headers": [_("期间"), _("币种"), _("订单数"), _("销售额"), _("客单价")],
                "rows": [[r["period"], r["currency"], r["orders"], r["amount"], r["aov"]] for r in rows],
                "charts": charts, "by": True}

    def build_provinces(self, period, granularity):
        rows = sales_by_province(tenant_id=self.tenant.pk, period=period)
        top = rows[:20]
        return {"headers": [_("省份"), _("币种"), _("订单数"), _("销售额")],
                "rows": [[r["province"], r["currency"], r["orders"], r["amount"]] for r in rows],
                "charts": [bar_chart([r["province"] for r in top], [r["orders"] for r in top], title=_("订单数"))]}

    def build_shops(self, period, granularity):
        rows = sales_by_shop(tenant_id=self.tenant.pk, period=period)
        return {"headers": [_("店铺"), _("平台"), _("币种"), _("订单数"), _("销售额")],
                "rows": [[r["shop"], r["platform"], r["currency"], r["orders"], r["amount"]] for r in rows],
                "charts": [bar_chart([r["shop"] for r in rows[:20]], [r["orders"] for r in rows[:20]], title=_("订单数"))]}

    def build_skus(self, period, granularity):
        rows = top_skus(tenant_id=self.tenant.pk, period=period)
        codes = list(dict.fromkeys(r["sku"] for r in rows))[:5]
        buckets, series = sku_trend(tenant_id=self.tenant.pk, period=period, codes=codes,
                                    granularity=granularity if granularity != "day" else "week")
        return {"headers": [_("SKU"), _("币种"), _("销量"), _("订单数"), _("销售额")],
                "rows": [[r["sku"], r["currency"], r["quantity"], r["orders"], r["amount"]] for r in rows],
                "charts": [bar_chart([r["sku"] for r in rows], [r["quantity"] for r in rows], title=_("销量")),
                           line_chart(buckets, series, title=_("前 5 个 SKU 的销量趋势"))], "by": True}

    def build_buyers(self, period, granularity):
        stats = buyer_stats(tenant_id=self.tenant.pk, period=period)
        return {"headers": [_("币种"), _("买家数"), _("新买家"), _("老买家"), _("复购买家"), _("复购率(%)"), _("订单数"),
                            _("销售额"), _("客单价")],
                "rows": [[s.currency, s.buyers, s.new, s.returning, s.repeat, s.repeat_rate, s.orders, s.amount, s.aov]
                         for s in stats],
                "charts": [bar_chart([_("新买家"), _("老买家"), _("复购买家")], [s.new, s.returning, s.repeat],
                                     title=s.currency, width=420) for s in stats],
                "notes": _("买家按平台+买家昵称识别（没有昵称时用收件人电话）；老买家：在所选期间之前买过；"
                           "复购买家：在所选期间内下单两次及以上。")}

    def build_holds(self, period, granularity):
        rows = hold_reasons(tenant_id=self.tenant.pk, period=period)
        return {"headers": [_("挂起原因"), _("次数"), _("未解除"), _("自动解除"), _("平均处理时长(小时)")],
                "rows": [[r["reason"], r["total"], r["open"], r["auto"], r["avg_hours"] if r["avg_hours"] is not None else ""]
                         for r in rows],
                "charts": [bar_chart([r["reason"] for r in rows], [r["total"] for r in rows], title=_("次数"))]}

    def build_fulfilment(self, period, granularity):
        overall, per_shop, buckets = paid_to_shipped(tenant_id=self.tenant.pk, period=period)

        def row(name, st):
            return [name, st.count, st.average if st.average is not None else "", st.median if st.median is not None else "",
                    st.p90 if st.p90 is not None else ""]

        return {"headers": [_("店铺"), _("已发货订单"), _("平均(小时)"), _("中位数(小时)"), _("90%分位(小时)")],
                "rows": [row(_("全部"), overall)] + [row(name, st) for name, st in per_shop.items()],
                "charts": [bar_chart([label for _l, label in SHIP_BUCKETS], buckets, title=_("付款到发货时长分布"))]
                if overall.count else [],
                "notes": _("从订单付款时间到包裹发货时间；按付款日期筛选。")}


def display(value):
    if isinstance(value, Decimal):
        return number_format(value, 2, force_grouping=True)
    if isinstance(value, int) and not isinstance(value, bool):
        return number_format(value, force_grouping=True)
    if isinstance(value, date):
        return date_format(value, "SHORT_DATE_FORMAT")
    return value


def report_rows(report: dict) -> list[list]:
    return [[display(v) for v in row] for row in report["rows"]]


def charts_html(report: dict) -> str:
    return mark_safe("".join(f'<div class="chart">{c}</div>' for c in report.get("charts", []) if c))  # noqa: S308
