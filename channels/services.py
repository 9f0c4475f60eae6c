"""Channel operations: the pull pipeline, the raw archive and replay, SKU mapping, and the
availability push. Adapters only speak protocols; everything else lives here, once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, connection, reset_queries, transaction
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import SkuComponent, StockLevel, Warehouse
from oms.bulk_rows import JsonText, insert_rows
from orders import services as order_services
from orders.models import Hold, HoldReason, Order, OrderLine

from .adapters import get_adapter
from .adapters.base import AdapterError, windows
from .models import ChannelCall, Listing, PullRun, RawOrder, RawOutcome, Shop

logger = logging.getLogger(__name__)

INITIAL_LOOKBACK = timedelta(days=1)
LOCK_TTL = timedelta(minutes=20)
#: a pull older than this is over whatever its lock says (the task's hard time limit is 30 min)
PULL_RUN_MAX = timedelta(minutes=31)
PUSH_DEBOUNCE_SECONDS = 1.0


# --- the pull lock ---------------------------------------------------------------------------
def shop_lock_acquire(*, shop_id: int, ttl: timedelta = LOCK_TTL) -> str | None:
    """One pull per shop at a time. A conditional UPDATE takes the lock atomically; a lock
    left by a crashed worker expires after `ttl`."""
    now = timezone.now()
    token = secrets.token_hex(8)
    got = Shop.objects.filter(pk=shop_id).filter(
        Q(pull_lock_until__isnull=True) | Q(pull_lock_until__lt=now)
    ).update(pull_lock_until=now + ttl, pull_lock_token=token)
    return token if got else None


def shop_lock_release(*, shop_id: int, token: str) -> None:
    Shop.objects.filter(pk=shop_id, pull_lock_token=token).update(pull_lock_until=None, pull_lock_token="")


# --- archive and ingest ---------------------------------------------------------------------
def payload_json(payload) -> str:
    """The payload's canonical JSON text (sorted keys, compact): what payload_hash digests."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def payload_hash(payload, text: str | None = None) -> str:
    return hashlib.sha256((text if text is not None else payload_json(payload)).encode()).hexdigest()


def raw_archive(*, shop: Shop, platform_order_id: str, payload, source: str = "pull") -> tuple[RawOrder, bool]:
    """Store a payload exactly as received (its own commit, before anything can fail).
    Returns (raw, is_new); an identical payload received before is not stored twice."""
    digest = payload_hash(payload)
    existing = RawOrder.objects.filter(tenant_id=shop.tenant_id, shop=shop, platform_order_id=platform_order_id,
                                       payload_hash=digest).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            return RawOrder.objects.create(tenant_id=shop.tenant_id, shop=shop,
                                           platform_order_id=str(platform_order_id)[:64], payload=payload,
                                           payload_hash=digest, source=source), True
    except IntegrityError:
        return RawOrder.objects.get(tenant_id=shop.tenant_id, shop=shop, platform_order_id=platform_order_id,
                                    payload_hash=digest), False


def map_lines(*, shop: Shop, canonical) -> None:
    """Resolve each line to an internal SKU through the shop's Listings: by platform SKU id,
    else by item id, else by the merchant code (listing outer id, then SKU code)."""
    map_lines_many(shop=shop, canonicals=[canonical])


def map_lines_many(*, shop: Shop, canonicals: list) -> None:
    lines = [ln for c in canonicals for ln in c.lines]
    listings = list(Listing.objects.filter(tenant_id=shop.tenant_id, shop=shop).filter(
        Q(platform_item_id__in={ln.platform_item_id for ln in lines if ln.platform_item_id})
        | Q(outer_id__in={ln.outer_sku_id for ln in lines if ln.outer_sku_id})
    ).values_list("platform_item_id", "platform_sku_id", "outer_id", "sku_id"))
    by_sku = {(i, s): sku for i, s, _o, sku in listings if s}
    by_item = {i: sku for i, s, _o, sku in listings if not s}
    by_outer = {o: sku for _i, _s, o, sku in listings if o}
    for ln in lines:
        if ln.sku_id:
            continue
        ln.sku_id = (by_sku.get((ln.platform_item_id, ln.platform_sku_id))
                     or by_item.get(ln.platform_item_id) or by_outer.get(ln.outer_sku_id))


