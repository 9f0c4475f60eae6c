"""Pinduoduo message WebSocket consumer: connect with the signed URL, send a heartbeat every few
seconds, and for each `Common` frame fetch and ingest the named order, then ack the frame. A frame
whose order did not commit is not acked: the platform sends it again (on reconnect)."""

from __future__ import annotations

import json
import logging
import threading
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from channels.adapters import get_adapter
from channels.adapters.base import AdapterError
from channels.models import Shop

from .intake import push_order_receive

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 8.0  # the platform expects one every 5-10 s


class PddMessageConsumer:
    def __init__(self, shop: Shop, *, adapter=None, heartbeat: float = HEARTBEAT_SECONDS, on_fetched=None,
                 open_timeout: float = 10.0):
        self.shop = shop
        self.adapter = adapter or get_adapter(shop)
        self.heartbeat = heartbeat
        self.on_fetched = on_fetched
        self.open_timeout = open_timeout
        self.acked: list = []

    def handle_frame(self, ws, frame: dict) -> bool:
        if frame.get("commandType") != "Common":
            return False
        message = frame.get("message") or {}
        try:
            content = json.loads(message.get("content") or "{}", parse_int=str)
        except ValueError:
            content = {}
        tid = str(content.get("tid") or "")
        if tid and str(message.get("type", "")).startswith("pdd_trade_"):
            try:
                push_order_receive(shop=self.shop, platform_order_id=tid, adapter=self.adapter,
                                   on_fetched=self.on_fetched)
            except AdapterError as exc:
                logger.warning("tenant=%s shop=%s PDD frame %s (order %s) not processed: %s",
                               self.shop.tenant_id, self.shop.pk, frame.get("id"), tid, exc)
                return False
        now = int(time.time() * 1000)
        ws.send(json.dumps({"commandType": "Ack", "id": frame.get("id"), "time": now, "sendTime": now,
                            "type": message.get("type"), "mallID": message.get("mallID")}))
        self.acked.append(frame.get("id"))
        return True

    def run(self, stop: threading.Event) -> None:
        with connect(self.adapter.message_url(), open_timeout=self.open_timeout, close_timeout=2) as ws:
            last_beat = 0.0
            while not stop.is_set():
                if time.monotonic() - last_beat >= self.heartbeat:
                    ws.send(json.dumps({"commandType": "HeartBeat", "time": int(time.time() * 1000)}))
                    last_beat = time.monotonic()
                try:
                    raw = ws.recv(timeout=min(0.5, self.heartbeat))
                except TimeoutError:
                    continue
                except ConnectionClosed as exc:
                    raise ConnectionError(f"PDD message socket closed: {exc}") from exc
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                self.handle_frame(ws, frame)
