"""The ops worklists (tabs): each tab is a few attributes on the one generic list view.

/orders/work/<tab>/ -- 待审核, 异常 (by hold reason), 待分配, 待发货, 已发货, 售后, 已取消. Every
tab shares the order FilterSet, the columns and the export; the bulk actions call the orders
services per order (per-row failures are reported), merge calls the merge service once, and
pick list / bulk ship hand the ids to the logistics pages (their progress page follows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oms.generic_views import BulkAction, Column, GenericListView, capped_count
from oms.roles import Area

from . import services
from .filters import OrderFilterSet
from .models import Hold, HoldReason, Order, ReturnRequest, ReturnStatus
from .selectors import QUEUE_ORDER
from .states import IllegalTransition, OrderStatus

S = OrderStatus


# --- actions: each one service call per order ----------------------------------------------------------
def _approve(view, order, params):
    services.order_approve(order=order, actor=view.request.user)


def _hold(view, order, params):
    services.order_hold(order=order, reason=HoldReason.MANUAL, detail=params.get("note", ""), actor=view.request.user)


def _release(view, order, params):
    reason = view.post_filters.get("hold_reason", "") or view.worklist.hold_reason
    holds = Hold.objects.filter(tenant_id=view.tenant.pk, order=order, resolved_at=None)
    if reason:
        holds = holds.filter(reason=reason)
    holds = list(holds.order_by("pk"))
    if not holds:
        raise services.OrderActionError(_("没有未解除的挂起"))
    for hold in holds:
        services.hold_resolve(hold=hold, actor=view.request.user, note=params.get("note", ""))


def _allocate(view, order, params):
    done = services.order_allocate(order=order, actor=view.request.user)
    if not done:
        raise services.OrderActionError(_("无法分仓，订单已挂起"))


def _cancel(view, order, params):
    services.order_cancel(order=order, actor=view.request.user, reason=params.get("note", ""))


def _merge(view, orders, params):
    merged = services.order_merge(orders=orders, actor=view.request.user)
    messages.success(view.request, _("已合并为 %(n)s") % {"n": merged.number})


def _pick_list(view, ids, params):
    if len(ids) > 500:
        messages.error(view.request, _("拣货单一次最多 500 个订单"))
        return redirect(view.request.get_full_path())
    return redirect(reverse("logistics:pick_list") + "?" + urlencode([("order", i) for i in ids]))


def _bulk_ship(view, ids, params):
    """Hand the orders to logistics' one-click bulk ship (its page runs the job with a progress bar)."""
    try:
        url = reverse("logistics:bulk_ship")
    except NoReverseMatch:  # logistics not installed
        raise Http404 from None
    orders = list(Order.objects.filter(tenant_id=view.tenant.pk, pk__in=ids).only("id", "platform_order_id"))
    return render(view.request, "console/handoff.html", {"action_url": url, "orders": orders, "count": len(orders),
                                                         "back": view.request.get_full_path()})


APPROVE = BulkAction("approve", gettext_lazy("审核通过"), per_object=_approve)
HOLD = BulkAction("hold", gettext_lazy("挂起"), per_object=_hold, param="note", param_label=gettext_lazy("挂起原因"))
RELEASE = BulkAction("release", gettext_lazy("解除挂起"), per_object=_release, param="note",
                     param_label=gettext_lazy("处理说明"))
ALLOCATE = BulkAction("allocate", gettext_lazy("分仓"), per_object=_allocate)
MERGE = BulkAction("merge", gettext_lazy("合并订单"), together=_merge, max_objects=50)
CANCEL = BulkAction("cancel", gettext_lazy("取消订单"), per_object=_cancel, param="note",
                    param_label=gettext_lazy("取消原因"), confirm=gettext_lazy("确定取消所选订单？"))
PICK_LIST = BulkAction("pick_list", gettext_lazy("打印拣货单"), handoff=_pick_list, needs_change=False, max_objects=500)
BULK_SHIP = BulkAction("bulk_ship", gettext_lazy("一键发货"), handoff=_bulk_ship, max_objects=2000)


