"""Logistics pages. Staff pages go through oms.views_base (tenant scoping once: another tenant's
id is a 404 on every page, PDF and JSON). The public tracking page needs no login."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from oms import rls
from oms.roles import CHANGE, Area
from oms.views_base import TenantDetailView, TenantListView, TenantViewMixin
from orders.models import Order

from . import documents, selectors, services
from .models import BulkShipJob, Carrier, CarrierService, Shipment

PUBLIC_IP_LIMIT = 10
PUBLIC_NUMBER_LIMIT = 5
PUBLIC_WINDOW = 600  # seconds


def _pdf(content: bytes, filename: str) -> HttpResponse:
    resp = HttpResponse(content, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="{filename}"'
    return resp


class ShipmentListView(TenantListView):
    area = Area.LOGISTICS
    model = Shipment
    template_name = "logistics/shipment_list.html"

    def get_queryset(self):
        qs = super().get_queryset().select_related("order", "carrier").order_by("-created_at", "-id")
        status = self.request.GET.get("status")
        if status:
            qs = qs.filter(status=status)
        q = (self.request.GET.get("q") or "").strip()
        if q:
            qs = qs.filter(tracking_number__icontains=q) | qs.filter(order__platform_order_id__icontains=q)
        return qs


class ShipmentDetailView(TenantDetailView):
    area = Area.LOGISTICS
    model = Shipment
    template_name = "logistics/shipment_detail.html"

    def get_queryset(self):
        return super().get_queryset().select_related("order", "carrier", "warehouse")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        s = self.object
        ctx["events"] = selectors.tracking_timeline(tenant_id=self.tenant.pk, shipment_id=s.pk)
        ctx["carriers"] = Carrier.objects.all()
        ctx["services"] = CarrierService.objects.filter(tenant_id=self.tenant.pk).select_related("carrier")
        ctx["can_change"] = self.can_change()
        ctx["receiver_phone"] = selectors.mask_phone(s.order.receiver_phone)
        return ctx


class ShipmentActionView(TenantViewMixin, View):
    """POST override / cancel / ship on one parcel of this tenant."""

    area = Area.LOGISTICS
    action = CHANGE

    def post(self, request, pk: int, op: str):
        shipment = get_object_or_404(Shipment, tenant_id=self.tenant.pk, pk=pk)
        try:
            if op == "override":
                code, _sep, service = (request.POST.get("carrier") or "").partition(":")
                if not Carrier.objects.filter(code=code).exists():
                    raise Http404
                services.shipment_override(tenant_id=self.tenant.pk, shipment_id=shipment.pk, carrier_code=code,
                                           service_code=service, actor=request.user)
                messages.success(request, _("已改派"))
            elif op == "cancel":
                services.waybill_cancel(tenant_id=self.tenant.pk, shipment_id=shipment.pk, actor=request.user)
                messages.success(request, _("面单已取消"))
            elif op == "waybill":
                errors = services.waybill_request(tenant_id=self.tenant.pk, shipment_ids=[shipment.pk])
                if errors:
                    messages.error(request, errors[shipment.pk])
                else:
                    messages.success(request, _("已取号"))
            elif op == "ship":
                services.shipment_ship(tenant_id=self.tenant.pk, shipment_id=shipment.pk, actor=request.user)
                messages.success(request, _("已发货"))
            else:
                raise Http404
        except services.ShipmentError as exc:
            messages.error(request, str(exc))
        return redirect("logistics:shipment_detail", pk=shipment.pk)


class ShipmentLabelView(TenantViewMixin, View):
    area = Area.LOGISTICS

    def get(self, request, pk: int):
        s = get_object_or_404(Shipment, tenant_id=self.tenant.pk, pk=pk)
        if not s.tracking_number:
            raise Http404
        return _pdf(documents.labels_pdf(tenant_id=self.tenant.pk, shipment_ids=[s.pk]), f"label-{s.tracking_number}.pdf")


class PackingSlipView(TenantViewMixin, View):
    area = Area.LOGISTICS

    def get(self, request, order_id: int):
        order = get_object_or_404(Order, tenant_id=self.tenant.pk, pk=order_id)
        return _pdf(documents.packing_slips_pdf(tenant_id=self.tenant.pk, order_ids=[order.pk]),
                    f"packing-slip-{order.number}.pdf")


def _ids(values) -> list[int]:
    try:
        return list(dict.fromkeys(int(v) for v in values if str(v).strip()))
    except ValueError:
        raise Http404


class PickListView(TenantViewMixin, View):
    """/logistics/pick-list.pdf?order=1&order=2 -- any id not of this tenant is a 404."""

    area = Area.LOGISTICS

    def get(self, request):
        ids = _ids(request.GET.getlist("order"))
        if not ids or Order.objects.filter(tenant_id=self.tenant.pk, pk__in=ids).count() != len(ids):
            raise Http404
        return _pdf(documents.pick_list_pdf(tenant_id=self.tenant.pk, order_ids=ids), "pick-list.pdf")


class BulkShipView(TenantViewMixin, TemplateView):
    area = Area.LOGISTICS
    action = CHANGE
    template_name = "logistics/bulk_ship.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["orders"] = list(selectors.shippable_orders(tenant_id=self.tenant.pk)[:500])
        ctx["jobs"] = BulkShipJob.objects.filter(tenant_id=self.tenant.pk)[:10]
        return ctx

    def post(self, request):
        ids = _ids(request.POST.getlist("order"))
        try:
            job = services.bulk_ship_start(tenant_id=self.tenant.pk, order_ids=ids, actor=request.user,
                                           include_pick_list=request.POST.get("pick_list") == "1")
        except services.ShipmentError as exc:
            messages.error(request, str(exc))
            return redirect("logistics:bulk_ship")
        return redirect("logistics:bulk_job", pk=job.pk)


class BulkJobView(TenantDetailView):
    area = Area.LOGISTICS
    model = BulkShipJob
    template_name = "logistics/bulk_job.html"
    context_object_name = "job"


def _job_json(job: BulkShipJob) -> dict:
    return {"id": job.pk, "status": job.status, "status_label": job.get_status_display(), "total": job.total,
            "done": job.done, "failed": job.failed, "percent": job.percent, "failures": job.failures,
            "error": job.error,
            "pdf_url": reverse("logistics:bulk_job_pdf", args=[job.pk]) if job.pdf_path else ""}


class BulkJobStatusView(TenantViewMixin, View):
    area = Area.LOGISTICS

    def get(self, request, pk: int):
        job = get_object_or_404(BulkShipJob, tenant_id=self.tenant.pk, pk=pk)
        return JsonResponse(_job_json(job))


class BulkJobRerunView(TenantViewMixin, View):
    area = Area.LOGISTICS
    action = CHANGE

    def post(self, request, pk: int):
        job = get_object_or_404(BulkShipJob, tenant_id=self.tenant.pk, pk=pk)
        from . import tasks

        tasks.bulk_ship.delay(self.tenant.pk, job.pk)
        messages.success(request, _("已重新排队，已发货的订单会被跳过"))
        return redirect("logistics:bulk_job", pk=job.pk)


class BulkJobPdfView(TenantViewMixin, View):
    area = Area.LOGISTICS

    def get(self, request, pk: int):
        job = get_object_or_404(BulkShipJob, tenant_id=self.tenant.pk, pk=pk)
        if not job.pdf_path:
            raise Http404
        root = Path(settings.MEDIA_ROOT).resolve()
        path = (root / job.pdf_path).resolve()
        if root not in path.parents or not path.exists():
            raise Http404
        return FileResponse(path.open("rb"), content_type="application/pdf", filename=f"bulk-ship-{job.pk}.pdf")


class CarrierReportView(TenantViewMixin, TemplateView):
    area = Area.LOGISTICS
    template_name = "logistics/carrier_report.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        try:
            days = max(1, min(365, int(self.request.GET.get("days") or 0))) or None
        except ValueError:
            days = None
        settings_row = selectors.logistics_settings(tenant_id=self.tenant.pk)
        ctx["days"] = days or settings_row.scorecard_days
        ctx["cards"] = selectors.carrier_scorecards(tenant_id=self.tenant.pk, days=ctx["days"])
        return ctx


# --- public tracking page ----------------------------------------------------------------------
def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _hit(key: str, limit: int) -> bool:
    """Count one try; True when the limit is exceeded within the window."""
    if cache.add(key, 1, PUBLIC_WINDOW):
        return False
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, PUBLIC_WINDOW)
        return False
    return count > limit


def _tracking_result(order: Order) -> dict:
    shipments = list(Shipment.objects.filter(tenant_id=order.tenant_id, order=order)
                     .exclude(status="cancelled").select_related("carrier").order_by("-id"))
    return {
        "order": order, "name": selectors.mask_name(order.receiver_name),
        "phone": selectors.mask_phone(order.receiver_phone),
        "region": f"{order.receiver_province}{order.receiver_city}{order.receiver_district}",
        "parcels": [{"shipment": s, "events": selectors.tracking_timeline(tenant_id=order.tenant_id, shipment_id=s.pk)}
                    for s in shipments],
    }


def track(request):
    """Buyers: order number + last 4 digits of the receiver's phone -> status and timeline.
    A wrong number and wrong digits get the same answer; tries are limited per IP and number."""
    ctx = {"number": "", "result": None, "not_found": False}
    status = 200
    number = (request.POST.get("number") or request.GET.get("number") or "").strip()[:64]
    digits = (request.POST.get("phone") or request.GET.get("phone") or "").strip()[:8]
    if not number and not digits and request.GET.get("order"):
        # the link in the buyer's "shipped" SMS: fill in the order number, ask for the digits
        ctx["number"] = request.GET["order"].strip()[:64]
    elif number or digits:
        ctx["number"] = number
        ip_over = _hit(f"track:ip:{_client_ip(request)}", PUBLIC_IP_LIMIT)
        num_over = _hit(f"track:num:{number.upper()}", PUBLIC_NUMBER_LIMIT) if number else False
        if ip_over or num_over:
            ctx["limited"] = True
            status = 429
        else:
            with rls.system_scope():  # a buyer is no member: the order number finds the tenant
                order = selectors.public_order_lookup(number=number, phone_last4=digits)
            if order is None:
                ctx["not_found"] = True
                status = 404
            else:
                with rls.tenant_scope(order.tenant_id):
                    ctx["result"] = _tracking_result(order)
    resp = render(request, "logistics/track.html", ctx, status=status)
    resp["Cache-Control"] = "no-store"
    return resp