def raw_process(*, raw: RawOrder, adapter=None) -> str:
    """Normalise and ingest one archived payload. A failure is kept on the raw row with its
    error (for ops to see and replay), never raised and never dropped."""
    shop = raw.shop
    adapter = adapter or get_adapter(shop)
    try:
        canonical = adapter.normalize(raw.payload)
        map_lines(shop=shop, canonical=canonical)
        result = order_services.order_ingest(tenant=shop.tenant_id, shop=shop, canonical=canonical,
                                             source=f"channel:{shop.platform}")
        outcome, error = result.outcome, ""
    except Exception as exc:  # archived with its error; replayable
        logger.warning("tenant=%s shop=%s raw=%s normalise/ingest failed: %s", shop.tenant_id, shop.pk, raw.pk,
                       type(exc).__name__)
        outcome, error = RawOutcome.FAILED, f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=3)
    RawOrder.objects.filter(pk=raw.pk).update(outcome=outcome, error=error, processed_at=timezone.now(),
                                              attempts=F("attempts") + 1)
    raw.outcome, raw.error = outcome, error
    return outcome


def raw_replay(*, tenant_id: int, raw_id: int) -> str:
    raw = RawOrder.objects.select_related("shop").get(tenant_id=tenant_id, pk=raw_id)
    return raw_process(raw=raw)


@dataclass
class Counts:
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    raw_ids: list[int] = field(default_factory=list)

    def add(self, outcome: str) -> None:
        self.received += 1
        name = {RawOutcome.CREATED: "created", RawOutcome.UPDATED: "updated",
                RawOutcome.UNCHANGED: "unchanged"}.get(outcome, "failed")
        setattr(self, name, getattr(self, name) + 1)

    def summary(self) -> dict:
        return {"received": self.received, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "failed": self.failed}


def raw_receive(*, shop: Shop, payload, adapter, source: str, counts: Counts) -> None:
    """archive -> normalise -> ingest, for one raw platform order (pull, push or file)."""
    try:
        pid = str(adapter.order_id(payload))
    except Exception:
        pid = "unknown-" + payload_hash(payload)[:16]
    raw, is_new = raw_archive(shop=shop, platform_order_id=pid, payload=payload, source=source)
    counts.raw_ids.append(raw.pk)
    if not is_new and raw.outcome in (RawOutcome.CREATED, RawOutcome.UPDATED, RawOutcome.UNCHANGED):
        counts.add(RawOutcome.UNCHANGED)  # the very same payload was ingested before
        return
    counts.add(raw_process(raw=raw, adapter=adapter))


RAW_COLUMNS = ("tenant_id", "shop_id", "platform_order_id", "payload", "payload_hash", "source")
_DONE = (RawOutcome.CREATED, RawOutcome.UPDATED, RawOutcome.UNCHANGED)


