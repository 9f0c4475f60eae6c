"""Order pages: the queue, one order with its customer-service actions, the merge queue.

Views only parse input and call services / selectors; scoping comes from oms.views_base (another
tenant's id is a 404). Anyone with view rights on orders sees the pages; acting needs change
rights (owner, ops, customer service).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from inventory.models import Sku, Warehouse
from oms.roles import CHANGE, Area
from oms.views_base import TenantDetailView, TenantListView, TenantViewMixin

from . import merge, selectors, services
from .models import Hold, HoldReason, Order, OrderKind, ReturnKind, ReturnRequest
from .states import AFTER_SHIPPING, BEFORE_PICKING, BEFORE_SHIPPING, OrderStatus


class OrderListView(TenantListView):
    model = Order
    area = Area.ORDERS
    template_name = "orders/order_list.html"

    def get_queryset(self):
        qs = selectors.order_list(tenant=self.tenant)
        status = self.request.GET.get("status")
        if status in OrderStatus.values:
            qs = qs.filter(status=status)
        q = (self.request.GET.get("q") or "").strip()
        if q:
            qs = qs.filter(platform_order_id__icontains=q) | qs.filter(receiver_name=q) | qs.filter(receiver_phone=q)
        return qs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["statuses"] = OrderStatus.choices
        ctx["current_status"] = self.request.GET.get("status", "")
        return ctx


MAPPABLE = (OrderStatus.PENDING_REVIEW, OrderStatus.ON_HOLD, OrderStatus.APPROVED, OrderStatus.ALLOCATED)
FIELD_LABELS = {f.name: f.verbose_name for f in Order._meta.fields}


def _conflict_rows(hold: Hold) -> list[tuple[str, str, str]]:
    """(field, this system's value, the platform's value) of an address conflict, side by side."""
    data = hold.data or {}
    local, platform = data.get("local") or {}, data.get("platform") or {}
    return [(str(FIELD_LABELS.get(f, f)), local.get(f, ""), platform.get(f, "")) for f in merge.RECEIVER_FIELDS
            if f in local and local.get(f) != platform.get(f)]


def _int(value, default=0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class OrderDetailView(TenantDetailView):
    model = Order
    area = Area.ORDERS
    template_name = "orders/order_detail.html"
    context_object_name = "order"

    def get_queryset(self):
        return super().get_queryset().select_related("shop", "warehouse")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        order = self.object
        tid = self.tenant.pk
        ctx.update(
            can_change=self.can_change(),
            lines=list(order.lines.select_related("sku").order_by("id")),
            holds=list(Hold.objects.filter(tenant_id=tid, order=order).order_by("-resolved_at", "created_at")),
            events=list(order.events.select_related("actor").order_by("-created_at", "-id")),
            returns=list(ReturnRequest.objects.filter(tenant_id=tid, order=order).prefetch_related(
                "lines__order_line").order_by("-id")),
            sources=list(selectors.sources_of(order=order)),
            children=list(selectors.children_of(order=order)),
            platform_refs=selectors.order_platform_refs(order=order),
            warehouses=list(Warehouse.objects.filter(tenant_id=tid, active=True).order_by("priority", "id")),
            skus=list(Sku.objects.filter(tenant_id=tid, active=True).order_by("code")[:500]),
            hold_reasons=[(HoldReason.MANUAL, HoldReason.MANUAL.label)],
            before_shipping=order.status in BEFORE_SHIPPING,
            before_picking=order.status in BEFORE_PICKING,
            after_shipping=order.status in AFTER_SHIPPING,
            is_merged=order.kind == OrderKind.MERGED,
            return_kinds=ReturnKind.choices,
        )
        if order.status in (OrderStatus.APPROVED, OrderStatus.ALLOCATED):
            ctx["candidates"] = services.allocation_candidates(order)
        ctx["conflicts"] = {h.pk: _conflict_rows(h) for h in ctx["holds"] if h.is_open and h.reason == HoldReason.CONFLICT}
        ctx["mappable"] = can_map = order.status in MAPPABLE and order.kind != OrderKind.MERGED
        ctx["unmapped"] = [ln for ln in ctx["lines"] if ln.sku_id is None and not ln.is_gift] if can_map else []
        return ctx

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        if not self.can_change():
            raise PermissionDenied
        action = request.POST.get("action", "")
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            raise Http404
        try:
            msg = handler(self.object, request.POST, request.user)
            messages.success(request, msg or _("已保存"))
        except services.OrderActionError as exc:
            messages.error(request, str(exc))
        target = getattr(self, "redirect_to", None) or self.object
        return redirect("orders:detail", pk=target.pk)

    # --- actions: each one service call -------------------------------------------------------------
    def do_receiver(self, order, data, user):
        fields = ("receiver_name", "receiver_phone", "receiver_province", "receiver_city", "receiver_district",
                  "receiver_address", "receiver_postcode")
        services.order_change_receiver(order=order, actor=user, **{f: data.get(f) for f in fields if f in data})
        return _("收件信息已更新")

    def do_conflict(self, order, data, user):
        keep = data.get("keep", "")
        if keep not in ("local", "platform"):
            raise services.OrderActionError(_("请选择保留哪一方的收件信息"))
        services.order_conflict_resolve(order=order, keep=keep, actor=user, note=data.get("note", ""))
        return _("已采用平台的收件信息") if keep == "platform" else _("已保留本地的收件信息")

    def do_map_line(self, order, data, user):
        line_id, sku_id = _int(data.get("line")), _int(data.get("sku"))
        if not sku_id:
            raise services.OrderActionError(_("请选择商品"))
        services.order_line_map(order=order, line_id=line_id, sku_id=sku_id, actor=user)
        return _("商品已匹配")

    def do_note(self, order, data, user):
        services.order_add_note(order=order, text=data.get("text", ""), actor=user)
        return _("备注已添加")

    def do_cancel(self, order, data, user):
        services.order_cancel(order=order, actor=user, reason=data.get("reason", ""))
        return _("订单已取消")

    def do_urgent(self, order, data, user):
        urgent = data.get("urgent") == "1"
        services.order_set_urgent(order=order, urgent=urgent, actor=user)
        return _("已标记加急") if urgent else _("已取消加急")

    def do_hold(self, order, data, user):
        until = None
        if data.get("until"):
            try:
                until = timezone.make_aware(datetime.fromisoformat(data["until"]))
            except ValueError:
                raise services.OrderActionError(_("挂起时间格式不正确")) from None
        services.order_hold(order=order, detail=data.get("detail", ""), until=until, actor=user)
        return _("订单已挂起")

    def do_resolve(self, order, data, user):
        try:
            hold = Hold.objects.get(tenant_id=self.tenant.pk, order=order, pk=_int(data.get("hold")))
        except Hold.DoesNotExist:
            raise Http404 from None
        services.hold_resolve(hold=hold, actor=user, note=data.get("note", ""))
        return _("挂起已解除")

    def do_approve(self, order, data, user):
        services.order_approve(order=order, actor=user)
        return _("已审核通过")

    def do_allocate(self, order, data, user):
        wid = _int(data.get("warehouse"), 0) or None
        done = services.order_allocate(order=order, warehouse_id=wid, actor=user)
        return _("已分仓") if done else _("无法分仓，订单已挂起")

    def do_unmerge(self, order, data, user):
        services.order_unmerge(order=order, actor=user)
        return _("已撤销合并")

    def do_unsplit(self, order, data, user):
        self.redirect_to = services.order_unsplit(order=order, actor=user)
        return _("已撤销拆单")

    def do_split(self, order, data, user):
        moved, rest = {}, {}
        for ln in order.lines.all():
            q = max(0, min(_int(data.get(f"split_{ln.pk}")), ln.quantity))
            if q:
                moved[ln.pk] = q
            if ln.quantity - q:
                rest[ln.pk] = ln.quantity - q
        children = services.order_split(order=order, parts=[rest, moved], actor=user)
        return _("已拆分为 %(n)s") % {"n": "、".join(c.number for c in children)}

    def do_return(self, order, data, user):
        lines = {ln.pk: _int(data.get(f"return_{ln.pk}")) for ln in order.lines.all()}
        kind = data.get("kind") if data.get("kind") in ReturnKind.values else ReturnKind.RETURN
        exchange = {ln.pk: _int(data.get(f"exchange_{ln.pk}")) for ln in order.lines.all()
                    if _int(data.get(f"exchange_{ln.pk}"))}
        rr = services.return_request_create(order=order, lines=lines, reason=data.get("reason", ""), kind=kind,
                                            exchange_skus=exchange, actor=user)
        return _("已创建售后单 %(n)s") % {"n": rr.number}

    def _return(self, order, data) -> ReturnRequest:
        try:
            return ReturnRequest.objects.get(tenant_id=self.tenant.pk, order=order, pk=_int(data.get("return")))
        except ReturnRequest.DoesNotExist:
            raise Http404 from None

    def do_return_receive(self, order, data, user):
        services.return_receive(return_request=self._return(order, data), actor=user)
        return _("已确认收货")

    def do_return_inspect(self, order, data, user):
        services.return_inspect(return_request=self._return(order, data), note=data.get("note", ""), actor=user)
        return _("已质检")

    def do_return_restock(self, order, data, user):
        services.return_restock(return_request=self._return(order, data), warehouse_id=_int(data.get("warehouse")),
                                actor=user)
        return _("已退货入库")

    def do_return_write_off(self, order, data, user):
        services.return_write_off(return_request=self._return(order, data), note=data.get("note", ""), actor=user)
        return _("已报损")

    def do_return_refund(self, order, data, user):
        try:
            amount = Decimal(data.get("amount", ""))
        except InvalidOperation:
            raise services.OrderActionError(_("退款金额格式不正确")) from None
        services.return_set_refund(return_request=self._return(order, data), amount=amount, actor=user)
        return _("退款金额已记录")

    def do_return_exchange(self, order, data, user):
        new = services.return_create_exchange(return_request=self._return(order, data), actor=user)
        return _("已创建换货单 %(n)s") % {"n": new.number}


class MergeQueueView(TenantViewMixin, TemplateView):
    area = Area.ORDERS
    template_name = "orders/merge_queue.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["groups"] = selectors.merge_groups(tenant_id=self.tenant.pk)
        ctx["can_change"] = self.can_change()
        return ctx

    def post(self, request, *args, **kwargs):
        from oms.roles import role_can

        if not role_can(request.membership.role, Area.ORDERS, CHANGE):
            raise PermissionDenied
        ids = [_int(i) for i in request.POST.getlist("order")]
        orders = list(Order.objects.filter(tenant_id=self.tenant.pk, pk__in=ids))
        if len(orders) != len(set(ids)):
            raise Http404
        try:
            merged = services.order_merge(orders=orders, actor=request.user)
        except services.OrderActionError as exc:
            messages.error(request, str(exc))
            return redirect("orders:merge_queue")
        messages.success(request, _("已合并为 %(n)s") % {"n": merged.number})
        return redirect("orders:detail", pk=merged.pk)
