"""Races on real PostgreSQL: the same event from two workers, the same message sent by two workers."""

import threading

import pytest
from django.db import connection, transaction

from notifications import services
from notifications.models import Notification

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(n_threads, fn):
    barrier = threading.Barrier(n_threads)
    errors, results = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(fn())
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, errors


def test_the_same_event_from_concurrent_workers_gives_one_row(tenant, sms_account, shipment):
    def enqueue():
        with transaction.atomic():
            return services.notify_shipment_event(tenant_id=tenant.pk, event="shipped", shipment_id=shipment.pk,
                                                  order_id=shipment.order_id)[0].pk

    results, errors = _race(6, enqueue)
    assert errors == []
    assert Notification.objects.for_tenant(tenant).count() == 1
    assert set(results) == {Notification.objects.get().pk}


def test_concurrent_sends_of_one_message_reach_the_provider_once(tenant, sms_account, sms_sandbox, shipment):
    n = services.notify_shipment_event(tenant_id=tenant.pk, event="shipped", shipment_id=shipment.pk,
                                       order_id=shipment.order_id)[0]

    def send():
        row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk)
        return row.status if row else None

    results, errors = _race(6, send)
    assert errors == []
    assert sorted(results, key=str) == sorted(["sent"] + [None] * 5, key=str)
    assert len(sms_sandbox.state.messages) == 1
    assert Notification.objects.get(pk=n.pk).attempts == 1
