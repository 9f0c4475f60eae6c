"""Serve the fake carriers (SF open platform, Cainiao waybills via TOP, Kuaidi100 tracking) in the
foreground, for the demo. Accounts come from a JSON file: [{"provider", "credentials"}, ...]."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

from django.core.management.base import BaseCommand

from logistics.sandbox.server import CarrierSandbox, CarrierSandboxState


class Command(BaseCommand):
    help = "Run the carrier sandbox (SF, Cainiao, Kuaidi100) on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8768)
        parser.add_argument("--accounts", help="JSON file: a list of {provider, credentials}")
        parser.add_argument("--hour-seconds", type=float, default=3600.0,
                            help="real seconds per hour of a parcel's tracking timeline (demo: small)")

    def handle(self, *args, port: int, accounts: str | None, hour_seconds: float, **kwargs):
        server = CarrierSandbox(port=port, state=CarrierSandboxState(hour_seconds=hour_seconds))
        for entry in json.loads(Path(accounts).read_text()) if accounts else []:
            server.state.add_account(entry["provider"], entry["credentials"])
        server.start()
        self.stdout.write(f"carrier sandbox on {server.url} (/sf, /cainiao, /kuaidi100, /_control/state)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            self.stdout.write("carrier sandbox stopped.")
