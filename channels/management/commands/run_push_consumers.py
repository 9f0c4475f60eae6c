"""`manage.py run_push_consumers`: run the real-time push consumers of every enabled shop that has
one (Taobao TMC over HTTP, Pinduoduo message WebSocket), each in its own thread under a
supervisor that restarts it with backoff when it dies. New shops are picked up every
`--rescan` seconds. Shopify webhooks and Douyin pushes arrive over HTTP (channels/webhooks.py)
and need no consumer. Ctrl-C / SIGTERM stops them all."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from channels.models import Shop
from channels.push.pdd import PddMessageConsumer
from channels.push.supervisor import supervise
from channels.push.tmc import TmcConsumer
from oms import rls

CONSUMERS = {"taobao": TmcConsumer, "pdd": PddMessageConsumer}


def _runner(shop_id: int):
    def run(stop: threading.Event) -> None:
        close_old_connections()
        with rls.system_scope():  # this thread does not know its shop's tenant until it reads the shop
            shop = Shop.objects.get(pk=shop_id, enabled=True)
        try:
            with rls.tenant_scope(shop.tenant_id):  # from here on, only this shop's tenant
                CONSUMERS[shop.platform](shop).run(stop)
        finally:
            close_old_connections()
    return run


class Command(BaseCommand):
    help = "Run the push consumers (Taobao TMC, Pinduoduo WebSocket) of every enabled shop until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--rescan", type=float, default=60.0, help="seconds between looks for new shops")
        parser.add_argument("--backoff-cap", type=float, default=60.0)

    def handle(self, *args, rescan: float, backoff_cap: float, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        threads: dict[int, threading.Thread] = {}
        try:
            with rls.system_scope():  # the supervisor lists the shops of every tenant
                self._loop(stop, threads, rescan, backoff_cap)
        except KeyboardInterrupt:
            stop.set()
        for t in threads.values():
            t.join(timeout=5)
        self.stdout.write("push consumers stopped.")

    def _loop(self, stop, threads, rescan, backoff_cap):
        while not stop.is_set():
            shops = list(Shop.objects.filter(enabled=True, platform__in=list(CONSUMERS))
                         .values_list("pk", "tenant_id", "platform", "name"))
            for pk, tenant_id, platform, name in shops:
                if pk in threads and threads[pk].is_alive():
                    continue
                label = f"{platform}:{pk}"
                t = threading.Thread(target=supervise, args=(label, _runner(pk), stop),
                                     kwargs={"backoff_cap": backoff_cap}, name=f"push-{label}", daemon=True)
                t.start()
                threads[pk] = t
                self.stdout.write(f"push consumer started: tenant={tenant_id} shop={pk} {platform} {name}")
            close_old_connections()
            stop.wait(rescan)
