"""Factories of logistics' own tenant-owned models (merged into tests.factories.FACTORIES)."""

from __future__ import annotations

from decimal import Decimal

import factory

from logistics.models import BulkShipJob, Carrier, CarrierAccount, CarrierRate, CarrierService, LogisticsSettings
from tests.factories import TenantOwnedFactory


def carrier(code: str) -> Carrier:
    return Carrier.objects.get(code=code)


class CarrierServiceFactory(TenantOwnedFactory):
    class Meta:
        model = CarrierService

    carrier = factory.LazyFunction(lambda: carrier("SF"))
    code = factory.Sequence(lambda n: f"svc{n}")
    name = "标快"
    promised_hours = 48


class CarrierRateFactory(TenantOwnedFactory):
    class Meta:
        model = CarrierRate

    carrier = factory.LazyFunction(lambda: carrier("YTO"))
    zone = "全国"
    first_price = Decimal("5.00")
    additional_price = Decimal("2.00")


class LogisticsSettingsFactory(TenantOwnedFactory):
    class Meta:
        model = LogisticsSettings
        django_get_or_create = ("tenant",)


class CarrierAccountFactory(TenantOwnedFactory):
    class Meta:
        model = CarrierAccount
        django_get_or_create = ("tenant", "provider")

    provider = "kuaidi100"
    credentials = factory.LazyFunction(lambda: {"customer": "C1", "key": "k"})


class BulkShipJobFactory(TenantOwnedFactory):
    class Meta:
        model = BulkShipJob

    order_ids = factory.LazyFunction(list)


FACTORIES = {f._meta.model: f for f in [CarrierServiceFactory, CarrierRateFactory, LogisticsSettingsFactory,
                                         CarrierAccountFactory, BulkShipJobFactory]}
