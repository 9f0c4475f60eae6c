"""The one intake path of pushed orders: fetch (when the message only names the order), then
channels.services.raw_receive(source="push"), which archives, normalises and ingests in its own
transactions. Returns only after the order committed, so callers acknowledge afterwards."""

from __future__ import annotations

import logging

from channels.adapters import get_adapter
from channels.models import Shop
from channels.services import Counts, raw_receive

logger = logging.getLogger(__name__)


def push_payload_receive(*, shop: Shop, payload: dict, adapter=None) -> str:
    """A pushed payload that IS the order (Shopify webhooks). Returns the outcome."""
    adapter = adapter or get_adapter(shop)
    counts = Counts()
    raw_receive(shop=shop, payload=payload, adapter=adapter, source="push", counts=counts)
    outcome = "failed" if counts.failed else "created" if counts.created else "updated" if counts.updated \
        else "unchanged"
    logger.info("tenant=%s shop=%s push order %s: %s", shop.tenant_id, shop.pk, adapter.order_id(payload)
                if isinstance(payload, dict) else "?", outcome)
    return outcome


def push_order_receive(*, shop: Shop, platform_order_id: str, adapter=None, on_fetched=None) -> str:
    """A message named `platform_order_id`: fetch it through the adapter, then ingest.
    `on_fetched(payload)` runs between fetch and ingest (a seam for tests that kill the consumer
    there). Adapter errors propagate: the caller must not acknowledge the message then."""
    adapter = adapter or get_adapter(shop)
    payload = adapter.fetch_order(str(platform_order_id))
    if on_fetched is not None:
        on_fetched(payload)
    return push_payload_receive(shop=shop, payload=payload, adapter=adapter)
