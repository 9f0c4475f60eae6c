import pytest
from django.core.management import call_command

from inventory.models import StockMovement
from inventory.services import stock_reconcile
from oms.models import Membership, Tenant
from orders.models import Hold, Order

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_two_tenants_with_every_role_and_is_idempotent(capsys):
    call_command("seed_demo", orders=20)
    out = capsys.readouterr().out
    assert "fashion-owner" in out and "demo-pass-2026" in out
    counts = (Tenant.objects.count(), Membership.objects.count(), Order.objects.count(),
              StockMovement.objects.count(), Hold.objects.count())
    assert counts[0] == 3 and counts[1] == 15  # + the Channels II "global" tenant
    assert counts[2] == 20 * 4  # 3 shops + 1 shop, 20 orders each
    assert Order.objects.filter(status__in=["approved", "allocated"]).exists()
    assert Order.objects.filter(status="on_hold").exists()  # scarce SKU / broken phone
    # the opening stock names its cause in the ledger
    assert set(StockMovement.objects.filter(kind="receive").values_list("actor_label", flat=True)) == {"seed"}
    call_command("seed_demo", orders=20)
    assert (Tenant.objects.count(), Membership.objects.count(), Order.objects.count(),
            StockMovement.objects.count(), Hold.objects.count()) == counts
    assert stock_reconcile() == []
