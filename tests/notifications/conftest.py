"""Fixtures of the notification tests: a live Aliyun SMS sandbox on loopback, a tenant SMS
account pointed at it, and a shipped order."""

from __future__ import annotations

import pytest

from logistics.models import Carrier
from notifications.sandbox import SmsSandboxServer
from tests import factories
from tests.factories_notifications import SmsAccountFactory

ACCESS_KEY_ID = "LTAI-test-key"
ACCESS_KEY_SECRET = "test-secret-1"
BUYER_PHONE = "13912345678"


@pytest.fixture
def sms_sandbox():
    server = SmsSandboxServer().start()
    server.state.add_account(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    server.state.timeout_delay = 0.2
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _fast_http_retries(settings):
    """The adapter's in-call backoff shrinks to milliseconds (the outbox backoff is unchanged)."""
    settings.NOTIFICATIONS_HTTP_BACKOFF_BASE = 0.001


@pytest.fixture
def sms_account(tenant, sms_sandbox):
    return SmsAccountFactory(tenant=tenant, api_base_url=sms_sandbox.url,
                             credentials={"access_key_id": ACCESS_KEY_ID, "access_key_secret": ACCESS_KEY_SECRET})


@pytest.fixture
def shipment(tenant):
    sf = Carrier.objects.get_or_create(code="SF", defaults={"name": "顺丰速运"})[0]
    order = factories.OrderFactory(tenant=tenant, platform_order_id="3900000012345", receiver_name="李四",
                                   receiver_phone=BUYER_PHONE)
    return factories.ShipmentFactory(tenant=tenant, order=order, carrier=sf, tracking_number="SF1234567890")
