import pytest

from orders import services
from orders.models import OrderEvent
from orders.states import TRANSITIONS, IllegalTransition, OrderStatus
from tests import factories

pytestmark = pytest.mark.django_db

LEGAL = [(a, b) for a, targets in TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL = [(a, b) for a in OrderStatus.values for b in OrderStatus.values if a != b and b not in TRANSITIONS[a]]


def test_the_table_covers_every_state():
    assert set(TRANSITIONS) == set(OrderStatus.values)
    assert TRANSITIONS[OrderStatus.CANCELLED] == frozenset()
    assert len(LEGAL) > 20 and len(ILLEGAL) > 40


@pytest.mark.parametrize("current,target", LEGAL)
def test_legal_transition_changes_status_and_writes_an_event(tenant, current, target):
    order = factories.OrderFactory(tenant=tenant, status=current)
    services.order_transition(order=order, to=target)
    order.refresh_from_db()
    assert order.status == target
    event = OrderEvent.objects.get(order=order)
    assert (event.type, event.before, event.after) == ("status", {"status": current}, {"status": target})


@pytest.mark.parametrize("current,target", ILLEGAL)
def test_illegal_transition_raises_and_changes_nothing(tenant, current, target):
    order = factories.OrderFactory(tenant=tenant, status=current)
    with pytest.raises(IllegalTransition):
        services.order_transition(order=order, to=target)
    order.refresh_from_db()
    assert order.status == current
    assert not OrderEvent.objects.filter(order=order).exists()


def test_order_events_are_append_only(tenant):
    event = factories.OrderEventFactory(tenant=tenant)
    event.message = "changed"
    with pytest.raises(ValueError):
        event.save()