def raw_receive_page(*, shop: Shop, payloads: list, adapter, source: str, counts: Counts | None = None) -> Counts:
    """A page of raw platform orders through archive -> normalise -> ingest, in bulk: the page
    is archived in one statement (its own commit, before anything can fail), normalised,
    mapped with one listing query, and ingested by orders_ingest_many in one transaction that
    also records each raw row's outcome (an order and its archive's outcome commit together).
    If the bulk ingest fails, the page is replayed order by order, so a bad order is recorded
    on its own raw row and the others still land."""
    counts = counts or Counts()
    if not payloads:
        return counts
    keys = []  # (platform order id, payload hash) per payload
    payload_of: dict[tuple[str, str], object] = {}
    text_of: dict[tuple[str, str], str] = {}
    for payload in payloads:
        text = payload_json(payload)
        digest = payload_hash(payload, text)
        try:
            pid = str(adapter.order_id(payload))[:64]
        except Exception:
            pid = "unknown-" + digest[:16]
        key = (pid, digest)
        keys.append(key)
        payload_of.setdefault(key, payload)
        text_of.setdefault(key, text)
    known = {(pid, digest): (pk, outcome) for pid, digest, pk, outcome in RawOrder.objects.filter(
        tenant_id=shop.tenant_id, shop=shop, platform_order_id__in={pid for pid, _d in keys}).values_list(
        "platform_order_id", "payload_hash", "pk", "outcome")}
    fresh = [key for key in payload_of if key not in known]
    own_transaction = not connection.in_atomic_block
    try:
        with transaction.atomic():
            if own_transaction and connection.vendor == "postgresql":
                # No wait for the disk here: every path below ends in a synchronous commit (the
                # ingest, the replay or the outcome update), which makes this one durable too;
                # a crash of the worker in between loses nothing (the server has it), and a crash
                # of the server loses at most this uncommitted-to-disk page, which the next pull
                # fetches again (the high-water mark has not moved). (Inside a caller's
                # transaction, SET LOCAL would reach its commit: not done there.)
                with connection.cursor() as cur:
                    cur.execute("SET LOCAL synchronous_commit TO OFF")
            # the payload goes in as the JSON text just hashed (jsonb keeps the same value)
            ids = insert_rows(RawOrder, RAW_COLUMNS, [
                (shop.tenant_id, shop.pk, pid, JsonText(payload_of[(pid, digest)], text_of[(pid, digest)]), digest,
                 source) for pid, digest in fresh], returning=True)
    except IntegrityError:  # a concurrent push archived some of them: take the careful path
        for payload in payloads:
            raw_receive(shop=shop, payload=payload, adapter=adapter, source=source, counts=counts)
        return counts
    for key, pk in zip(fresh, ids, strict=True):
        known[key] = (pk, RawOutcome.PENDING)
    todo: list[tuple[int, tuple[str, str], object]] = []  # (raw id, key, canonical)
    outcomes: dict[int, tuple[str, str | None]] = {}  # error None: recorded already
    for key in dict.fromkeys(keys):  # once per distinct payload
        pk, outcome = known[key]
        counts.raw_ids.append(pk)
        if outcome in _DONE:  # the very same payload was ingested before
            counts.add(RawOutcome.UNCHANGED)
            continue
        try:
            todo.append((pk, key, adapter.normalize(payload_of[key])))
        except Exception as exc:
            outcomes[pk] = (RawOutcome.FAILED, f"{type(exc).__name__}: {exc}")
    if todo:
        map_lines_many(shop=shop, canonicals=[c for _pk, _k, c in todo])
        try:
            with transaction.atomic():
                results = order_services.orders_ingest_many(tenant_id=shop.tenant_id, shop_id=shop.pk,
                                                            canonicals=[c for _pk, _k, c in todo],
                                                            source=f"channel:{shop.platform}")
                merged = {**outcomes, **{pk: (result.outcome, "")
                                         for (pk, _k, _c), result in zip(todo, results, strict=True)}}
                _raw_outcomes_record(merged)
            outcomes = {pk: (outcome, None) for pk, (outcome, _e) in merged.items()}  # recorded above
        except Exception:
            logger.warning("tenant=%s shop=%s bulk ingest failed; replaying the page one by one",
                           shop.tenant_id, shop.pk, exc_info=True)
            for pk, (pid, digest), _c in todo:
                raw = RawOrder(pk=pk, tenant_id=shop.tenant_id, shop=shop, platform_order_id=pid,
                               payload=payload_of[(pid, digest)], payload_hash=digest, source=source)
                outcomes[pk] = (raw_process(raw=raw, adapter=adapter), None)
    _raw_outcomes_record(outcomes)
    for outcome, _error in outcomes.values():
        counts.add(outcome)
    return counts


