from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = _("租户与权限")

    def ready(self):
        from . import security

        security.connect()
