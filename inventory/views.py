"""Inventory pages: the low-stock dashboard and transfers (list, detail with its actions).

Scoping comes from oms.views_base; every id is looked up inside the tenant (another tenant's
id -> 404). Pages only call selectors and services."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView, View

from oms.roles import CHANGE, Area
from oms.views_base import TenantViewMixin

from . import selectors, services
from .models import TransferOrder, TransferStatus


class LowStockView(TenantViewMixin, TemplateView):
    area = Area.INVENTORY
    template_name = "inventory/low_stock.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["rows"] = selectors.low_stock_rows(tenant_id=self.tenant.pk)
        ctx["window_days"] = selectors.COVER_WINDOW_DAYS
        return ctx


class TransferListView(TenantViewMixin, TemplateView):
    area = Area.INVENTORY
    template_name = "inventory/transfer_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        status = self.request.GET.get("status") or None
        if status not in TransferStatus.values:
            status = None
        suggested = {"1": True, "0": False}.get(self.request.GET.get("suggested", ""))
        ctx.update(
            transfers=selectors.transfer_list(tenant_id=self.tenant.pk, status=status, suggested=suggested)[:200],
            statuses=TransferStatus.choices, status=status, suggested=suggested, can_change=self.can_change(),
        )
        return ctx


class TransferSuggestView(TenantViewMixin, View):
    """Run the suggestion job for this tenant now (it also runs hourly)."""

    area = Area.INVENTORY
    action = CHANGE

    def post(self, request):
        found = services.transfer_suggest(tenant_id=self.tenant.pk)
        messages.success(request, _("已生成调拨建议 %(n)s 条") % {"n": len(found)})
        return redirect("inventory:transfer_list")


class TransferDetailView(TenantViewMixin, TemplateView):
    area = Area.INVENTORY
    template_name = "inventory/transfer_detail.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        try:
            transfer = selectors.transfer_get(tenant_id=self.tenant.pk, pk=int(kwargs["pk"]))
        except (TransferOrder.DoesNotExist, ValueError):
            raise Http404
        ctx.update(transfer=transfer, lines=list(selectors.transfer_lines(transfer=transfer)),
                   can_change=self.can_change(), S=TransferStatus,
                   receivable=transfer.status in (TransferStatus.SHIPPED, TransferStatus.PARTIALLY_RECEIVED))
        return ctx


def _quantities(post, prefix: str) -> dict[int, int]:
    out = {}
    for key, value in post.items():
        if key.startswith(prefix) and value.strip() != "":
            try:
                out[int(key[len(prefix):])] = int(value)
            except ValueError:
                raise services.TransferError(_("数量必须是整数"))
    return out


class TransferActionView(TenantViewMixin, View):
    """POST /inventory/transfers/<pk>/<op>/ — one service call per action."""

    area = Area.INVENTORY
    action = CHANGE
    OPS = ("accept", "dismiss", "update", "ship", "receive", "close")

    def post(self, request, pk: int, op: str):
        if op not in self.OPS:
            raise Http404
        tenant_id = self.tenant.pk
        try:
            transfer = selectors.transfer_get(tenant_id=tenant_id, pk=pk)
        except TransferOrder.DoesNotExist:
            raise Http404
        user = request.user
        try:
            if op == "accept":
                services.transfer_accept(tenant_id=tenant_id, transfer_id=transfer.pk, actor=user)
                messages.success(request, _("已采纳调拨建议"))
            elif op == "dismiss":
                services.transfer_dismiss(tenant_id=tenant_id, transfer_id=transfer.pk, actor=user,
                                          note=request.POST.get("note", ""))
                messages.success(request, _("调拨单已驳回"))
            elif op == "update":
                by_line = _quantities(request.POST, "qty_")
                sku_of = dict(transfer.lines.values_list("pk", "sku_id"))
                if set(by_line) - set(sku_of):
                    raise Http404
                services.transfer_update_lines(tenant_id=tenant_id, transfer_id=transfer.pk, actor=user,
                                               quantities={sku_of[lid]: q for lid, q in by_line.items()})
                messages.success(request, _("调拨数量已保存"))
            elif op == "ship":
                services.transfer_ship(tenant_id=tenant_id, transfer_id=transfer.pk, actor=user)
                messages.success(request, _("调拨单已发出，库存已从调出仓扣减"))
            elif op == "receive":
                services.transfer_receive(tenant_id=tenant_id, transfer_id=transfer.pk, actor=user,
                                          quantities=_quantities(request.POST, "recv_"))
                messages.success(request, _("到货已登记"))
            elif op == "close":
                services.transfer_close(tenant_id=tenant_id, transfer_id=transfer.pk, actor=user,
                                        reason=request.POST.get("reason", ""))
                messages.success(request, _("调拨单已关闭，未到货部分已报损"))
        except services.StockError as exc:
            messages.error(request, str(exc))
        return redirect(reverse("inventory:transfer_detail", args=[transfer.pk]))