def _raw_outcomes_record(outcomes: dict[int, tuple[str, str | None]]) -> None:
    """One UPDATE per (outcome, error) of the raw rows not recorded yet (error None: recorded)."""
    by_outcome: dict[tuple[str, str], list[int]] = defaultdict(list)
    for raw_pk, (outcome, error) in outcomes.items():
        if error is not None:
            by_outcome[(outcome, error)].append(raw_pk)
    now = timezone.now()
    for (outcome, error), ids in by_outcome.items():
        RawOrder.objects.filter(pk__in=ids).update(outcome=outcome, error=error, processed_at=now,
                                                   attempts=F("attempts") + 1)


def ingest_payload(*, shop: Shop, payload, source: str = "file") -> Counts:
    """A list-response page (exactly as the platform returns it) or one raw order."""
    adapter = get_adapter(shop)
    counts = Counts()
    return raw_receive_page(shop=shop, payloads=adapter.split_page(payload), adapter=adapter, source=source,
                            counts=counts)


# --- the pull ---------------------------------------------------------------------------------
class ShopBusy(Exception):
    pass


def shop_pull(*, tenant_id: int, shop_id: int, now: datetime | None = None, adapter=None) -> PullRun:
    """Pull one shop: [high-water mark - overlap, now - lag] in platform-legal slices.
    The mark advances slice by slice, each only after all of its orders committed. A failure
    stops the pull, is recorded on the PullRun and the shop, and the next pull resumes there.
    A lost database connection is a failure like a platform error: the run is recorded on a
    fresh connection (if the database answers again) and the lock released; if even that is
    impossible, `pull_runs_reap` marks the run failed once its lock has expired."""
    shop = Shop.objects.get(tenant_id=tenant_id, pk=shop_id)
    token = shop_lock_acquire(shop_id=shop.pk)
    if token is None:
        raise ShopBusy(f"shop {shop.pk} is being pulled")
    try:
        adapter = adapter or get_adapter(shop)
        now = now or timezone.now()
        end = now - adapter.lag
        start = (shop.high_water_mark or (end - INITIAL_LOOKBACK)) - adapter.overlap
        run = PullRun.objects.create(tenant_id=tenant_id, shop=shop, window_start=start, window_end=end)
        counts = Counts()
        error = ""
        unexpected: Exception | None = None
        try:
            for ws, we in windows(start, end, adapter.max_window):
                for page in adapter.fetch_orders(ws, we):
                    raw_receive_page(shop=shop, payloads=page, adapter=adapter, source="pull", counts=counts)
                    if settings.DEBUG:  # do not keep every page's bulk inserts (SQL + payloads) in the query log
                        reset_queries()
                    PullRun.objects.filter(pk=run.pk).update(fetched=counts.received)
                    # keep the lock alive through long pulls
                    Shop.objects.filter(pk=shop.pk, pull_lock_token=token).update(
                        pull_lock_until=timezone.now() + LOCK_TTL)
                if shop.high_water_mark is None or we > shop.high_water_mark:
                    shop.high_water_mark = we
                    Shop.objects.filter(pk=shop.pk).update(high_water_mark=we)
        except AdapterError as exc:
            error = f"[{exc.code}] {exc}" if exc.code else str(exc)
            logger.warning("tenant=%s shop=%s pull failed: %s", tenant_id, shop.pk, error)
        except DatabaseError as exc:
            error = _("数据库连接中断：%(e)s") % {"e": f"{type(exc).__name__}: {exc}".strip()[:300]}
            logger.warning("tenant=%s shop=%s run=%s pull lost the database: %s", tenant_id, shop.pk, run.pk,
                           type(exc).__name__)
            connection.close_if_unusable_or_obsolete()  # the next query opens a fresh connection
        except Exception as exc:  # recorded for ops, then raised for the task's log
            error = _("拉单异常中止：%(e)s") % {"e": f"{type(exc).__name__}: {exc}"[:300]}
            unexpected = exc
        run.fetched = counts.received
        run.created, run.updated, run.unchanged, run.failed = (counts.created, counts.updated, counts.unchanged,
                                                               counts.failed)
        run.error = error
        run.status = PullRun.Status.FAILED if error else PullRun.Status.OK
        run.finished_at = timezone.now()
        run.save()
        Shop.objects.filter(pk=shop.pk).update(last_pull_error=error)
        if unexpected is not None:
            raise unexpected
        return run
    finally:
        try:
            shop_lock_release(shop_id=shop.pk, token=token)
        except DatabaseError:  # the database is still away: the lock expires on its own
            logger.warning("tenant=%s shop=%s could not release the pull lock", tenant_id, shop.pk)


