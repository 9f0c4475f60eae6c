"""`manage.py sandbox --port N [--accounts FILE.json] [--trickle]`: run the fake Taobao / JD / PDD
marketplaces in the foreground until Ctrl-C.

The accounts file is a JSON list of {"platform": ..., "credentials": {...}} (optionally with
"skus": [[outer_id, platform_item_id, platform_sku_id, title, price], ...] for the generated
orders), or a mapping platform -> list of credentials.
"""

from __future__ import annotations

import json
import signal
import threading
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from channels.sandbox import SandboxServer
from channels.sandbox.state import account_key_of


class Command(BaseCommand):
    help = "Run the sandbox marketplaces (Taobao, JD, Pinduoduo) on a local port until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--accounts", help="JSON file with the accounts the fakes accept")
        parser.add_argument("--trickle", action="store_true",
                            help="keep creating new paid orders (and refunds / address changes) for every account")
        parser.add_argument("--per-minute", type=float, default=3.0, help="trickle rate per account")
        parser.add_argument("--initial", type=int, default=0,
                            help="orders to generate per account over the last hour at start")

    def handle(self, *args, host, port, accounts, trickle, per_minute, initial, **options):
        server = SandboxServer(host=host, port=port)
        state = server.state
        entries = self._load(accounts) if accounts else []
        for entry in entries:
            platform, creds = entry["platform"], entry["credentials"]
            try:
                state.add_account(platform, creds)
            except ValueError as exc:
                raise CommandError(f"account {entry!r}: {exc}")
            key = account_key_of(platform, creds)
            skus = [tuple(s) for s in entry.get("skus") or []] or None
            if initial:
                end = timezone.now() - timedelta(minutes=5)
                state.generate_orders(platform, key, initial, start=end - timedelta(hours=1), end=end, skus=skus)
            if trickle:
                state.start_trickle(platform, key, per_minute, skus)
            self.stdout.write(f"  {platform:7s} account {key}")

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        server.start()
        self.stdout.write(self.style.SUCCESS(
            f"sandbox marketplaces on {server.url}  (/taobao/router/rest, /jd/routerjson, /pdd/api/router, "
            f"/_control/state); {len(entries)} account(s){', trickling' if trickle else ''}. Ctrl-C stops."))
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            self.stdout.write("sandbox stopped.")

    @staticmethod
    def _load(path: str) -> list[dict]:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read accounts file {path}: {exc}")
        if isinstance(data, dict):
            return [{"platform": platform, "credentials": creds}
                    for platform, items in data.items() for creds in (items if isinstance(items, list) else [items])]
        if not isinstance(data, list):
            raise CommandError("accounts file must hold a list or a mapping")
        return data
