"""Tenancy core: Tenant, Membership, and the abstract base of every tenant-owned model."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .roles import Role


class Tenant(models.Model):
    name = models.CharField(_("名称"), max_length=100)
    slug = models.SlugField(_("标识"), max_length=50, unique=True)
    auto_approve = models.BooleanField(_("自动审核通过"), default=True,
                                       help_text=_("没有异常的订单自动审核通过"))
    default_currency = models.CharField(_("默认币种"), max_length=3, default="CNY")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("租户")
        verbose_name_plural = _("租户")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships",
                               verbose_name=_("租户"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships", verbose_name=_("用户"))
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("成员")
        verbose_name_plural = _("成员")
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.get_role_display()})"


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant | int) -> TenantQuerySet:
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        return self.filter(tenant_id=tenant_id)


class TenantOwned(models.Model):
    """Every business table inherits this: a non-null tenant, and `for_tenant()`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("租户"), editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class ImportJob(TenantOwned):
    """One uploaded import file (orders, SKUs, SKU mappings, stock levels): big files are
    validated and written by a Celery task; this row carries its status, progress and problems."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        VALIDATING = "validating", _("校验中")
        WRITING = "writing", _("写入中")
        DONE = "done", _("已完成")
        INVALID = "invalid", _("有错误，未导入")
        FAILED = "failed", _("出错")

    kind = models.CharField(_("导入类型"), max_length=20)
    original_name = models.CharField(_("文件名"), max_length=255, blank=True)
    file_path = models.CharField(_("文件"), max_length=255)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已处理"), default=0)
    errors = models.JSONField(_("问题"), default=list, blank=True)
    result = models.JSONField(_("结果"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("操作人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "created_at"], name="importjob_tenant_created")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"

    @property
    def percent(self) -> int:
        if self.status in (self.Status.DONE, self.Status.INVALID, self.Status.FAILED):
            return 100
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0
