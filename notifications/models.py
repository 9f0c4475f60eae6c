"""The outbox of buyer and staff messages (SMS, e-mail), their per-tenant templates, the tenant's
purchasing contacts and the tenant's SMS provider account."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oms.crypto import EncryptedJSONField
from oms.models import TenantOwned
from oms.privacy import mask_email


class Channel(models.TextChoices):
    SMS = "sms", _("短信")
    EMAIL = "email", _("邮件")


class Event(models.TextChoices):
    SHIPPED = "shipped", _("已发货")
    OUT_FOR_DELIVERY = "out_for_delivery", _("派送中")
    DELIVERED = "delivered", _("已签收")
    LOW_STOCK = "low_stock", _("库存预警(内部)")


def mask_recipient(value: str) -> str:
    """What staff see of a recipient: 138****8000, a***e@example.com."""
    value = str(value or "")
    if "@" in value:
        return mask_email(value)
    if len(value) >= 8:
        return value[:3] + "****" + value[-4:]
    return "*" * len(value)


class Notification(TenantOwned):
    """One message to one recipient. Rendered when enqueued (inside the sender's transaction),
    sent after commit by a task; `dedupe_key` makes a repeated event a no-op."""

    Channel = Channel

    class Status(models.TextChoices):
        QUEUED = "queued", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(_("接收人"), max_length=200)
    template = models.CharField(_("事件"), max_length=50, choices=Event.choices)
    context = models.JSONField(_("内容参数"), default=dict, blank=True)
    subject = models.CharField(_("标题"), max_length=200, blank=True)
    body = models.TextField(_("正文"), blank=True)
    sms_template_code = models.CharField(_("短信模板编码"), max_length=50, blank=True)
    sms_params = models.JSONField(_("短信模板参数"), default=dict, blank=True)
    dedupe_key = models.CharField(_("去重键"), max_length=120)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    error = models.TextField(_("错误"), blank=True)
    order_id = models.BigIntegerField(_("订单"), null=True, blank=True)
    shipment_id = models.BigIntegerField(_("包裹"), null=True, blank=True)
    provider_message_id = models.CharField(_("服务商回执号"), max_length=64, blank=True)
    next_attempt_at = models.DateTimeField(_("下次发送时间"), default=timezone.now)
    # a send in progress holds the row until then (a second worker skips it; a dead one's lease expires)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_attempt_at = models.DateTimeField(_("上次尝试"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="notification_dedupe")]
        indexes = [
            models.Index(fields=["tenant", "status"], name="notification_tenant_status"),
            models.Index(fields=["tenant", "order_id"], name="notification_tenant_order"),
            # the periodic re-send scans due queued rows of every tenant
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_template_display()} / {self.get_channel_display()} #{self.pk}"

    @property
    def masked_recipient(self) -> str:
        return mask_recipient(self.recipient)


class NotificationTemplate(TenantOwned):
    """A tenant's wording for one event on one channel, and whether it is sent at all.
    Without a row the built-in default (notifications.defaults) applies."""

    event = models.CharField(_("事件"), max_length=30, choices=Event.choices)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    enabled = models.BooleanField(_("启用"), default=True)
    subject = models.CharField(_("标题"), max_length=200, blank=True,
                               help_text=_("邮件标题，Django 模板语法，例如 {{ platform_order_id }}"))
    body = models.TextField(_("正文"), blank=True,
                            help_text=_("邮件正文或短信预览文字，Django 模板语法"))
    sms_template_code = models.CharField(_("短信模板编码"), max_length=50, blank=True,
                                         help_text=_("阿里云短信模板 CODE，例如 SMS_123456789"))
    sms_params = models.JSONField(_("短信模板参数"), default=dict, blank=True,
                                  help_text=_("短信模板变量名 -> Django 模板，例如 {\"no\": \"{{ tracking_number }}\"}"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知模板")
        verbose_name_plural = _("通知模板")
        ordering = ["event", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "event", "channel"], name="notificationtemplate_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} / {self.get_channel_display()}"


class Contact(TenantOwned):
    """A person of the tenant who receives internal alerts (purchasing: low stock)."""

    name = models.CharField(_("姓名"), max_length=100)
    email = models.EmailField(_("邮箱"), blank=True)
    phone = models.CharField(_("手机"), max_length=40, blank=True)
    is_purchasing = models.BooleanField(_("采购联系人"), default=False, help_text=_("接收库存预警"))
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("联系人")
        verbose_name_plural = _("联系人")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["tenant", "is_purchasing"], name="contact_tenant_purchasing")]

    def __str__(self) -> str:
        return self.name


class SmsProvider(models.TextChoices):
    ALIYUN = "aliyun", _("阿里云短信")


class SmsAccount(TenantOwned):
    """The tenant's own SMS provider account. Without an enabled one, no SMS is queued."""

    provider = models.CharField(_("服务商"), max_length=20, choices=SmsProvider.choices, default=SmsProvider.ALIYUN)
    sign_name = models.CharField(_("短信签名"), max_length=50)
    credentials = EncryptedJSONField(_("接口凭证"), blank=True, default=dict)
    api_base_url = models.CharField(_("接口地址"), max_length=200, blank=True,
                                    help_text=_("留空使用 https://dysmsapi.aliyuncs.com/；演示和测试指向沙箱"))
    region_id = models.CharField(_("区域"), max_length=30, default="cn-hangzhou")
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("短信账号")
        verbose_name_plural = _("短信账号")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="smsaccount_one_per_tenant")]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ({self.sign_name})"
