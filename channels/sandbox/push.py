"""What the sandbox marketplaces push when an order is created or changes (Channels II):

- Taobao TMC: messages queued per app key, served by `taobao.tmc.messages.consume` and removed
  by `taobao.tmc.messages.confirm` (registered into the Taobao fake's API table here, with
  `taobao.tmc.user.permit` and `taobao.trade.fullinfo.get`). A consumed message that is not
  confirmed within `redeliver_after` seconds (sandbox clock) is served again.
- Pinduoduo: frames for the message WebSocket (channels.sandbox.pdd_ws serves them); a frame
  stays pending until the client acks its id, and is sent again on every new connection.
- Douyin and Shopify: signed HTTP POSTs to the callback URL registered for the account
  (`hub.set_callback(platform, account_key, url)`), from a sender thread, retried
  `retries` times `retry_delay` seconds apart while our endpoint does not answer success.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time

import requests

from . import douyin, shopify, taobao
from . import generator as gen
from .common import Reply, fmt_time, request_id

logger = logging.getLogger(__name__)

TMC_TOPICS = {"created": "taobao_trade_TradeCreate", "paid": "taobao_trade_TradeBuyerPay",
              "modified": "taobao_trade_TradeChanged", "address": "taobao_trade_TradeLogisticsAddressChanged",
              "shipped": "taobao_trade_TradeSellerShip", "cancelled": "taobao_trade_TradeClose"}
PDD_TYPES = {"created": "pdd_trade_TradeConfirmed", "modified": "pdd_trade_TradeModified",
             "address": "pdd_trade_TradeModified", "shipped": "pdd_trade_TradeSellerShip",
             "cancelled": "pdd_trade_TradeClose"}


class PushHub:
    def __init__(self, state):
        self.state = state
        self.redeliver_after = 60.0  # seconds on the sandbox clock before an unconfirmed TMC message returns
        self.retries = 5
        self.retry_delay = 0.5
        self.callbacks: dict[tuple[str, str], str] = {}
        self.tmc: dict[str, list[dict]] = {}  # app_key -> messages {id, topic, content, ..., _served_at}
        self.tmc_confirmed: list[int] = []
        self.pdd: dict[str, dict[int, dict]] = {}  # client_id -> {frame id: frame}
        self.pdd_acked: list[int] = []
        self.deliveries: list[dict] = []  # every HTTP push attempt: platform, account, url, status, ok
        self._ids = iter(range(10**15 + 1, 10**16))
        self._queue: queue.Queue = queue.Queue()
        self._sender: threading.Thread | None = None
        self._stop = threading.Event()
        state.listeners.append(self.on_event)

    # ---- configuration --------------------------------------------------------------------------
    def set_callback(self, platform: str, account_key: str, url: str) -> None:
        if platform not in ("douyin", "shopify"):
            raise ValueError("HTTP push exists for douyin and shopify")
        with self.state.lock:
            self.callbacks[(platform, account_key)] = url

    # ---- events ---------------------------------------------------------------------------------
    def on_event(self, platform: str, account_key: str, order_id: str, event: str) -> None:
        with self.state.lock:
            order = self.state.find_order(platform, account_key, order_id)
            if order is None:
                return
            if event == "modified" and order.status == gen.CANCELLED:
                event = "cancelled"
            elif event == "modified" and order.status == gen.PAID and order.modified == order.paid_at:
                event = "paid"
            if platform == "taobao":
                self._tmc_add(account_key, order, event)
            elif platform == "pdd":
                self._pdd_add(account_key, order, event)
            elif platform in ("douyin", "shopify") and (platform, account_key) in self.callbacks:
                self._queue.put((platform, account_key, order_id, event))
                self._ensure_sender()

    # ---- Taobao TMC -----------------------------------------------------------------------------
    def _tmc_add(self, app_key: str, order: gen.SandboxOrder, event: str) -> None:
        content = {"tid": int(order.order_id), "oid": int(order.lines[0].line_id), "status": taobao.trade_status(order),
                   "payment": f"{order.payment:.2f}", "buyer_nick": order.buyer_nick,
                   "seller_nick": f"沙箱店铺{app_key}", "type": order.trade_type}
        self.tmc.setdefault(app_key, []).append({
            "id": next(self._ids), "topic": TMC_TOPICS.get(event, TMC_TOPICS["modified"]),
            "content": json.dumps(content, ensure_ascii=False), "pub_time": fmt_time(self.state.now()),
            "pub_app_key": app_key, "user_id": 2200000000 + abs(hash(app_key)) % 10**8,
            "user_nick": f"沙箱店铺{app_key}", "_served_at": None})

    def tmc_pending(self, app_key: str) -> list[dict]:
        with self.state.lock:
            return [dict(m) for m in self.tmc.get(app_key, [])]

    def _tmc_consume(self, state, app_key: str, p: dict) -> Reply:
        try:
            quantity = int(p.get("quantity") or 100)
        except ValueError:
            quantity = 0
        if not 10 <= quantity <= 200:
            return taobao.error(41, "Invalid arguments:quantity", "isv.invalid-parameter:quantity", "quantity取值10~200")
        now = state.clock()
        out = []
        for m in self.tmc.get(app_key, []):
            if len(out) >= quantity:
                break
            if m["_served_at"] is None or now - m["_served_at"] >= self.redeliver_after:
                m["_served_at"] = now
                out.append({k: v for k, v in m.items() if not k.startswith("_")})
        body = {"messages": {"tmc_message": out}} if out else {}
        return Reply(200, {"tmc_messages_consume_response": {**body, "request_id": request_id()}})

    def _tmc_confirm(self, state, app_key: str, p: dict) -> Reply:
        try:
            ids = {int(x) for x in (p.get("s_message_ids") or "").split(",") if x.strip()}
        except ValueError:
            return taobao.error(41, "Invalid arguments:s_message_ids", "isv.invalid-parameter:s_message_ids")
        if not ids:
            return taobao.error(40, "Missing required arguments:s_message_ids", "isv.missing-parameter:s_message_ids")
        msgs = self.tmc.get(app_key, [])
        self.tmc[app_key] = [m for m in msgs if m["id"] not in ids]
        self.tmc_confirmed.extend(sorted(ids & {m["id"] for m in msgs}))
        return Reply(200, {"tmc_messages_confirm_response": {"is_success": True, "request_id": request_id()}})

    def _tmc_permit(self, state, app_key: str, p: dict) -> Reply:
        return Reply(200, {"tmc_user_permit_response": {"is_success": True, "request_id": request_id()}})

    def _trade_fullinfo(self, state, app_key: str, p: dict) -> Reply:
        if not p.get("tid"):
            return taobao.error(40, "Missing required arguments:tid", "isv.missing-parameter:tid")
        order = state.find_order("taobao", app_key, p["tid"])
        if order is None:
            return taobao.error(15, "Remote service error", "isv.trade-not-exist", "交易不存在")
        return Reply(200, {"trade_fullinfo_get_response": {"trade": taobao.render(order), "request_id": request_id()}})

    # ---- PDD message WebSocket ------------------------------------------------------------------
    def _pdd_add(self, client_id: str, order: gen.SandboxOrder, event: str) -> None:
        acc = self.state.accounts["pdd"].get(client_id) or {}
        mall_id = int(acc.get("mall_id") or 100000 + abs(hash(client_id)) % 10**6)
        now_ms = int(self.state.clock() * 1000)
        frame_id = next(self._ids)
        self.pdd.setdefault(client_id, {})[frame_id] = {
            "id": frame_id, "commandType": "Common", "time": now_ms, "sendTime": now_ms,
            "message": {"type": PDD_TYPES.get(event, PDD_TYPES["modified"]), "mallID": mall_id,
                        "content": json.dumps({"mall_id": mall_id, "tid": order.order_id}, separators=(",", ":"))}}

    def pdd_pending(self, client_id: str) -> list[dict]:
        with self.state.lock:
            return [dict(f) for f in self.pdd.get(client_id, {}).values()]

    def pdd_ack(self, client_id: str, frame_id) -> bool:
        with self.state.lock:
            try:
                frame_id = int(frame_id)
            except (TypeError, ValueError):
                return False
            if self.pdd.get(client_id, {}).pop(frame_id, None) is not None:
                self.pdd_acked.append(frame_id)
                return True
            return False

    # ---- Douyin / Shopify HTTP pushes -----------------------------------------------------------
    def build(self, platform: str, account_key: str, order_id: str, event: str) -> tuple[bytes, dict]:
        """The body and headers our endpoint receives for one event (signed as the platform signs)."""
        with self.state.lock:
            acc = self.state.accounts[platform][account_key]
            order = self.state.find_order(platform, account_key, order_id)
            if platform == "douyin":
                body = json.dumps([douyin.push_message(order, event, acc["shop_id"])],
                                  separators=(",", ":")).encode()
                return body, {"Content-Type": "application/json", "app-id": acc["app_key"],
                              "event-sign": douyin.push_sign(acc["app_key"], acc["app_secret"], body)}
            body = json.dumps(shopify.render(order), ensure_ascii=False).encode()
            topic = "orders/create" if event == "created" else "orders/updated"
            return body, {"Content-Type": "application/json", "X-Shopify-Topic": topic,
                          "X-Shopify-Hmac-Sha256": shopify.webhook_hmac(acc.get("webhook_secret", ""), body),
                          "X-Shopify-Shop-Domain": acc["shop_domain"], "X-Shopify-API-Version": shopify_version(),
                          "X-Shopify-Webhook-Id": secrets.token_hex(16)}

    def douyin_ping(self, account_key: str) -> tuple[bytes, dict]:
        """The tag "0" verification message Douyin sends when the push URL is configured."""
        acc = self.state.accounts["douyin"][account_key]
        body = json.dumps([{"tag": "0", "msg_id": "0", "data": "{}"}], separators=(",", ":")).encode()
        return body, {"Content-Type": "application/json", "app-id": acc["app_key"],
                      "event-sign": douyin.push_sign(acc["app_key"], acc["app_secret"], body)}

    def _ensure_sender(self) -> None:
        if self._sender is None or not self._sender.is_alive():
            self._stop.clear()
            self._sender = threading.Thread(target=self._send_loop, name="sandbox-push-sender", daemon=True)
            self._sender.start()

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            try:
                platform, account_key, order_id, event = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._deliver(platform, account_key, order_id, event)
            except Exception:
                logger.exception("sandbox push to %s/%s failed", platform, account_key)
            finally:
                self._queue.task_done()

    def _deliver(self, platform, account_key, order_id, event) -> None:
        url = self.callbacks.get((platform, account_key))
        if not url:
            return
        body, headers = self.build(platform, account_key, order_id, event)
        for attempt in range(1, self.retries + 1):
            status, ok = 0, False
            try:
                resp = requests.post(url, data=body, headers=headers, timeout=10)
                status = resp.status_code
                if platform == "douyin":
                    ok = status == 200 and _json(resp).get("code") == 0
                else:
                    ok = 200 <= status < 300
            except requests.RequestException as exc:
                logger.info("sandbox push %s -> %s: %s", platform, url, exc)
            with self.state.lock:
                self.deliveries.append({"platform": platform, "account": account_key, "order_id": order_id,
                                        "event": event, "url": url, "status": status, "ok": ok, "attempt": attempt})
            if ok or self._stop.wait(self.retry_delay):
                return

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued HTTP push was delivered (or given up); True when idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._sender is not None:
            self._sender.join(timeout=2)


def shopify_version() -> str:
    return "2024-01"


def _json(resp) -> dict:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def register_taobao_apis() -> None:
    """Serve the TMC and trade-detail APIs from the Taobao fake's gateway."""

    def bound(name):
        def handler(state, app_key, params):
            return getattr(state.push, name)(state, app_key, params)
        return handler

    taobao.APIS.setdefault("taobao.tmc.messages.consume", bound("_tmc_consume"))
    taobao.APIS.setdefault("taobao.tmc.messages.confirm", bound("_tmc_confirm"))
    taobao.APIS.setdefault("taobao.tmc.user.permit", bound("_tmc_permit"))
    taobao.APIS.setdefault("taobao.trade.fullinfo.get", bound("_trade_fullinfo"))


register_taobao_apis()