def pull_runs_reap(*, now: datetime | None = None) -> list[int]:
    """Mark as failed the pull runs that say "running" but whose pull is gone: their shop's lock
    has expired or been released (a worker killed mid-pull, a database lost while recording),
    a newer run of the same shop exists, or they are older than any pull may last. An expired
    lock is cleared so the next pull starts at once; it resumes at the shop's high-water mark.
    Returns the ids of the runs marked."""
    now = now or timezone.now()
    newer = PullRun.objects.filter(shop_id=OuterRef("shop_id"), started_at__gt=OuterRef("started_at"))
    stale = (PullRun.objects.filter(status=PullRun.Status.RUNNING)
             .filter(Q(shop__pull_lock_until__isnull=True) | Q(shop__pull_lock_until__lt=now)
                     | Q(started_at__lt=now - PULL_RUN_MAX) | Exists(newer))
             .values_list("pk", "tenant_id", "shop_id"))
    reaped = []
    for run_id, tenant_id, shop_id in stale:
        error = _("拉单中断（工作进程退出或数据库连接丢失），下次拉单从已同步位置继续")
        if PullRun.objects.filter(pk=run_id, status=PullRun.Status.RUNNING).update(
                status=PullRun.Status.FAILED, error=error, finished_at=now):
            Shop.objects.filter(pk=shop_id).update(last_pull_error=error)
            Shop.objects.filter(pk=shop_id, pull_lock_until__lt=now).update(pull_lock_until=None, pull_lock_token="")
            logger.warning("tenant=%s shop=%s run=%s interrupted pull marked failed", tenant_id, shop_id, run_id)
            reaped.append(run_id)
    return reaped


