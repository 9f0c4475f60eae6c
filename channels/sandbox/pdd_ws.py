"""Fake Pinduoduo message WebSocket: `ws://host:port/message/{client_id}/{ts_ms}/{sign}`.

sign = urlencode(base64(lowercase hex(md5(client_id + ts_ms + client_secret)))), checked here
independently of the consumer. On connect every pending (unacked) frame of the client_id is sent;
new frames follow as orders change. The client sends `{"commandType": "HeartBeat", "time"}`
every 5-10 s and `{"commandType": "Ack", "id", ...}` per frame; an acked frame is never sent
again, an unacked one is sent again on the next connection. Built on the `websockets` library
(its threading server), on its own loopback port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from urllib.parse import unquote

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

logger = logging.getLogger(__name__)

MAX_SKEW_MS = 10 * 60 * 1000


def expected_sign(client_id: str, ts_ms: str, secret: str) -> str:
    return base64.b64encode(hashlib.md5((client_id + ts_ms + secret).encode()).hexdigest().encode()).decode()


class PddMessageServer:
    def __init__(self, state, host: str = "127.0.0.1", port: int = 0):
        self.state = state
        self.heartbeats: list[tuple[str, dict]] = []
        self.connections = 0
        self.rejected = 0
        self._server = serve(self._handler, host, port)
        self.host, self.port = self._server.socket.getsockname()[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> PddMessageServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox-pdd-ws-{self.port}",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _handler(self, ws) -> None:
        parts = [p for p in ws.request.path.split("?")[0].split("/") if p]
        if len(parts) != 4 or parts[0] != "message":
            self.rejected += 1
            ws.close(code=4004, reason="unknown path")
            return
        client_id, ts_ms, sign = parts[1], parts[2], unquote(parts[3])
        account = self.state.account("pdd", client_id)
        ok = account is not None and hmac.compare_digest(expected_sign(client_id, ts_ms, account["client_secret"]), sign)
        try:
            fresh = abs(int(ts_ms) - time.time() * 1000) <= MAX_SKEW_MS
        except ValueError:
            fresh = False
        if not ok or not fresh:
            self.rejected += 1
            ws.close(code=4001, reason="sign check failed" if not ok else "timestamp expired")
            return
        with self.state.lock:
            self.connections += 1
        sent: set[int] = set()
        try:
            while True:
                for frame in self.state.push.pdd_pending(client_id):
                    if frame["id"] not in sent:
                        frame["sendTime"] = int(time.time() * 1000)
                        ws.send(json.dumps(frame, ensure_ascii=False))
                        sent.add(frame["id"])
                try:
                    raw = ws.recv(timeout=0.05)
                except TimeoutError:
                    continue
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                if msg.get("commandType") == "HeartBeat":
                    with self.state.lock:
                        self.heartbeats.append((client_id, msg))
                elif msg.get("commandType") == "Ack":
                    self.state.push.pdd_ack(client_id, msg.get("id"))
        except ConnectionClosed:
            return
