"""Shared assertions of the inventory tests."""

from django.db.models import F, Sum

from inventory import services
from inventory.models import StockLevel, StockMovement


def level(warehouse, sku) -> StockLevel:
    return StockLevel.objects.get(warehouse=warehouse, sku=sku)


def assert_levels_equal_ledger():
    for lv in StockLevel.objects.all():
        agg = StockMovement.objects.filter(tenant_id=lv.tenant_id, warehouse=lv.warehouse, sku=lv.sku).aggregate(
            oh=Sum("on_hand_delta"), rs=Sum("reserved_delta"))
        assert (lv.on_hand, lv.reserved) == (agg["oh"] or 0, agg["rs"] or 0), lv
    assert not StockLevel.objects.filter(on_hand__lt=F("reserved")).exists()
    assert not StockLevel.objects.filter(reserved__lt=0).exists()
    assert services.stock_reconcile() == []
