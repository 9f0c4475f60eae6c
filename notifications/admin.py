from django.contrib import admin

from oms.admin_base import ReadOnlyTenantAdmin
from oms.roles import Area

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyTenantAdmin):
    area = Area.NOTIFICATIONS
    list_display = ("created_at", "channel", "template", "status", "attempts", "sent_at")
    list_filter = ("channel", "status", "template")