# --- columns ----------------------------------------------------------------------------------------
def _money(o: Order) -> str:
    return f"{number_format(o.paid_amount, 2, force_grouping=True)} {o.currency}"


def _holds(o: Order) -> str:
    return "、".join(h.get_reason_display() for h in getattr(o, "open_holds", []))


def _items(o: Order) -> str:
    parts = [f"{ln.sku.code if ln.sku_id else (ln.outer_sku_id or ln.title)}×{ln.quantity}" for ln in o.lines.all()]
    return "，".join(parts[:5]) + ("…" if len(parts) > 5 else "")


def _detail(o: Order) -> str:
    return reverse("orders:detail", args=[o.pk])


COLUMNS = [
    Column("number", gettext_lazy("订单号"), lambda o: o.number, sort="id", link=_detail),
    Column("platform_order_id", gettext_lazy("平台订单号"), lambda o: o.platform_order_id, link=_detail),
    Column("shop", gettext_lazy("店铺"), lambda o: o.shop.name),
    Column("status", gettext_lazy("状态"), lambda o: o.get_status_display(), sort="status"),
    Column("holds", gettext_lazy("挂起原因"), _holds),
    Column("urgent", gettext_lazy("加急"), lambda o: _("加急") if o.urgent else "", sort="urgent"),
    Column("receiver", gettext_lazy("收件人"), lambda o: f"{o.receiver_name} {o.receiver_phone}"),
    Column("region", gettext_lazy("省市"), lambda o: f"{o.receiver_province} {o.receiver_city}", sort="receiver_province"),
    Column("items", gettext_lazy("商品"), _items),
    Column("paid_amount", gettext_lazy("实付"), _money, sort="paid_amount"),
    Column("paid_at", gettext_lazy("付款时间"), lambda o: o.paid_at, sort="paid_at"),
    Column("warehouse", gettext_lazy("发货仓"), lambda o: o.warehouse.name if o.warehouse_id else ""),
]


def _refund_detail(o: Order) -> str:
    return "；".join(h.detail for h in getattr(o, "open_holds", []) if h.reason == HoldReason.REFUND)


#: the 退款拦截 tab: what the platform says about the refund (lines, the buyer's reason)
REFUND_COLUMN = Column("refund", gettext_lazy("退款拦截说明"), _refund_detail)


# --- tabs -------------------------------------------------------------------------------------------
@dataclass
class Worklist:
    key: str
    label: str
    statuses: tuple[str, ...] = ()
    actions: list[BulkAction] = field(default_factory=list)
    returns: bool = False
    by_hold_reason: bool = False
    #: orders with an open hold of this reason, whatever their status (退款拦截)
    hold_reason: str = ""
    extra_columns: list[Column] = field(default_factory=list)


WORKLISTS = [
    Worklist("pending_review", gettext_lazy("待审核"), (S.PENDING_REVIEW,), [APPROVE, HOLD, MERGE, CANCEL]),
    Worklist("on_hold", gettext_lazy("异常"), (S.ON_HOLD,), [RELEASE, APPROVE, CANCEL], by_hold_reason=True),
    Worklist("approved", gettext_lazy("待分配"), (S.APPROVED,), [ALLOCATE, HOLD, MERGE, CANCEL]),
    Worklist("to_ship", gettext_lazy("待发货"), (S.ALLOCATED, S.PICKING), [PICK_LIST, BULK_SHIP, HOLD, CANCEL]),
    Worklist("intercepted", gettext_lazy("退款拦截"), (), [RELEASE, CANCEL], hold_reason=HoldReason.REFUND,
             extra_columns=[REFUND_COLUMN]),
    Worklist("shipped", gettext_lazy("已发货"), (S.SHIPPED, S.DELIVERED), []),
    Worklist("returns", gettext_lazy("售后"), (), [], returns=True),
    Worklist("cancelled", gettext_lazy("已取消"), (S.CANCELLED,), []),
]
BY_KEY = {w.key: w for w in WORKLISTS}


