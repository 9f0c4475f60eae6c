"""Taobao TMC consumer over HTTP: consume a batch, fetch and ingest each named trade, then
confirm exactly the messages whose trade committed. A message that failed (or whose consumer
died before confirming) is not confirmed, so TMC delivers it again."""

from __future__ import annotations

import logging
import threading

from channels.adapters import get_adapter
from channels.adapters.base import AdapterError
from channels.models import Shop

from .intake import push_order_receive

logger = logging.getLogger(__name__)

TRADE_TOPIC_PREFIX = "taobao_trade_"


class TmcConsumer:
    def __init__(self, shop: Shop, *, adapter=None, batch: int = 100, idle_wait: float = 1.0, on_fetched=None):
        self.shop = shop
        self.adapter = adapter or get_adapter(shop)
        self.batch = batch
        self.idle_wait = idle_wait
        self.on_fetched = on_fetched

    def run_once(self) -> tuple[int, int]:
        """One consume/confirm round: (messages received, messages confirmed)."""
        messages = self.adapter.tmc_consume(quantity=self.batch)
        done = []
        for m in messages:
            tid = str((m.get("content") or {}).get("tid") or "")
            if not str(m.get("topic", "")).startswith(TRADE_TOPIC_PREFIX) or not tid:
                done.append(m["id"])  # not an order message: nothing to do, confirm it
                continue
            try:
                push_order_receive(shop=self.shop, platform_order_id=tid, adapter=self.adapter,
                                   on_fetched=self.on_fetched)
            except AdapterError as exc:
                logger.warning("tenant=%s shop=%s TMC message %s (trade %s) not processed: %s",
                               self.shop.tenant_id, self.shop.pk, m["id"], tid, exc)
                continue
            done.append(m["id"])
        self.adapter.tmc_confirm(done)
        return len(messages), len(done)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            received, _ = self.run_once()
            if not received:
                stop.wait(self.idle_wait)
