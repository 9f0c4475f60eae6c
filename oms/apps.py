from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _apply_policies(sender, using="default", **kwargs):
    from . import rls

    rls.apply_policies(using=using)


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = _("租户与权限")

    def ready(self):
        from celery.signals import task_postrun, task_prerun
        from django.core.checks import Tags, register
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from . import rls

        # row-level security (oms/rls.py): every connection starts in its thread's scope, every
        # task runs in its tenant's, and every migrate leaves each tenant-owned table with a policy
        connection_created.connect(rls.on_connection_created, dispatch_uid="oms.rls.connection")
        task_prerun.connect(rls.on_task_prerun, dispatch_uid="oms.rls.task_prerun")
        task_postrun.connect(rls.on_task_postrun, dispatch_uid="oms.rls.task_postrun")
        post_migrate.connect(_apply_policies, sender=self, dispatch_uid="oms.rls.policies")
        register(rls.check_policies, Tags.database)

        from . import security

        security.connect()
