"""The outbox of buyer and staff messages (SMS, e-mail)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from oms.models import TenantOwned


class Notification(TenantOwned):
    class Channel(models.TextChoices):
        SMS = "sms", _("短信")
        EMAIL = "email", _("邮件")

    class Status(models.TextChoices):
        QUEUED = "queued", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(_("接收人"), max_length=200)
    template = models.CharField(_("模板"), max_length=50)
    context = models.JSONField(_("内容参数"), default=dict, blank=True)
    dedupe_key = models.CharField(_("去重键"), max_length=120)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    error = models.TextField(_("错误"), blank=True)
    order_id = models.BigIntegerField(_("订单"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="notification_dedupe")]
        indexes = [models.Index(fields=["tenant", "status"], name="notification_tenant_status")]
