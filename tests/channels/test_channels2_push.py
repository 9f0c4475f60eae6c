"""Real-time push intake: Shopify webhooks, Douyin message push, Taobao TMC and the Pinduoduo
message WebSocket, against the sandboxes over real HTTP / WebSocket; acknowledged only after commit,
never duplicated with the pull."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.urls import reverse

from channels.models import RawOrder, Shop
from channels.push.pdd import PddMessageConsumer
from channels.push.supervisor import supervise
from channels.push.tmc import TmcConsumer
from channels.sandbox import shopify as fake_shopify
from orders.models import Order

from . import ch2_helpers
from .ch2_helpers import ACCOUNT_KEYS2, CREDENTIALS2, adapter_for
from .conftest import ACCOUNT_KEYS, CREDENTIALS
from .test_channels2_pipeline import make_shop2, pull
from .test_pipeline import make_shop

sandbox2 = ch2_helpers.sandbox2  # the fixture


class Killed(BaseException):
    """Stands for the consumer process dying (not an Exception: nothing in our code catches it)."""


def _recent(sandbox, minutes=20):
    now = sandbox.state.now()
    return now - timedelta(minutes=minutes), now - timedelta(minutes=5)


# ---- Shopify webhooks ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_shopify_webhook_with_a_good_signature_lands_the_order(client, tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, "shopify")
    (oid,) = sandbox2.state.generate_orders("shopify", ACCOUNT_KEYS2["shopify"], 1, seed=1, status="paid",
                                            start=_recent(sandbox2)[0], end=_recent(sandbox2)[1])
    body, headers = sandbox2.state.push.build("shopify", ACCOUNT_KEYS2["shopify"], oid, "created")
    resp = client.post(reverse("channels:shopify_webhook", args=[shop.pk]), data=body, content_type="application/json",
                       headers={k: v for k, v in headers.items() if k != "Content-Type"})
    assert resp.status_code == 200 and resp.json() == {"outcome": "created"}
    order = Order.objects.get(shop=shop)
    assert order.platform_order_id == oid and order.currency == "USD"
    assert RawOrder.objects.get(shop=shop).source == "push"


@pytest.mark.django_db
def test_shopify_webhook_with_a_bad_signature_answers_401_and_stores_nothing(client, tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, "shopify")
    (oid,) = sandbox2.state.generate_orders("shopify", ACCOUNT_KEYS2["shopify"], 1, seed=1, status="paid",
                                            start=_recent(sandbox2)[0], end=_recent(sandbox2)[1])
    body, headers = sandbox2.state.push.build("shopify", ACCOUNT_KEYS2["shopify"], oid, "created")
    url = reverse("channels:shopify_webhook", args=[shop.pk])
    tampered = body.replace(b'"total_price": "', b'"total_price": "1')
    for data, hmac_header in ((tampered, headers["X-Shopify-Hmac-Sha256"]), (body, ""),
                              (body, fake_shopify.webhook_hmac("wrong-secret", body))):
        resp = client.post(url, data=data, content_type="application/json",
                           headers={"X-Shopify-Hmac-Sha256": hmac_header, "X-Shopify-Topic": "orders/create"})
        assert resp.status_code == 401
    # another shop's id (or one that does not exist) is answered the same way
    other = make_shop2(factories_tenant(), sandbox2, "woocommerce")
    resp = client.post(reverse("channels:shopify_webhook", args=[other.pk]), data=body, content_type="application/json",
                       headers={"X-Shopify-Hmac-Sha256": headers["X-Shopify-Hmac-Sha256"],
                                "X-Shopify-Topic": "orders/create"})
    assert resp.status_code == 401
    assert RawOrder.objects.count() == 0 and Order.objects.count() == 0


def factories_tenant():
    from tests import factories

    return factories.TenantFactory()


@pytest.mark.django_db
def test_shopify_push_and_pull_of_the_same_order_give_one_order(client, tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, "shopify")
    now = sandbox2.state.now()
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox2.state.generate_orders("shopify", ACCOUNT_KEYS2["shopify"], 5, seed=2, status="paid",
                                         start=now - timedelta(minutes=40), end=now - timedelta(minutes=10))
    for oid in ids[:3]:
        body, headers = sandbox2.state.push.build("shopify", ACCOUNT_KEYS2["shopify"], oid, "created")
        client.post(reverse("channels:shopify_webhook", args=[shop.pk]), data=body, content_type="application/json",
                    headers={k: v for k, v in headers.items() if k != "Content-Type"})
    run = pull(shop, sandbox2, now)
    assert (run.created, run.unchanged) == (2, 3), run.error
    assert Order.objects.filter(shop=shop).count() == 5
    # and the webhook arriving after the pull changes nothing either
    body, headers = sandbox2.state.push.build("shopify", ACCOUNT_KEYS2["shopify"], ids[4], "updated")
    resp = client.post(reverse("channels:shopify_webhook", args=[shop.pk]), data=body, content_type="application/json",
                       headers={k: v for k, v in headers.items() if k != "Content-Type"})
    assert resp.json() == {"outcome": "unchanged"}
    assert Order.objects.filter(shop=shop).count() == 5


# ---- Douyin push ------------------------------------------------------------------------------------

def _douyin_post(client, shop, body, headers):
    return client.post(reverse("channels:douyin_push", args=[shop.pk]), data=body, content_type="application/json",
                       headers={k: v for k, v in headers.items() if k != "Content-Type"})


@pytest.mark.django_db
def test_douyin_push_verification_ping_and_signatures(client, tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, "douyin")
    body, headers = sandbox2.state.push.douyin_ping(ACCOUNT_KEYS2["douyin"])
    resp = _douyin_post(client, shop, body, headers)
    assert resp.status_code == 200 and resp.json() == {"code": 0, "msg": "success"}
    (oid,) = sandbox2.state.generate_orders("douyin", ACCOUNT_KEYS2["douyin"], 1, seed=3, status="paid",
                                            start=_recent(sandbox2)[0], end=_recent(sandbox2)[1])
    body, headers = sandbox2.state.push.build("douyin", ACCOUNT_KEYS2["douyin"], oid, "created")
    assert _douyin_post(client, shop, body, {**headers, "event-sign": "0" * 32}).status_code == 401
    assert _douyin_post(client, shop, body + b" ", headers).status_code == 401
    assert _douyin_post(client, shop, body, {**headers, "app-id": "someone-else"}).status_code == 401
    assert RawOrder.objects.count() == 0
    resp = _douyin_post(client, shop, body, headers)
    assert resp.json() == {"code": 0, "msg": "success"}
    order = Order.objects.get(shop=shop)
    assert order.platform_order_id == oid
    assert order.receiver_phone == sandbox2.state.order("douyin", oid).receiver["phone"]  # decrypted


@pytest.mark.django_db
def test_douyin_push_is_acknowledged_only_after_the_order_committed(client, tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, "douyin")
    (oid,) = sandbox2.state.generate_orders("douyin", ACCOUNT_KEYS2["douyin"], 1, seed=4, status="paid",
                                            start=_recent(sandbox2)[0], end=_recent(sandbox2)[1])
    body, headers = sandbox2.state.push.build("douyin", ACCOUNT_KEYS2["douyin"], oid, "created")
    sandbox2.state.inject("douyin", "http500", count=2)  # the fetch of the named order fails
    resp = _douyin_post(client, shop, body, headers)
    assert resp.status_code == 500 and resp.json()["code"] != 0  # not acknowledged: Douyin delivers again
    assert not Order.objects.exists()
    resp = _douyin_post(client, shop, body, headers)  # the redelivery
    assert resp.json() == {"code": 0, "msg": "success"}
    assert Order.objects.get().platform_order_id == oid


class _Recorder:
    """A loopback HTTP endpoint that records what the sandbox pushes, then hands each request to
    our view through Django's test client (same thread, same test transaction); its answer goes
    back to the sandbox, which retries until it is a success."""

    def __init__(self, client, path):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        recorder = self
        self.received: list[tuple[bytes, dict]] = []
        self.pending: list = []
        self.answers: dict[int, tuple[int, bytes]] = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()}
                recorder.received.append((body, headers))
                done = threading.Event()
                recorder.pending.append((body, headers, done))
                done.wait(10)
                status, answer = recorder.answers.pop(id(done), (500, b"{}"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.client, self.path = client, path

    def serve(self, until, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until():
            while self.pending:
                body, headers, done = self.pending.pop(0)
                resp = self.client.post(self.path, data=body, content_type="application/json",
                                        headers={k: v for k, v in headers.items()
                                                 if k.lower() in ("app-id", "event-sign") or k.startswith("X-Shopify")})
                self.answers[id(done)] = (resp.status_code, resp.content)
                done.set()
            time.sleep(0.02)

    def close(self):
        self.httpd.shutdown()


@pytest.mark.django_db
def test_the_sandbox_pushes_signed_douyin_messages_and_redelivers_until_acknowledged(client, tenant, sandbox2):
    shop = make_shop2(tenant, sandbox2, "douyin")
    endpoint = _Recorder(client, reverse("channels:douyin_push", args=[shop.pk]))
    try:
        sandbox2.state.push.retry_delay = 0.05
        sandbox2.state.push.set_callback("douyin", ACCOUNT_KEYS2["douyin"], endpoint.url)
        sandbox2.state.inject("douyin", "http500", count=2)  # the first fetch fails: not acknowledged
        ids = sandbox2.state.generate_orders("douyin", ACCOUNT_KEYS2["douyin"], 3, seed=5, status="paid",
                                             start=_recent(sandbox2)[0], end=_recent(sandbox2)[1])
        deliveries = sandbox2.state.push.deliveries
        endpoint.serve(lambda: sum(d["ok"] for d in deliveries) == 3)
        assert set(Order.objects.filter(shop=shop).values_list("platform_order_id", flat=True)) == set(ids)
        assert [d["ok"] for d in deliveries].count(False) == 1 and deliveries[0]["status"] == 500
        body, headers = endpoint.received[0]
        assert headers["app-id"] == CREDENTIALS2["douyin"]["app_key"]
        assert json.loads(body)[0]["tag"] == "101"
        sandbox2.state.modify_order("douyin", ids[0], status="cancelled")
        endpoint.serve(lambda: sum(d["ok"] for d in deliveries) == 4)
        assert Order.objects.get(platform_order_id=ids[0]).status == "cancelled"
    finally:
        endpoint.close()


# ---- Taobao TMC ----------------------------------------------------------------------------------------

def _tmc_shop(tenant, sandbox):
    shop = make_shop(tenant, sandbox, "taobao")
    shop.api_base_url = f"{sandbox.url}/taobao"
    shop.save()
    return shop


@pytest.mark.django_db
def test_tmc_messages_are_fetched_ingested_and_confirmed_and_the_pull_adds_nothing(tenant, sandbox2):
    shop = _tmc_shop(tenant, sandbox2)
    now = sandbox2.state.now()
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=1))
    ids = sandbox2.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 6, seed=6, status="paid",
                                         start=now - timedelta(minutes=40), end=now - timedelta(minutes=10))
    assert len(sandbox2.state.push.tmc_pending(ACCOUNT_KEYS["taobao"])) == 6
    consumer = TmcConsumer(shop, adapter=adapter_for(sandbox2, "taobao", shop=shop))
    assert consumer.run_once() == (6, 6)
    assert set(Order.objects.filter(shop=shop).values_list("platform_order_id", flat=True)) == set(ids)
    assert sandbox2.state.push.tmc_pending(ACCOUNT_KEYS["taobao"]) == []
    assert RawOrder.objects.filter(source="push").count() == 6
    from tests.channels.test_pipeline import pull as pull1

    run = pull1(shop, sandbox2, now)
    assert (run.created, run.unchanged) == (0, 6)
    assert Order.objects.filter(shop=shop).count() == 6


@pytest.mark.django_db
def test_tmc_message_is_redelivered_when_the_consumer_dies_between_fetch_and_commit(tenant, sandbox2):
    shop = _tmc_shop(tenant, sandbox2)
    sandbox2.state.push.redeliver_after = 0
    (tid,) = sandbox2.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 1, seed=7, status="paid",
                                            start=_recent(sandbox2)[0], end=_recent(sandbox2)[1])

    def die(payload):
        raise Killed()

    dying = TmcConsumer(shop, adapter=adapter_for(sandbox2, "taobao", shop=shop), on_fetched=die)
    with pytest.raises(Killed):
        dying.run_once()
    assert not Order.objects.exists()
    assert len(sandbox2.state.push.tmc_pending(ACCOUNT_KEYS["taobao"])) == 1  # not confirmed
    assert sandbox2.state.calls("taobao", "taobao.tmc.messages.confirm") == []
    fresh = TmcConsumer(shop, adapter=adapter_for(sandbox2, "taobao", shop=shop))
    assert fresh.run_once() == (1, 1)  # redelivered
    assert Order.objects.get().platform_order_id == tid
    assert sandbox2.state.push.tmc_pending(ACCOUNT_KEYS["taobao"]) == []


@pytest.mark.django_db
def test_a_dying_consumer_is_restarted_by_the_supervisor(tenant, sandbox2):
    shop = _tmc_shop(tenant, sandbox2)
    ids = sandbox2.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 2, seed=8, status="paid",
                                         start=_recent(sandbox2)[0], end=_recent(sandbox2)[1])
    sandbox2.state.inject("taobao", "http500", count=10)  # the first two runs die on the consume call
    stop = threading.Event()
    runs = []

    def run(stop_event):
        runs.append(1)
        consumer = TmcConsumer(shop, adapter=adapter_for(sandbox2, "taobao", shop=shop))
        consumer.run_once()
        if Order.objects.filter(shop=shop).count() == 2:
            stop_event.set()

    restarts = supervise("tmc-test", run, stop, backoff_base=0.01, backoff_cap=0.05)
    assert restarts >= 2 and len(runs) == restarts + 1
    assert set(Order.objects.values_list("platform_order_id", flat=True)) == set(ids)


# ---- Pinduoduo message WebSocket -----------------------------------------------------------------------

def _run_until(consumer, stop, done, timeout=20.0):
    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            time.sleep(0.05)
        stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    consumer.run(stop)
    watcher.join()


@pytest.mark.django_db
def test_pdd_frames_are_ingested_and_acked_and_redelivered_when_not_acked(tenant, sandbox2):
    shop = make_shop(tenant, sandbox2, "pdd")
    shop.credentials = {**CREDENTIALS["pdd"], "message_url": sandbox2.ws_url}
    shop.api_base_url = f"{sandbox2.url}/pdd"
    shop.save()
    client_id = ACCOUNT_KEYS["pdd"]
    now = sandbox2.state.now()
    ids = sandbox2.state.generate_orders("pdd", client_id, 3, seed=9, status="paid",
                                         start=now - timedelta(minutes=30), end=now - timedelta(minutes=5))
    killed = []

    def die_once(payload):
        if not killed:
            killed.append(payload["order_sn"])
            raise Killed()

    dying = PddMessageConsumer(shop, adapter=adapter_for(sandbox2, "pdd", shop=shop), on_fetched=die_once)
    with pytest.raises(Killed):
        dying.run(threading.Event())
    assert Order.objects.count() == 0 and len(sandbox2.state.push.pdd_pending(client_id)) == 3

    consumer = PddMessageConsumer(shop, adapter=adapter_for(sandbox2, "pdd", shop=shop), heartbeat=0.2)
    stop = threading.Event()
    _run_until(consumer, stop, lambda: not sandbox2.state.push.pdd_pending(client_id))
    assert set(Order.objects.values_list("platform_order_id", flat=True)) == set(ids)
    assert killed[0] in ids  # the frame whose consumer died was delivered again
    assert sorted(consumer.acked) == sorted(sandbox2.state.push.pdd_acked)
    assert any(c == client_id and m["commandType"] == "HeartBeat" for c, m in sandbox2.ws.heartbeats)
    assert sandbox2.ws.connections == 2


@pytest.mark.django_db
def test_pdd_socket_with_a_bad_signature_is_refused(tenant, sandbox2):
    shop = make_shop(tenant, sandbox2, "pdd")
    shop.credentials = {**CREDENTIALS["pdd"], "client_secret": "wrong", "message_url": sandbox2.ws_url}
    shop.save()
    consumer = PddMessageConsumer(shop, adapter=adapter_for(sandbox2, "pdd", shop=shop))
    with pytest.raises(Exception):  # noqa: B017  (the socket is closed by the server)
        _run_until(consumer, threading.Event(), lambda: False, timeout=2)
    assert sandbox2.ws.rejected == 1


def test_json_big_ints_in_tmc_content_stay_exact():
    content = json.loads('{"tid": 4012345678901234567}', parse_int=str)
    assert content["tid"] == "4012345678901234567"
