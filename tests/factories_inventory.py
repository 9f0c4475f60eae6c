"""Factories of inventory's models beyond the foundation (reorder points, alerts, write-offs,
transfers). Registered in tests.factories.FACTORIES through the module-level FACTORIES dict."""

from __future__ import annotations

import factory

from inventory.models import LowStockAlert, ReorderPoint, StockWriteOff, TransferLine, TransferOrder
from tests.factories import SkuFactory, TenantOwnedFactory, WarehouseFactory


class ReorderPointFactory(TenantOwnedFactory):
    class Meta:
        model = ReorderPoint

    sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))
    warehouse = factory.SubFactory(WarehouseFactory, tenant=factory.SelfAttribute("..tenant"))
    reorder_point = 10


class LowStockAlertFactory(TenantOwnedFactory):
    class Meta:
        model = LowStockAlert

    sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))
    warehouse = factory.SubFactory(WarehouseFactory, tenant=factory.SelfAttribute("..tenant"))
    reorder_point = 10
    available = 3


class StockWriteOffFactory(TenantOwnedFactory):
    class Meta:
        model = StockWriteOff

    warehouse = factory.SubFactory(WarehouseFactory, tenant=factory.SelfAttribute("..tenant"))
    sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))
    quantity = 1
    reason = "破损"


class TransferOrderFactory(TenantOwnedFactory):
    class Meta:
        model = TransferOrder

    source = factory.SubFactory(WarehouseFactory, tenant=factory.SelfAttribute("..tenant"))
    destination = factory.SubFactory(WarehouseFactory, tenant=factory.SelfAttribute("..tenant"))


class TransferLineFactory(TenantOwnedFactory):
    class Meta:
        model = TransferLine

    transfer = factory.SubFactory(TransferOrderFactory, tenant=factory.SelfAttribute("..tenant"))
    sku = factory.SubFactory(SkuFactory, tenant=factory.SelfAttribute("..tenant"))
    quantity = 5


FACTORIES = {f._meta.model: f for f in [ReorderPointFactory, LowStockAlertFactory, StockWriteOffFactory,
                                        TransferOrderFactory, TransferLineFactory]}
