"""The sandbox HTTP server: platform gateways, fault injection and control endpoints.

Routes:
    POST/GET /taobao/router/rest      Taobao TOP
    POST/GET /jd/routerjson           JD JOS
    POST/GET /pdd/api/router          Pinduoduo
    GET  /_control/state              summary JSON
    POST /_control/accounts           {"platform", "credentials"}
    POST /_control/generate           {"platform", "account_key", "n", ["minutes", "seed", "status", "ship_blocks"]}
    POST /_control/faults             {"platform", "kind", ["count"]}
    POST /_control/modify             {"platform", "order_id", "changes": {...}}
    POST /_control/trickle            {"platform", "account_key", "per_minute"}
Channels II:
    *    /amazon/...                  Amazon SP-API (LWA token, Orders v0, Listings Items)
    *    /shopify/admin/api/{v}/...   Shopify Admin REST
    *    /woocommerce/wp-json/wc/v3/  WooCommerce REST v3
    POST /douyin/{method/path}        Douyin shop (抖店)
    POST /_control/callbacks          {"platform" (douyin|shopify), "account_key", "url"}: push target
    ws://127.0.0.1:{ws_port}/message/{client_id}/{ts_ms}/{sign}   Pinduoduo message WebSocket

Adapters point their Shop.api_base_url at `{server.url}/taobao` (or /jd, /pdd).
"""

from __future__ import annotations

import json
import logging
import socket
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from oms.sandbox_server import LoopbackServer

from .common import Reply
from .rest import Request
from .state import FAKES, SandboxState

logger = logging.getLogger(__name__)

ROUTES = {"/taobao/router/rest": "taobao", "/jd/routerjson": "jd", "/pdd/api/router": "pdd"}
# Channels II: REST-style fakes, routed by path prefix; they get a rest.Request
REST_PREFIXES = ("amazon", "shopify", "woocommerce", "douyin")
MALFORMED_BODY = '<html><head><title>502 Bad Gateway</title></head><body>{"error_resp'


def dispatch(state: SandboxState, platform: str, params: dict) -> Reply | None:
    """Serve one platform API call, applying any injected fault. None = drop the connection."""
    fake = FAKES[platform]
    api = fake.api_name(params)
    state.log_request(platform, api, params)
    state.pass_gate(platform, list_call=fake.is_list_call(api))
    kind = state.take_fault(platform, list_call=fake.is_list_call(api))
    if kind == "http500":
        return Reply(500, "<html><body><h1>500 Internal Server Error</h1></body></html>")
    if kind == "http429":
        return Reply(429, "<html><body>429 Too Many Requests</body></html>",
                     headers={"Retry-After": str(state.retry_after)})
    if kind == "malformed":
        return Reply(200, MALFORMED_BODY)
    if kind == "timeout":
        time.sleep(state.timeout_delay)
        return None
    if kind in ("throttle", "session_expired"):
        return fake.fault_reply(kind, state)
    reply = fake.handle(state, params)
    if kind == "modify_during_paging" and reply.served:
        state.bump(platform, reply.served[0])
    return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "oms-sandbox/0.1"

    def setup(self):
        super().setup()
        # headers and body go out in separate writes: without this, delayed ACKs stall every
        # keep-alive request by ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002  (the stdlib's signature)
        logger.debug("sandbox %s - %s", self.address_string(), format % args)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method: str):
        state: SandboxState = self.server.state
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if parts.path.startswith("/_control/"):
                reply = self._control(state, method, parts.path, raw)
            elif parts.path in ROUTES:
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                ctype = self.headers.get("Content-Type", "")
                if raw and "json" not in ctype:
                    params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                reply = dispatch(state, ROUTES[parts.path], params)
            elif parts.path.split("/")[1] in REST_PREFIXES:
                platform = parts.path.split("/")[1]
                req = Request(dict(parse_qsl(parts.query, keep_blank_values=True)), method=method,
                              path=parts.path[len(platform) + 1:], headers=dict(self.headers), body=raw)
                reply = dispatch(state, platform, req)
            else:
                reply = Reply(404, {"error": f"no route {parts.path}"})
        except Exception as exc:  # a sandbox bug must show up as a 500, not a hung client
            logger.exception("sandbox error")
            reply = Reply(500, f"sandbox error: {type(exc).__name__}: {exc}")
        if reply is None:
            self.close_connection = True
            return
        body, ctype = reply.encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _control(self, state: SandboxState, method: str, path: str, raw: bytes) -> Reply:
        if path == "/_control/state" and method == "GET":
            return Reply(200, state.summary())
        if method != "POST":
            return Reply(405, {"error": "POST expected"})
        try:
            data = json.loads(raw.decode("utf-8") or "{}")
            if path == "/_control/accounts":
                state.add_account(data["platform"], data["credentials"])
                return Reply(200, {"ok": True})
            if path == "/_control/generate":
                end = datetime.now().astimezone() - timedelta(minutes=float(data.get("lag_minutes", 0)))
                start = end - timedelta(minutes=float(data.get("minutes", 60)))
                ids = state.generate_orders(data["platform"], data["account_key"], int(data.get("n", 10)),
                                            start=start, end=end, seed=data.get("seed"),
                                            status=data.get("status"), ship_blocks=bool(data.get("ship_blocks")))
                return Reply(200, {"order_ids": ids})
            if path == "/_control/faults":
                state.inject(data["platform"], data["kind"], int(data.get("count", 1)))
                return Reply(200, {"ok": True})
            if path == "/_control/modify":
                order = state.modify_order(data["platform"], data["order_id"], **data.get("changes", {}))
                return Reply(200, {"order": order})
            if path == "/_control/callbacks":
                state.push.set_callback(data["platform"], data["account_key"], data["url"])
                return Reply(200, {"ok": True})
            if path == "/_control/trickle":
                state.start_trickle(data["platform"], data["account_key"], float(data.get("per_minute", 6)))
                return Reply(200, {"ok": True})
        except (KeyError, ValueError, TypeError) as exc:
            return Reply(400, {"error": f"{type(exc).__name__}: {exc}"})
        return Reply(404, {"error": f"no control endpoint {path}"})


class SandboxServer(LoopbackServer):
    """Fake Taobao / JD / PDD gateways on one loopback port.

        server = SandboxServer().start()
        shop.api_base_url = server.url + "/taobao"
        ...
        server.stop()
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: SandboxState | None = None,
                 ws_port: int | None = None):
        super().__init__(_Handler, state or SandboxState(), host=host, port=port)
        from .pdd_ws import PddMessageServer

        # the PDD message socket listens next door: port + 1 (any free port when port is 0)
        self.ws = PddMessageServer(self.state, host=host, port=ws_port if ws_port is not None else (port + 1 if port else 0))

    def base_url(self, platform: str) -> str:
        """What a Shop.api_base_url must be to talk to this sandbox's `platform` gateway."""
        if platform not in FAKES:
            raise ValueError(f"unknown sandbox platform {platform!r}")
        return f"{self.url}/{platform}"

    def start(self) -> SandboxServer:
        if self._thread is None:
            super().start()
            self.ws.start()
        return self

    @property
    def ws_url(self) -> str:
        """Base of the Pinduoduo message WebSocket (a PDD shop's credentials["message_url"])."""
        return self.ws.url

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called from another one (or Ctrl-C)."""
        self.ws.start()
        super().serve_forever()

    def stop(self) -> None:
        self.state.stop_trickles()
        self.state.push.stop()
        self.ws.stop()
        super().stop()
