"""Factories of the ops console's models (ImportJob)."""

import factory

from oms.models import ImportJob
from tests.factories import TenantOwnedFactory


class ImportJobFactory(TenantOwnedFactory):
    class Meta:
        model = ImportJob

    kind = "orders"
    original_name = "orders.csv"
    file_path = factory.Sequence(lambda n: f"imports/test/{n}.csv")


FACTORIES = {ImportJob: ImportJobFactory}
