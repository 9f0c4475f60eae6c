"""Run the whole system on embedded defaults: web server, Celery worker, Celery beat and the
sandbox marketplaces, as child processes; Ctrl-C stops them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from channels.models import Shop
from oms import rls

CHANNELS2_PLATFORMS = ["amazon", "shopify", "woocommerce", "douyin"]


class Command(BaseCommand):
    help = "Start web (127.0.0.1:8000), Celery worker and beat, and the sandbox marketplaces."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8765)
        parser.add_argument("--no-sandbox", action="store_true")

    @rls.system_scope()  # reads every tenant's shops and carrier accounts for the sandboxes
    def handle(self, *args, port, sandbox_port, no_sandbox, **kwargs):
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        celery = str(Path(python).with_name("celery"))
        # the carrier sandbox runs a parcel's day in minutes: poll tracking every minute to follow it
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMS_TRACKING_POLL_MINUTES="1")
        procs: list[tuple[str, subprocess.Popen]] = []

        def start(name, cmd):
            self.stdout.write(f"starting {name}: {' '.join(cmd)}")
            procs.append((name, subprocess.Popen(cmd, env=env, start_new_session=True)))

        if not no_sandbox and self._sandbox_available():
            accounts = Path(settings.VAR_DIR) / "sandbox_accounts.json"
            accounts.write_text(json.dumps(self._accounts(), ensure_ascii=False, indent=1))
            start("sandbox", [python, manage, "sandbox", "--port", str(sandbox_port), "--accounts", str(accounts),
                              "--trickle"])
        if not no_sandbox:
            from oms.management.commands.seed_demo import SMS_DEMO_ACCOUNT

            carriers = Path(settings.VAR_DIR) / "carrier_accounts.json"
            carriers.write_text(json.dumps(self._carrier_accounts(), ensure_ascii=False, indent=1))
            # a tracking timeline "hour" lasts 20 s, so parcels move while you watch
            start("carriers", [python, manage, "carrier_sandbox", "--port", "8768", "--accounts", str(carriers),
                               "--hour-seconds", "20"])
            start("sms", [python, manage, "sms_sandbox", "--port", "8767", "--account", ":".join(SMS_DEMO_ACCOUNT)])
        start("push", [python, manage, "run_push_consumers"])  # Channels II: TMC and PDD message socket
        start("worker", [celery, "-A", "oms", "worker", "-l", "info", "-P", "threads", "-c", "4",
                         "-n", "demo-worker@%h"])
        start("beat", [celery, "-A", "oms", "beat", "-l", "info", "-s", str(Path(settings.VAR_DIR) / "beat-schedule")])
        start("web", [python, manage, "runserver", f"127.0.0.1:{port}", "--noreload"])
        time.sleep(2)
        if not no_sandbox:
            self._push_callbacks(sandbox_port, port)
        self.stdout.write(self.style.SUCCESS(f"\nOMS is running: http://127.0.0.1:{port}/admin/"))
        call_command("demo_logins")
        self.stdout.write("Ctrl-C stops web, worker, beat and the sandboxes "
                          "(marketplaces :8765, carriers :8768, SMS :8767).\n")

        stopping = False

        def stop(*_):
            nonlocal stopping
            if stopping:
                return
            stopping = True
            for _name, p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for _name, p in procs:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)

        signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
        # Ctrl-C stops everything even when this process inherited an ignored SIGINT
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while True:
                for name, p in procs:
                    if p.poll() is not None:
                        self.stderr.write(f"{name} exited with {p.returncode}; stopping the demo")
                        raise KeyboardInterrupt
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("\nstopping ...")
        finally:
            stop()
            self.stdout.write("stopped.")

    @staticmethod
    def _sandbox_available() -> bool:
        try:
            import channels.sandbox.server  # noqa: F401
        except ImportError:
            return False
        return True

    def _push_callbacks(self, sandbox_port: int, port: int) -> None:
        """Channels II: point the sandbox's Douyin pushes and Shopify webhooks at this OMS."""
        import requests

        from channels.sandbox.state import account_key_of

        for s in Shop.objects.filter(platform__in=["douyin", "shopify"]):
            data = {"platform": s.platform, "account_key": account_key_of(s.platform, s.credentials),
                    "url": f"http://127.0.0.1:{port}/channels/hooks/{s.platform}/{s.pk}/"}
            for _ in range(20):
                try:
                    requests.post(f"http://127.0.0.1:{sandbox_port}/_control/callbacks", json=data, timeout=2)
                    break
                except requests.RequestException:
                    time.sleep(0.5)

    @staticmethod
    def _carrier_accounts() -> list[dict]:
        from logistics.models import CarrierAccount

        return [{"provider": a.provider, "credentials": a.credentials} for a in CarrierAccount.objects.all()]

    @staticmethod
    def _accounts() -> list[dict]:
        """The sandbox accepts exactly the demo shops' credentials and trickles orders for the
        items those shops list (so new demo orders map to SKUs)."""
        out = []
        for shop in Shop.objects.filter(platform__in=["taobao", "jd", "pdd", *CHANNELS2_PLATFORMS]).prefetch_related(
                "listings__sku"):
            skus = [[lst.outer_id or lst.sku.code, lst.platform_item_id, lst.platform_sku_id, lst.sku.name,
                     str(lst.sku.reference_price or "10.00")]
                    for lst in shop.listings.all() if not lst.sku.is_combo]
            out.append({"platform": shop.platform, "credentials": shop.credentials, "skus": skus})
        return out