def shops_due(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """(tenant_id, shop_id) of enabled shops whose interval has passed; marks them dispatched
    with a conditional UPDATE so two beat processes never dispatch the same shop twice."""
    now = now or timezone.now()
    due = []
    for shop in Shop.objects.filter(enabled=True).exclude(platform="manual").only(
            "pk", "tenant_id", "last_pull_at", "pull_interval_minutes"):
        if shop.last_pull_at and shop.last_pull_at + timedelta(minutes=shop.pull_interval_minutes) > now:
            continue
        claimed = Shop.objects.filter(pk=shop.pk, last_pull_at=shop.last_pull_at).update(last_pull_at=now)
        if claimed:
            due.append((shop.tenant_id, shop.pk))
    return due


# --- SKU mapping ------------------------------------------------------------------------------
def listing_saved(*, listing: Listing) -> int:
    """A mapping was created or changed: orders of that shop held for an unmapped line that
    this listing now maps are mapped and re-processed. Returns the number of orders."""
    lines = OrderLine.objects.filter(
        tenant_id=listing.tenant_id, order__shop_id=listing.shop_id, sku__isnull=True,
        order__holds__reason=HoldReason.UNMAPPED_SKU, order__holds__resolved_at__isnull=True,
    ).filter(Q(platform_item_id=listing.platform_item_id, platform_sku_id=listing.platform_sku_id)
             | (Q(outer_sku_id=listing.outer_id) if listing.outer_id else Q(pk__in=[])))
    order_ids = set()
    for ln in lines.distinct():
        OrderLine.objects.filter(pk=ln.pk).update(sku_id=listing.sku_id)
        order_ids.add(ln.order_id)
    for oid in sorted(order_ids):
        order_services.order_reprocess(tenant_id=listing.tenant_id, order_id=oid)
    return len(order_ids)


def orders_waiting_for_stock(*, tenant_id: int, sku_ids: list[int]) -> list[int]:
    return list(Hold.objects.filter(tenant_id=tenant_id, reason=HoldReason.OUT_OF_STOCK, resolved_at=None)
                .values_list("order_id", flat=True).distinct())


# --- availability -----------------------------------------------------------------------------
@dataclass
class Availability:
    quantity: int
    per_warehouse: dict[str, int]
    safety_stock: int
    ratio: Decimal
    limited_by: str = ""

    def explain(self) -> str:
        parts = " + ".join(f"{name} {qty}" for name, qty in self.per_warehouse.items()) or "0"
        text = f"{parts} − 安全库存 {self.safety_stock}"
        if self.ratio != 1:
            text = f"({text}) × {self.ratio.normalize()}"
        if self.limited_by:
            text += f"（组合装，受 {self.limited_by} 限制）"
        return f"{self.quantity}：{text}"


def _serving_warehouses(shop: Shop) -> list[Warehouse]:
    chosen = list(shop.warehouses.filter(active=True).order_by("priority", "id"))
    return chosen or list(Warehouse.objects.filter(tenant_id=shop.tenant_id, active=True).order_by("priority", "id"))


def sku_channel_availability(*, shop: Shop, sku_id: int) -> Availability:
    """What `shop` is told for `sku_id`: the available stock of the warehouses serving the shop,
    minus the shop's safety stock, times its allocation ratio, floored at 0. A combo is limited
    by its scarcest component."""
    whs = _serving_warehouses(shop)
    wh_ids = [w.pk for w in whs]
    names = {w.pk: w.name for w in whs}
    comps = list(SkuComponent.objects.filter(tenant_id=shop.tenant_id, combo_id=sku_id)
                 .values_list("component_id", "quantity", "component__code"))
    need = {c[0]: c[1] for c in comps} if comps else {sku_id: 1}
    rows = (StockLevel.objects.filter(tenant_id=shop.tenant_id, sku_id__in=list(need), warehouse_id__in=wh_ids)
            .values("warehouse_id", "sku_id").annotate(a=Sum(F("on_hand") - F("reserved"))))
    avail: dict[tuple[int, int], int] = {(r["warehouse_id"], r["sku_id"]): max(0, r["a"] or 0) for r in rows}
    per_wh: dict[str, int] = {}
    limited_by = ""
    for wid in wh_ids:
        sets = [avail.get((wid, sid), 0) // per for sid, per in need.items()]
        per_wh[names[wid]] = min(sets) if sets else 0
    if comps:
        totals = {code: sum(avail.get((w, cid), 0) for w in wh_ids) // per for cid, per, code in comps}
        limited_by = min(totals, key=totals.get) if totals else ""
    total = sum(per_wh.values())
    ratio = Decimal(shop.allocation_ratio)
    qty = int(((Decimal(total) - shop.safety_stock) * ratio).to_integral_value(rounding=ROUND_FLOOR))
    return Availability(max(0, qty), per_wh, shop.safety_stock, ratio, limited_by)


def listings_for_skus(*, tenant_id: int, sku_ids: list[int]) -> list[int]:
    """Listings to push when these SKUs change: their own, and those of combos built from them."""
    combos = SkuComponent.objects.filter(tenant_id=tenant_id, component_id__in=sku_ids).values("combo_id")
    return list(Listing.objects.filter(Q(sku_id__in=set(sku_ids)) | Q(sku_id__in=combos), tenant_id=tenant_id,
                                       push_enabled=True, shop__enabled=True).values_list("pk", flat=True))


def _push_keys(listing_id: int) -> tuple[str, str]:
    return f"oms:push:pending:{listing_id}", f"oms:push:version:{listing_id}"


def schedule_availability_push(*, tenant_id: int, sku_ids: list[int]) -> int:
    """Coalesce: at most one pending push per listing; the push computes the absolute value
    when it runs, so a burst of changes collapses into one push with the latest figure.
    Returns how many pushes were newly queued."""
    from . import tasks

    queued = 0
    for listing_id in listings_for_skus(tenant_id=tenant_id, sku_ids=sku_ids):
        pending, version_key = _push_keys(listing_id)
        cache.add(version_key, 0, timeout=None)
        try:
            version = cache.incr(version_key)
        except ValueError:
            cache.set(version_key, 1, timeout=None)
            version = 1
        if cache.add(pending, version, timeout=60):
            tasks.push_listing.apply_async(args=[tenant_id, listing_id, version], countdown=PUSH_DEBOUNCE_SECONDS)
            queued += 1
    return queued


class PushSuperseded(Exception):
    pass


def listing_push(*, tenant_id: int, listing_id: int, version: int | None = None, attempt: int = 1) -> ChannelCall:
    """Push the listing's current absolute availability to its platform, and log the call.
    A retry whose version is older than the newest scheduled one is dropped: the newer push
    carries a fresher value."""
    pending, version_key = _push_keys(listing_id)
    if attempt > 1 and version is not None and (cache.get(version_key) or 0) > version:
        raise PushSuperseded()
    cache.delete(pending)  # changes from now on schedule a new push
    listing = Listing.objects.select_related("shop").get(tenant_id=tenant_id, pk=listing_id)
    availability = sku_channel_availability(shop=listing.shop, sku_id=listing.sku_id)
    call = ChannelCall(tenant_id=tenant_id, shop=listing.shop, kind=ChannelCall.Kind.PUSH_STOCK, listing=listing,
                       quantity=availability.quantity, attempt=attempt, reference=listing.platform_item_id)
    try:
        get_adapter(listing.shop).push_stock(listing, availability.quantity)
        call.ok = True
        Listing.objects.filter(pk=listing.pk).update(last_pushed_quantity=availability.quantity,
                                                     last_pushed_at=timezone.now())
    except AdapterError as exc:
        call.error = f"[{exc.code}] {exc}" if exc.code else str(exc)
        call.save()
        raise
    call.save()
    return call


def shipment_confirm(*, tenant_id: int, order_id: int, shipment_id: int, carrier_code: str,
                     tracking_number: str, attempt: int = 1) -> list[ChannelCall]:
    """Tell each platform order this shipment carries (one, or every source of a merged/split
    order) that it shipped. Idempotent per platform order; an exchange order (our own
    replacement, unknown to the platform) and platform-fulfilled orders confirm nothing."""
    from orders.selectors import order_platform_refs

    order = Order.objects.select_related("shop").get(tenant_id=tenant_id, pk=order_id)
    if order.fulfilled_by_platform or order.kind == "exchange":
        return []
    calls = []
    for shop_id, platform_order_id in order_platform_refs(order=order):
        target = Order.objects.select_related("shop").get(tenant_id=tenant_id, shop_id=shop_id,
                                                          platform_order_id=platform_order_id)
        if target.shop.platform == "manual":
            continue
        call = ChannelCall(tenant_id=tenant_id, shop=target.shop, kind=ChannelCall.Kind.CONFIRM_SHIPMENT,
                           reference=f"{platform_order_id}:{tracking_number}"[:64], attempt=attempt)
        if ChannelCall.objects.filter(tenant_id=tenant_id, shop=target.shop, kind=call.kind,
                                      reference=call.reference, ok=True).exists():
            continue  # already confirmed: a retried task is harmless
        try:
            get_adapter(target.shop).confirm_shipment(order=target, carrier_code=carrier_code,
                                                      tracking_number=tracking_number)
            call.ok = True
        except AdapterError as exc:
            call.error = f"[{exc.code}] {exc}" if exc.code else str(exc)
            call.save()
            raise
        call.save()
        calls.append(call)
    return calls
