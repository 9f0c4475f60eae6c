import pytest

pytestmark = pytest.mark.django_db


def test_make_order_gives_an_allocated_order_with_active_reservations(make_order):
    from inventory.selectors import order_reserved_units

    order = make_order(qty=2)
    assert order.status == "allocated"
    assert order.warehouse_id
    assert order_reserved_units(tenant_id=order.tenant_id, order_id=order.pk) == 2
