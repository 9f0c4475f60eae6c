from django.core.management.base import BaseCommand

from oms.management.commands.seed_demo import DEMO_PASSWORD
from oms.models import Membership


class Command(BaseCommand):
    help = "Print the demo logins."

    def handle(self, *args, **kwargs):
        self.stdout.write(f"logins (password for all: {DEMO_PASSWORD}):")
        self.stdout.write(f"  {'admin':<22} 平台管理员（超级用户）")
        for m in Membership.objects.select_related("user", "tenant").order_by("tenant_id", "id"):
            self.stdout.write(f"  {m.user.username:<22} {m.tenant.name} · {m.get_role_display()}")
