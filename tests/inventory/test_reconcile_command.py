"""manage.py reconcile_stock: reports drift with the ledger rows, exits non-zero; never fixes."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F

from inventory import services
from inventory.management.commands.reconcile_stock import Command
from inventory.models import StockLevel
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant, other_tenant):
    wh = factories.WarehouseFactory(tenant=tenant, code="HZ", name="杭州仓")
    sku = factories.SkuFactory(tenant=tenant, code="CUP", name="杯子")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=10, reference="PO-9")
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=3, lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 2}])
    other_wh = factories.WarehouseFactory(tenant=other_tenant, code="SH")
    other_sku = factories.SkuFactory(tenant=other_tenant, code="PEN")
    services.stock_receive(tenant_id=other_tenant.pk, warehouse_id=other_wh.pk, sku_id=other_sku.pk, quantity=5)
    return wh, sku


def test_clean_ledger_prints_no_drift_and_exits_zero(world):
    out = io.StringIO()
    call_command("reconcile_stock", stdout=out)
    assert "没有差异" in out.getvalue()


def test_a_hand_made_drift_is_reported_with_its_ledger_rows_and_exits_non_zero(tenant, world):
    wh, sku = world
    StockLevel.objects.filter(warehouse=wh, sku=sku).update(on_hand=F("on_hand") + 3)  # behind the ledger's back
    out = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("reconcile_stock", stdout=out)
    assert exc.value.returncode == 1
    text = out.getvalue()
    assert "HZ 杭州仓" in text and "CUP 杯子" in text
    assert "在库 13 / 占用 2" in text and "流水合计 在库 10 / 占用 2" in text and "+3" in text
    assert "PO-9" in text and "order:3" in text  # the ledger rows involved
    assert StockLevel.objects.get(warehouse=wh, sku=sku).on_hand == 13  # not fixed

    # the process exit code, as `manage.py reconcile_stock` would give it
    with pytest.raises(SystemExit) as exited:
        Command(stdout=io.StringIO(), stderr=io.StringIO()).run_from_argv(["manage.py", "reconcile_stock"])
    assert exited.value.code == 1


def test_tenant_option_limits_the_check(tenant, other_tenant, world):
    wh, sku = world
    StockLevel.objects.filter(warehouse=wh, sku=sku).update(reserved=0)
    out = io.StringIO()
    call_command("reconcile_stock", "--tenant", other_tenant.slug, stdout=out)  # the other tenant is clean
    assert "没有差异" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("reconcile_stock", "--tenant", tenant.slug, stdout=io.StringIO())
    with pytest.raises(CommandError, match="租户不存在"):
        call_command("reconcile_stock", "--tenant", "nope", stdout=io.StringIO())
