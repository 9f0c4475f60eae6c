"""Feed one platform list-response page (or a single raw order) through
archive -> normalise -> ingest, exactly as a pull would, and print a JSON summary line."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from channels import services
from channels.models import Shop
from oms import rls
from oms.models import Tenant


class Command(BaseCommand):
    help = "Ingest a platform payload file for one shop of one tenant."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--shop", required=True, help="shop name")
        parser.add_argument("file")

    def handle(self, *args, tenant, shop, file, **kwargs):
        try:
            tenant_obj = Tenant.objects.get(slug=tenant)
        except Tenant.DoesNotExist:
            raise CommandError(f"no tenant {tenant!r}")
        with rls.tenant_scope(tenant_obj.pk):
            try:
                shop_obj = Shop.objects.get(tenant=tenant_obj, name=shop)
            except Shop.DoesNotExist:
                raise CommandError(f"tenant {tenant!r} has no shop {shop!r}")
            try:
                payload = json.loads(Path(file).read_text(encoding="utf-8-sig"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read {file}: {exc}")
            counts = services.ingest_payload(shop=shop_obj, payload=payload)
        self.stdout.write(json.dumps(counts.summary()))