def worklist_queryset(tenant_id: int, worklist: Worklist):
    qs = Order.objects.filter(tenant_id=tenant_id)
    if worklist.returns:
        return qs.filter(Exists(ReturnRequest.objects.filter(tenant_id=tenant_id, order_id=OuterRef("pk"))
                                .exclude(status=ReturnStatus.CANCELLED)))
    if worklist.hold_reason:
        return qs.filter(Exists(Hold.objects.filter(tenant_id=tenant_id, order_id=OuterRef("pk"),
                                                    reason=worklist.hold_reason, resolved_at=None)))
    if len(worklist.statuses) == 1:
        return qs.filter(status=worklist.statuses[0])
    return qs.filter(status__in=worklist.statuses)


class WorklistFilterSet(OrderFilterSet):
    """The order filters without status: the tab is the status."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters.pop("status", None)


class WorklistView(GenericListView):
    area = Area.ORDERS
    model = Order
    filterset_class = WorklistFilterSet
    columns = COLUMNS
    ordering = QUEUE_ORDER
    select_related = ("shop", "warehouse")
    export_name = "orders"
    template_name = "console/worklist.html"
    row_errors = (services.OrderActionError, IllegalTransition, ValueError)

    def dispatch(self, request, *args, **kwargs):
        self.worklist = BY_KEY.get(kwargs.get("tab") or "pending_review")
        if self.worklist is None:
            raise Http404
        self.title = self.worklist.label
        self.actions = self.worklist.actions
        self.columns = COLUMNS + self.worklist.extra_columns
        return super().dispatch(request, *args, **kwargs)

    @property
    def prefetch_related(self):
        return (Prefetch("holds", queryset=Hold.objects.filter(resolved_at=None).order_by("pk"), to_attr="open_holds"),
                Prefetch("lines", queryset=_lines_qs()))

    def base_queryset(self):
        return worklist_queryset(self.tenant.pk, self.worklist)

    def object_label(self, obj) -> str:
        return f"{obj.number} ({obj.platform_order_id})"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        cap = self.count_cap
        counts = tab_counts(self.tenant.pk, cap)
        ctx["tabs"] = [{"key": w.key, "label": w.label, "url": reverse("orders:worklist", args=[w.key]),
                        "count": counts[w.key], "active": w.key == self.worklist.key} for w in WORKLISTS]
        ctx["cap"] = cap
        if self.worklist.by_hold_reason:
            ctx["hold_reasons"] = hold_reason_counts(self.tenant.pk, self.request.GET.get("hold_reason", ""))
        return ctx


def _lines_qs():
    from .models import OrderLine

    return OrderLine.objects.select_related("sku").order_by("pk")


def tab_counts(tenant_id: int, cap: int) -> dict[str, int]:
    """The capped count of every tab. Shown on every page, so kept for a few seconds
    (settings.OMS_TAB_COUNT_SECONDS) per tenant: seven index scans per click add up on a big tenant."""
    seconds = getattr(settings, "OMS_TAB_COUNT_SECONDS", 15)

    def compute():
        return {w.key: capped_count(worklist_queryset(tenant_id, w), cap) for w in WORKLISTS}

    if not seconds:
        return compute()
    return cache.get_or_set(f"oms:tabcounts:{tenant_id}:{cap}", compute, seconds)


def hold_reason_counts(tenant_id: int, current: str) -> list[dict]:
    """Open holds per reason on orders that are on hold (one GROUP BY on the hold index)."""
    rows = dict(Hold.objects.filter(tenant_id=tenant_id, resolved_at=None, order__status=S.ON_HOLD)
                .values_list("reason").annotate(n=Count("id")).values_list("reason", "n"))
    base = reverse("orders:worklist", args=["on_hold"])
    return [{"reason": value, "label": label, "count": rows[value], "active": value == current,
             "url": f"{base}?{urlencode({'hold_reason': value})}"}
            for value, label in HoldReason.choices if rows.get(value)]


def worklist_home(request):
    return redirect("orders:worklist", tab="pending_review")


__all__ = ["WORKLISTS", "WorklistView", "worklist_queryset", "hold_reason_counts"]
