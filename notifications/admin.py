from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from oms.admin_base import ReadOnlyTenantAdmin, TenantAdmin
from oms.crypto import mask
from oms.roles import CHANGE, Area

from . import services
from .adapters.base import SendError
from .forms import NotificationTemplateForm, SmsAccountForm
from .models import Contact, Notification, NotificationTemplate, SmsAccount, mask_recipient


@admin.register(Notification)
class NotificationAdmin(ReadOnlyTenantAdmin):
    area = Area.NOTIFICATIONS
    list_display = ("created_at", "template", "channel", "masked_recipient", "status", "attempts", "next_attempt_at",
                    "sent_at")
    list_filter = ("channel", "status", "template")
    search_fields = ("dedupe_key", "subject")
    exclude = ("recipient", "locked_until")
    readonly_fields = ("masked_recipient",)
    actions = ["retry_selected"]

    @admin.display(description=_("接收人"))
    def masked_recipient(self, obj):
        return mask_recipient(obj.recipient)

    def has_retry_permission(self, request):
        return self._can(request, CHANGE)

    @admin.action(description=_("重新发送失败的通知"), permissions=["retry"])
    def retry_selected(self, request, queryset):
        done = 0
        for n in queryset.filter(status=Notification.Status.FAILED):
            try:
                services.notification_retry(tenant_id=request.tenant.pk, notification_id=n.pk)
                done += 1
            except SendError as exc:
                self.message_user(request, f"#{n.pk}: {exc}", messages.ERROR)
        self.message_user(request, ngettext("%(n)d 条通知已重新排队", "%(n)d 条通知已重新排队", done) % {"n": done})


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(TenantAdmin):
    area = Area.NOTIFICATIONS
    form = NotificationTemplateForm
    list_display = ("event", "channel", "enabled", "sms_template_code", "updated_at")
    list_filter = ("event", "channel", "enabled")


@admin.register(Contact)
class ContactAdmin(TenantAdmin):
    area = Area.NOTIFICATIONS
    list_display = ("name", "masked_email", "masked_phone", "is_purchasing", "active")
    list_filter = ("is_purchasing", "active")
    search_fields = ("name",)

    @admin.display(description=_("邮箱"))
    def masked_email(self, obj):
        return mask_recipient(obj.email) if obj.email else "-"

    @admin.display(description=_("手机"))
    def masked_phone(self, obj):
        return mask_recipient(obj.phone) if obj.phone else "-"


@admin.register(SmsAccount)
class SmsAccountAdmin(TenantAdmin):
    area = Area.NOTIFICATIONS
    form = SmsAccountForm
    list_display = ("provider", "sign_name", "enabled", "api_base_url")
    readonly_fields = ("credentials_masked",)

    @admin.display(description=_("接口凭证"))
    def credentials_masked(self, obj):
        return ", ".join(f"{k}={mask(v)}" for k, v in sorted((obj.credentials or {}).items())) or "-"
