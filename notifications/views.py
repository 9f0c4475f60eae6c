"""Pages of notifications: the outbox (list, detail) and staff actions on it. Recipients are
shown masked; another tenant's id is a 404."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from oms.roles import CHANGE, Area
from oms.views_base import TenantDetailView, TenantListView, TenantViewMixin

from . import selectors, services
from .adapters.base import SendError
from .filters import NotificationFilter
from .models import Notification


class NotificationListView(TenantListView):
    model = Notification
    area = Area.NOTIFICATIONS
    template_name = "notifications/notification_list.html"
    context_object_name = "notifications"

    def get_queryset(self):
        self.filterset = NotificationFilter(self.request.GET or None,
                                            queryset=selectors.outbox(tenant_id=self.tenant.pk))
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["filter"] = self.filterset
        ctx["can_change"] = self.can_change()
        return ctx


class NotificationDetailView(TenantDetailView):
    model = Notification
    area = Area.NOTIFICATIONS
    template_name = "notifications/notification_detail.html"
    context_object_name = "notification"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["can_change"] = self.can_change()
        return ctx


class NotificationRetryView(TenantViewMixin, View):
    area = Area.NOTIFICATIONS
    action = CHANGE
    http_method_names = ["post"]

    def post(self, request, pk: int):
        notification = get_object_or_404(Notification.objects.for_tenant(self.tenant), pk=pk)
        try:
            services.notification_retry(tenant_id=self.tenant.pk, notification_id=notification.pk)
            messages.success(request, _("通知已重新排队发送"))
        except SendError as exc:
            messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("notifications:detail", args=[notification.pk]))


class TemplateDefaultsInstallView(TenantViewMixin, View):
    area = Area.NOTIFICATIONS
    action = CHANGE
    http_method_names = ["post"]

    def post(self, request):
        n = services.template_defaults_install(tenant_id=self.tenant.pk)
        messages.success(request, _("已创建 %(n)d 个模板，可在管理后台修改") % {"n": n})
        return HttpResponseRedirect(reverse("notifications:list"))


