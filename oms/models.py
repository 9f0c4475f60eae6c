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
