"""manage.py reconcile_stock [--tenant SLUG] [--rows N]

Recomputes every stock level from its ledger and prints each drifting level (warehouse, SKU,
level vs ledger sums, and its ledger rows). Exits 1 when anything drifts, 0 when clean. It never
fixes anything: a drift is a bug (or a hand edit) to be understood first.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import services
from inventory.models import Sku, StockMovement, Warehouse
from oms import rls
from oms.models import Tenant


class Command(BaseCommand):
    help = _("按库存流水核对库存数量，列出差异（不自动修正）；有差异时退出码为 1")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help=_("只核对该租户（标识）"))
        parser.add_argument("--rows", type=int, default=50, help=_("每个差异最多列出的流水行数（最近的）"))

    @rls.system_scope()  # every tenant, or the one named
    def handle(self, *args, tenant=None, rows=50, **options):
        tenant_id = None
        if tenant:
            found = Tenant.objects.filter(slug=tenant).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(_("租户不存在：%(slug)s") % {"slug": tenant})
            tenant_id = found
        drifts = services.stock_reconcile(tenant_id=tenant_id)
        if not drifts:
            self.stdout.write(_("库存与流水一致，没有差异。"))
            return
        wh_names = {w.pk: f"{w.code} {w.name}" for w in Warehouse.objects.filter(pk__in={d.warehouse_id for d in drifts})}
        sku_names = {s.pk: f"{s.code} {s.name}" for s in Sku.objects.filter(pk__in={d.sku_id for d in drifts})}
        tenants = dict(Tenant.objects.filter(pk__in={d.tenant_id for d in drifts}).values_list("pk", "slug"))
        for d in drifts:
            self.stdout.write(_(
                "差异 租户=%(tenant)s 仓库=%(wh)s SKU=%(sku)s：库存 在库 %(oh)s / 占用 %(rs)s，"
                "流水合计 在库 %(loh)s / 占用 %(lrs)s（差 %(doh)+d / %(drs)+d）") % {
                "tenant": tenants.get(d.tenant_id, d.tenant_id), "wh": wh_names.get(d.warehouse_id, d.warehouse_id),
                "sku": sku_names.get(d.sku_id, d.sku_id), "oh": d.on_hand, "rs": d.reserved, "loh": d.ledger_on_hand,
                "lrs": d.ledger_reserved, "doh": d.on_hand - d.ledger_on_hand, "drs": d.reserved - d.ledger_reserved})
            moves = StockMovement.objects.filter(tenant_id=d.tenant_id, warehouse_id=d.warehouse_id, sku_id=d.sku_id)
            total = moves.count()
            shown = list(moves.order_by("-created_at", "-id")[:rows])[::-1]
            if total > len(shown):
                self.stdout.write("    " + _("（共 %(n)s 条流水，列出最近 %(m)s 条）") % {"n": total, "m": len(shown)})
            for m in shown:
                self.stdout.write(f"    #{m.pk} {timezone.localtime(m.created_at):%Y-%m-%d %H:%M:%S} {m.kind:<12} "
                                  f"{m.on_hand_delta:+d} / {m.reserved_delta:+d} {m.reference} {m.note}".rstrip())
            if not shown:
                self.stdout.write("    " + _("（没有流水）"))
        raise CommandError(_("发现 %(n)s 处库存与流水不一致") % {"n": len(drifts)}, returncode=1)
