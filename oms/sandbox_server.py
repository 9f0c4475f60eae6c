"""The loopback HTTP server every sandbox (fake marketplaces, carriers, SMS provider) runs on: a
threading server in a daemon thread for tests, or in the foreground for `make demo`. Each
sandbox supplies its request handler and its in-memory state (reachable as `server.state` from
the handler)."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        logger.debug("sandbox connection error from %s", client_address, exc_info=True)


class LoopbackServer:
    name = "sandbox"

    def __init__(self, handler: type[BaseHTTPRequestHandler], state, host: str = "127.0.0.1", port: int = 0):
        self.state = state
        self._httpd = _HTTPServer((host, port), handler)
        self._httpd.state = state
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"{self.name}-{self.port}", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called from another one (or Ctrl-C)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Gate:
    """Holds one request of a sandbox until released: the first `after` matching requests pass,
    the next one waits (at most `timeout` seconds) and is then answered normally. A fault test
    uses it to act at a known point of a conversation -- kill a worker or drop a database
    connection between two pages of a pull, or between two waybill calls of a bulk ship.
    `then`, if given, runs in the server thread when the held request arrives (e.g. to inject
    a fault that this very request then gets)."""

    def __init__(self, *, after: int, timeout: float = 30.0, then=None):
        self.after = after
        self.timeout = timeout
        self.then = then
        self.reached = threading.Event()
        self._released = threading.Event()
        self._seen = 0
        self._lock = threading.Lock()

    def passing(self) -> None:
        with self._lock:
            self._seen += 1
            held = self._seen == self.after + 1
        if held:
            if self.then is not None:
                self.then()
            self.reached.set()
            self._released.wait(self.timeout)

    def wait_reached(self, timeout: float = 30.0) -> bool:
        return self.reached.wait(timeout)

    def release(self) -> None:
        self._released.set()
