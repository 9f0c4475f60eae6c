"""The in-memory world of the sandbox marketplaces: accounts, orders, recorded calls, faults.

Thread-safe: every read and write of shared data happens under `lock` (an RLock, so platform
handlers holding it can call back into the state).
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from datetime import datetime, timedelta

from . import amazon, douyin, jd, pdd, shopify, taobao, woocommerce
from . import generator as gen
from .common import CN_TZ

logger = logging.getLogger(__name__)

FAKES = {"taobao": taobao, "jd": jd, "pdd": pdd,
         # Channels II
         "amazon": amazon, "shopify": shopify, "woocommerce": woocommerce, "douyin": douyin}
PLATFORMS = tuple(FAKES)
FAULT_KINDS = ("http500", "throttle", "http429", "timeout", "malformed", "session_expired",
               "modify_during_paging")
REQUIRED_CREDENTIALS = {
    "taobao": ("app_key", "app_secret", "session"),
    "jd": ("app_key", "app_secret", "access_token"),
    "pdd": ("client_id", "client_secret", "access_token"),
    "amazon": ("client_id", "client_secret", "refresh_token"),
    "shopify": ("shop_domain", "access_token"),
    "woocommerce": ("consumer_key", "consumer_secret"),
    "douyin": ("app_key", "app_secret", "shop_id"),
}
MODIFY_KEYS = {"status", "platform_status", "refund", "line_refunds", "receiver", "buyer_note", "seller_note",
               "modified", "post_fee",
               # issue 14: a do-not-ship state (True / False / the platform's reason) and refund reasons
               "ship_block", "refund_reason", "refund_reasons"}


def account_key_of(platform: str, credentials: dict) -> str:
    """The key an account is known by: the app key (Taobao, JD) or client_id (PDD)."""
    return str(credentials[FAKES[platform].ACCOUNT_KEY])


class SandboxState:
    def __init__(self, *, clock=time.time):
        self.lock = threading.RLock()
        # The platforms' business clock (epoch seconds): "now" for created / modified / shipped
        # times and for PDD's "end <= now - 3 min" rule. Request timestamps (10 minute skew) are
        # checked against the wall clock, since clients sign with theirs.
        self.clock = clock
        self.accounts: dict[str, dict[str, dict]] = {p: {} for p in PLATFORMS}
        self._orders: dict[str, dict[str, gen.SandboxOrder]] = {p: {} for p in PLATFORMS}
        self.pushes: list[dict] = []
        self.shipments: list[dict] = []
        self.request_log: list[tuple] = []  # (platform, api name, params, time)
        self._faults: dict[str, list[list]] = {p: [] for p in PLATFORMS}
        self.gates: dict[str, object] = {}  # platform -> oms.sandbox_server.Gate on its order-list calls
        self.timeout_delay = 2.0  # seconds a "timeout" fault stalls before dropping the connection
        self.retry_after = 1  # the Retry-After header of an "http429" fault
        self._rng = random.Random()
        self._trickles: list[tuple[threading.Event, threading.Thread]] = []
        # Channels II: per-platform scratch space of the REST fakes (tokens, cursors, limiters), and
        # listeners told about every created / modified / shipped order (the push senders).
        self.extra: dict = {}
        self.listeners: list = []
        from . import push

        self.push = push.PushHub(self)

    # ---- time -------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(int(self.clock()), CN_TZ)

    # ---- accounts -----------------------------------------------------------------------------
    def add_account(self, platform: str, credentials: dict) -> None:
        self._check_platform(platform)
        missing = [k for k in REQUIRED_CREDENTIALS[platform] if not credentials.get(k)]
        if missing:
            raise ValueError(f"{platform} sandbox account needs {', '.join(missing)}")
        with self.lock:
            self.accounts[platform][account_key_of(platform, credentials)] = dict(credentials)

    def account(self, platform: str, key: str) -> dict | None:
        with self.lock:
            acc = self.accounts[platform].get(key)
            return dict(acc) if acc else None

    # ---- orders -----------------------------------------------------------------------------
    def generate_orders(self, platform: str, account_key: str, n: int, *, start: datetime, end: datetime,
                        seed=None, skus=None, status: str | None = None, ship_blocks: bool = False) -> list[str]:
        """Create `n` orders created/modified within [start, end]; return their platform ids.
        `ship_blocks`: now and then a paid order carries its platform's do-not-ship state."""
        self._check_platform(platform)
        if status is not None and status not in gen.STATES:
            raise ValueError(f"unknown status {status!r}")
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be aware datetimes")
        if end < start:
            raise ValueError("end before start")
        rng = random.Random(seed) if seed is not None else self._rng
        skus = [tuple(s) for s in (skus or gen.DEFAULT_SKUS)]
        ids = []
        with self.lock:
            if account_key not in self.accounts[platform]:
                raise KeyError(f"no {platform} sandbox account {account_key!r}")
            book = self._orders[platform]
            for _ in range(n):
                created_hint = gen.truncate(start)
                order_id = gen.new_order_id(platform, rng, created_hint)
                while order_id in book:
                    order_id = gen.new_order_id(platform, rng, created_hint)
                order = gen.make_order(platform, account_key, order_id, rng, start=start, end=end,
                                       skus=skus, status=status, ship_blocks=ship_blocks)
                book[order_id] = order
                ids.append(order_id)
        for order_id in ids:
            self._emit(platform, account_key, order_id, "created")
        return ids

    def modify_order(self, platform: str, order_id: str, **changes) -> dict:
        """Change an order as the buyer/platform would, bumping its modified time (to `modified`
        if given, else now). Keys: status, platform_status, refund ("", "requested", "refunded"
        on every line), line_refunds {line_id: refund}, receiver {name, phone, province, city,
        district, town, address, zip}, buyer_note, seller_note, post_fee, modified;
        ship_block (True / False / a reason in the platform's words: rendered as that platform's
        do-not-ship state, see generator.SandboxOrder.ship_block), refund_reason (every line) and
        refund_reasons {line_id: reason}, served where the platform's order payload carries one.
        Returns the order as the platform renders it."""
        unknown = set(changes) - MODIFY_KEYS
        if unknown:
            raise ValueError(f"unknown change(s): {', '.join(sorted(unknown))}")
        block = _ship_block(platform, changes["ship_block"]) if "ship_block" in changes else None
        with self.lock:
            order = self._get(platform, order_id)
            now = changes.get("modified") or self.now()
            if "status" in changes:
                status = changes["status"]
                if status not in gen.STATES:
                    raise ValueError(f"unknown status {status!r}")
                order.status = status
                if status in (gen.PAID, gen.SHIPPED, gen.COMPLETED) and order.paid_at is None:
                    order.paid_at = now
                if status in (gen.SHIPPED, gen.COMPLETED) and order.shipped_at is None:
                    order.shipped_at = now
            if "platform_status" in changes:
                order.platform_status = changes["platform_status"] or ""
            if "refund" in changes:
                refund = changes["refund"]
                if refund not in gen.REFUNDS:
                    raise ValueError(f"unknown refund {refund!r}")
                for ln in order.lines:
                    ln.refund = refund
                if refund == "refunded" and order.status in (gen.PAID, gen.UNPAID):
                    order.status = gen.CANCELLED
            for line_id, refund in (changes.get("line_refunds") or {}).items():
                if refund not in gen.REFUNDS:
                    raise ValueError(f"unknown refund {refund!r}")
                matches = [ln for ln in order.lines if ln.line_id == str(line_id)]
                if not matches:
                    raise KeyError(f"order {order_id} has no line {line_id}")
                matches[0].refund = refund
            if "receiver" in changes:
                bad = set(changes["receiver"]) - set(order.receiver)
                if bad:
                    raise ValueError(f"unknown receiver field(s): {', '.join(sorted(bad))}")
                order.receiver.update(changes["receiver"])
            for key in ("buyer_note", "seller_note", "post_fee"):
                if key in changes:
                    setattr(order, key, changes[key])
            if block is not None:
                order.ship_block = block
            for ln in order.lines if "refund_reason" in changes else ():
                ln.refund_reason = str(changes["refund_reason"] or "")
            for line_id, reason in (changes.get("refund_reasons") or {}).items():
                matches = [ln for ln in order.lines if ln.line_id == str(line_id)]
                if not matches:
                    raise KeyError(f"order {order_id} has no line {line_id}")
                matches[0].refund_reason = str(reason or "")
            order.modified = gen.truncate(now)
            rendered = FAKES[platform].render(order)
        self._emit(platform, order.account, order.order_id, "address" if set(changes) == {"receiver"} else "modified")
        return rendered

    def bump(self, platform: str, order_id: str, when: datetime | None = None) -> None:
        """Touch an order: only its modified time moves (used by the modify_during_paging fault)."""
        with self.lock:
            self._get(platform, order_id).modified = gen.truncate(when or self.now())

    def orders(self, platform: str, account_key: str | None = None) -> list[dict]:
        """The orders as the platform renders them, most recently modified first."""
        self._check_platform(platform)
        with self.lock:
            found = [o for o in self._orders[platform].values() if account_key in (None, o.account)]
            found.sort(key=lambda o: (o.modified, o.order_id), reverse=True)
            return [FAKES[platform].render(o) for o in found]

    def order(self, platform: str, order_id: str) -> gen.SandboxOrder:
        """A copy of the neutral order (amounts as Decimal, times aware): the truth to compare with."""
        with self.lock:
            return copy.deepcopy(self._get(platform, order_id))

    def _get(self, platform: str, order_id: str) -> gen.SandboxOrder:
        self._check_platform(platform)
        try:
            return self._orders[platform][str(order_id)]
        except KeyError:
            raise KeyError(f"no {platform} sandbox order {order_id}") from None

    def find_order(self, platform: str, account_key: str, order_id: str) -> gen.SandboxOrder | None:
        """For the platform handlers (call with the lock held)."""
        order = self._orders[platform].get(str(order_id))
        return order if order is not None and order.account == account_key else None

    def account_orders(self, platform: str, account_key: str) -> list[gen.SandboxOrder]:
        """For the platform handlers (call with the lock held)."""
        return [o for o in self._orders[platform].values() if o.account == account_key]

    # ---- recorded calls -------------------------------------------------------------------------
    def record_push(self, platform: str, account_key: str, *, item_id: str, sku_id: str, quantity: int,
                    mode: str = "absolute", outer_id: str = "") -> None:
        with self.lock:
            self.pushes.append({"platform": platform, "account": account_key, "item_id": item_id,
                                "sku_id": sku_id, "outer_id": outer_id, "quantity": quantity,
                                "mode": mode, "at": self.now()})

    def ship(self, platform: str, order: gen.SandboxOrder, *, carrier: str, tracking_number: str) -> None:
        """Mark a paid order shipped and record the confirmation (call with the lock held)."""
        now = self.now()
        order.status = gen.SHIPPED
        order.shipped_at = now
        order.modified = now
        order.tracking = {"carrier": carrier, "tracking_number": tracking_number}
        self.shipments.append({"platform": platform, "account": order.account, "order_id": order.order_id,
                               "carrier": carrier, "tracking_number": tracking_number, "at": now})
        self._emit(platform, order.account, order.order_id, "shipped")

    def _emit(self, platform: str, account_key: str, order_id: str, event: str) -> None:
        """Tell the push listeners (they only queue; delivery happens in their own threads)."""
        for listener in list(self.listeners):
            try:
                listener(platform, account_key, order_id, event)
            except Exception:
                logger.exception("sandbox push listener failed")

    def log_request(self, platform: str, api: str, params: dict) -> None:
        with self.lock:
            self.request_log.append((platform, api, dict(params), self.now()))

    def calls(self, platform: str, api: str | None = None) -> list[tuple]:
        with self.lock:
            return [r for r in self.request_log if r[0] == platform and api in (None, r[1])]

    # ---- faults -----------------------------------------------------------------------------
    def inject(self, platform: str, kind: str, count: int = 1) -> None:
        """Make the next `count` API calls to `platform` fail with `kind` (modify_during_paging:
        the next `count` order-list calls serve their page, then the first order of that page
        is modified "now", as if the buyer touched it while we page)."""
        self._check_platform(platform)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be positive")
        with self.lock:
            self._faults[platform].append([kind, count])

    def take_fault(self, platform: str, *, list_call: bool) -> str | None:
        with self.lock:
            for entry in self._faults[platform]:
                kind = entry[0]
                if kind == "modify_during_paging" and not list_call:
                    continue
                entry[1] -= 1
                if entry[1] <= 0:
                    self._faults[platform].remove(entry)
                return kind
        return None

    def hold_list_call(self, platform: str, *, after: int, timeout: float = 30.0, then=None):
        """Let `after` order-list calls of `platform` through, then hold the next one until the
        returned gate is released (see oms.sandbox_server.Gate)."""
        from oms.sandbox_server import Gate

        self._check_platform(platform)
        gate = Gate(after=after, timeout=timeout, then=then)
        with self.lock:
            self.gates[platform] = gate
        return gate

    def pass_gate(self, platform: str, *, list_call: bool) -> None:
        gate = self.gates.get(platform) if list_call else None
        if gate is not None:
            gate.passing()

    def pending_faults(self, platform: str | None = None) -> list[tuple[str, str, int]]:
        with self.lock:
            return [(p, k, c) for p in PLATFORMS if platform in (None, p) for k, c in self._faults[p]]

    def clear_faults(self) -> None:
        with self.lock:
            for faults in self._faults.values():
                faults.clear()

    # ---- demo trickle -------------------------------------------------------------------------
    def start_trickle(self, platform: str, account_key: str, per_minute: float, skus=None, *,
                      seed=None) -> threading.Event:
        """Keep creating new paid orders "now" (and now and then refund or re-address an older
        one) in a daemon thread until the returned event is set or stop_trickles() is called."""
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.account(platform, account_key) or self._no_account(platform, account_key)
        stop = threading.Event()
        rng = random.Random(seed)
        interval = 60.0 / per_minute

        def run():
            while not stop.wait(interval):
                try:
                    now = self.now()
                    self.generate_orders(platform, account_key, 1, start=now, end=now, skus=skus,
                                         status=gen.PAID, seed=rng.random(), ship_blocks=True)
                    if rng.random() < 0.2:
                        self._trickle_modify(platform, account_key, rng)
                except Exception:  # keep the demo running; the log says why
                    logger.exception("sandbox trickle %s/%s failed", platform, account_key)

        thread = threading.Thread(target=run, name=f"sandbox-trickle-{platform}", daemon=True)
        with self.lock:
            self._trickles.append((stop, thread))
        thread.start()
        return stop

    def _trickle_modify(self, platform: str, account_key: str, rng: random.Random) -> None:
        with self.lock:
            older = [o.order_id for o in self.account_orders(platform, account_key) if o.status == gen.PAID]
        if not older:
            return
        order_id = rng.choice(older)
        r = rng.random()
        if r < 0.4:
            self.modify_order(platform, order_id, refund="requested")
        elif r < 0.6:
            self.modify_order(platform, order_id, refund="refunded")
        else:
            self.modify_order(platform, order_id, receiver=gen.receiver(rng))

    def stop_trickles(self) -> None:
        with self.lock:
            trickles, self._trickles = self._trickles, []
        for stop, thread in trickles:
            stop.set()
            thread.join(timeout=2)

    # ---- summary ------------------------------------------------------------------------------
    def summary(self) -> dict:
        with self.lock:
            return {
                "accounts": {p: sorted(self.accounts[p]) for p in PLATFORMS},
                "orders": {p: len(self._orders[p]) for p in PLATFORMS},
                "orders_by_status": {p: _count(o.status for o in self._orders[p].values()) for p in PLATFORMS},
                "pushes": [dict(p, at=p["at"].isoformat()) for p in self.pushes],
                "shipments": [dict(s, at=s["at"].isoformat()) for s in self.shipments],
                "requests": len(self.request_log),
                "faults": [list(f) for f in self.pending_faults()],
                "trickles": len(self._trickles),
            }

    # ---- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _check_platform(platform: str) -> None:
        if platform not in FAKES:
            raise ValueError(f"unknown sandbox platform {platform!r}; one of {', '.join(PLATFORMS)}")

    @staticmethod
    def _no_account(platform: str, key: str):
        raise KeyError(f"no {platform} sandbox account {key!r}")


def _ship_block(platform: str, value) -> str:
    if platform == "woocommerce" and value:
        raise ValueError("woocommerce has no do-not-ship state (on-hold means awaiting payment)")
    if value is True:
        return gen.default_block(platform)
    return str(value) if value else ""


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def default_window(minutes: int = 60, *, lag: timedelta = timedelta(minutes=5), now: datetime | None = None):
    """A window of `minutes` that ended `lag` ago (PDD only lists orders older than 3 minutes)."""
    end = (now or datetime.now(CN_TZ)) - lag
    return end - timedelta(minutes=minutes), end
