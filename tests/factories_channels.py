"""Factories of the channels models that tests/factories.py does not hold."""

import factory

from channels.models import ShopWarehouse
from tests.factories import ShopFactory, TenantOwnedFactory, WarehouseFactory


class ShopWarehouseFactory(TenantOwnedFactory):
    class Meta:
        model = ShopWarehouse

    shop = factory.SubFactory(ShopFactory, tenant=factory.SelfAttribute("..tenant"))
    warehouse = factory.SubFactory(WarehouseFactory, tenant=factory.SelfAttribute("..tenant"))


FACTORIES = {ShopWarehouse: ShopWarehouseFactory}
