"""Cancelling a parcel whose number came without a carrier (typed in or imported)."""

import pytest

from logistics import services
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_number_without_carrier_or_waybill_provider_is_cancelled_locally(tenant):
    s = factories.ShipmentFactory(tenant=tenant, carrier=None, waybill_provider="", tracking_number="X123456789")
    out = services.waybill_cancel(tenant_id=tenant.pk, shipment_id=s.pk)
    assert out.status == "cancelled"
    assert out.order.events.filter(type="waybill_cancelled").exists()
