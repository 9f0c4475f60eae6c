"""Bulk ingest: a page of platform orders in one transaction and a handful of queries.

New orders -- the bulk of every pull -- are created, reserved (the `orders_accepted` domain
signal: inventory hands out the page's stock in one locked pass), checked by the same review
rules and system holds as `order_ingest`, and settled, with every row written in bulk. Anything
unusual takes the one-order path: orders that exist already (updates), a platform id twice in
the page, and tenants with gift rules (gifts change lines before reservation).
The outcome is the same rows `order_ingest` would write, order for order.

How it stays fast: no model instances. Order and line ids are taken from their sequences
first (oms.bulk_rows.new_ids), so the page is reserved (the signal), reviewed and settled in
memory, and then every row -- orders, lines, holds, events -- is written once, with its final
values: one INSERT per table, the four in one statement. An order that exists already and is
not newer on the platform is answered "unchanged" without a query of its own (forward-only,
as order_ingest).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from operator import itemgetter

from django.db import transaction
from django.db.models import Exists
from django.utils.translation import gettext as _

from inventory import selectors as stock_selectors
from inventory.models import Sku
from oms import signals
from oms.bulk_rows import insert_many, new_ids
from oms.models import Tenant

from .. import platform_holds, rules
from ..canonical import CanonicalOrder
from ..models import Blacklist, GiftRule, Hold, HoldReason, Order, OrderEvent, OrderKind, OrderLine, RuleCode
from ..states import OrderStatus
from .core import PLATFORM_REASONS, REFUNDED
from .ingest import IngestResult, _initial_status, _line_values, _order_values, _platform_values, order_ingest

S = OrderStatus


def orders_ingest_many(*, tenant_id: int, shop_id: int, canonicals: list[CanonicalOrder],
                       source: str = "") -> list[IngestResult]:
    """Ingest a page; returns one IngestResult per canonical, in the same order."""
    results: list[IngestResult | None] = [None] * len(canonicals)
    # no savepoint when nested: a failure here fails the caller's transaction as a whole
    with transaction.atomic(savepoint=False):
        pids = [c.platform_order_id for c in canonicals]
        existing = {pid: (pk, modified) for pid, pk, modified in Order.objects.select_for_update().filter(
            tenant_id=tenant_id, shop_id=shop_id, platform_order_id__in=pids).values_list(
            "platform_order_id", "pk", "platform_modified_at")}
        seen: set[str] = set()
        slow, fast = [], []
        tenant = Tenant.objects.only("auto_approve", "default_currency").annotate(
            gifts=Exists(GiftRule.objects.filter(tenant_id=tenant_id, enabled=True))).get(pk=tenant_id)
        gifts = tenant.gifts
        for i, c in enumerate(canonicals):
            known = existing.get(c.platform_order_id)
            if known is not None and c.modified_at <= known[1]:
                # forward-only: not newer than what we hold (order_ingest would write nothing)
                results[i] = IngestResult("unchanged", known[0])
            elif gifts or known is not None or c.platform_order_id in seen:
                slow.append(i)
            else:
                fast.append(i)
            seen.add(c.platform_order_id)
        if fast:
            created = _create_many(tenant, shop_id, [canonicals[i] for i in fast],
                                   source or f"channel:{canonicals[fast[0]].platform}")
            for i, order_id in zip(fast, created, strict=True):
                results[i] = IngestResult("created", order_id)
        for i in slow:
            results[i] = order_ingest(tenant=tenant_id, shop=shop_id, canonical=canonicals[i], source=source)
    return results  # type: ignore[return-value]


class _Row:
    """An order or line of the page, in memory until written: the attributes the review rules
    read (duck-typed like the model) and the column values."""

    def __init__(self, **values):
        self.__dict__.update(values)


#: written columns: these, then those of _order_values / _line_values (the one-order path's)
ORDER_KEYS = ("id", "tenant_id", "shop_id", "platform", "platform_order_id", "status", "placed_at",
              "platform_modified_at", "urgent", "kind", "platform_values")
LINE_KEYS = ("id", "tenant_id", "order_id", "platform_line_id")
EVENT_COLUMNS = ("tenant_id", "order_id", "actor_label", "type", "message", "before", "after")
HOLD_COLUMNS = ("tenant_id", "order_id", "reason", "detail", "data")


def _create_many(tenant: Tenant, shop_id: int, canonicals: list[CanonicalOrder], label: str) -> list[int]:
    tenant_id = tenant.pk
    codes = {ln.outer_sku_id for c in canonicals for ln in c.lines if not ln.sku_id and ln.outer_sku_id}
    given = {ln.sku_id for c in canonicals for ln in c.lines if ln.sku_id}
    sku_rows = {s.pk: s for s in Sku.objects.filter(tenant_id=tenant_id).filter(
        pk__in=given) | Sku.objects.filter(tenant_id=tenant_id, code__in=codes)} if (codes or given) else {}
    by_code = {s.code: s.pk for s in sku_rows.values()}
    order_ids, line_ids = new_ids((Order, len(canonicals)), (OrderLine, sum(len(c.lines) for c in canonicals)))
    next_line = iter(line_ids).__next__

    orders: list[_Row] = []
    lines_of: dict[int, list[_Row]] = {}
    events: list[tuple] = []
    order_columns, line_columns = ORDER_KEYS, LINE_KEYS
    imported = _("从 %(p)s 导入，平台状态 %(s)s")
    for c, order_id in zip(canonicals, order_ids, strict=True):
        status = str(_initial_status(c))
        if c.fulfilled_by_platform and status == S.PENDING_REVIEW:
            status = str(S.APPROVED)
        values = _order_values(c)
        order_columns = ORDER_KEYS + tuple(values)
        order = _Row(id=order_id, pk=order_id, tenant_id=tenant_id, shop_id=shop_id, platform=c.platform,
                     platform_order_id=c.platform_order_id, status=status, placed_at=c.placed_at,
                     platform_modified_at=c.modified_at, urgent=c.urgent, kind=str(OrderKind.NORMAL),
                     platform_values=_platform_values(c, values), **values)
        orders.append(order)
        lines = []
        for ln in c.lines:
            sku_id = ln.sku_id if ln.sku_id in sku_rows else (None if ln.sku_id else by_code.get(ln.outer_sku_id))
            line_id = next_line()
            values = _line_values(ln, sku_id)
            line_columns = LINE_KEYS + tuple(values)
            lines.append(_Row(id=line_id, pk=line_id, tenant_id=tenant_id, order_id=order_id,
                              platform_line_id=ln.platform_line_id[:64], **values))
        lines_of[order_id] = lines
        events.append((tenant_id, order_id, label[:50], "created",
                       (imported % {"p": c.platform, "s": c.platform_status})[:255],
                       None, {"status": status}))

    holds: list[tuple] = []
    review = [o for o in orders if o.status == S.PENDING_REVIEW and not o.fulfilled_by_platform]
    # serve urgent orders first, then the oldest
    review.sort(key=lambda o: (not o.urgent, o.paid_at or o.placed_at, o.pk))
    if review:
        # inventory reserves the page (reservations + ledger rows) under its stock-row locks;
        # reservations refer to order and line ids, which are ours already
        signals.orders_accepted.send(sender=Order, tenant_id=tenant_id, actor_label=label, orders=[
            {"order_id": o.pk, "lines": [{"line_id": ln.pk, "sku_id": ln.sku_id, "quantity": ln.quantity}
                                         for ln in lines_of[o.pk] if ln.sku_id and ln.refund_status != REFUNDED]}
            for o in review])
        _review_many(tenant, review, lines_of, sku_rows, events, holds, orders)
    row, line_row = itemgetter(*order_columns), itemgetter(*line_columns)
    insert_many((Order, order_columns, [row(o.__dict__) for o in orders]),
                (OrderLine, line_columns, [line_row(ln.__dict__) for o in orders for ln in lines_of[o.pk]]),
                (Hold, HOLD_COLUMNS, holds),
                (OrderEvent, EVENT_COLUMNS, events))
    return order_ids


def _review_many(tenant: Tenant, review: list[_Row], lines_of, sku_rows, events: list[tuple], holds: list[tuple],
                 page: list[_Row]) -> None:
    """System holds (unmapped SKU, out of stock) and the review rules for the page's new paid
    orders; sets each order's final status and collects its hold and event rows."""
    tenant_id = tenant.pk
    shortages = stock_selectors.orders_shortages(tenant_id=tenant_id, order_ids=[o.pk for o in review])
    short_skus = {sid for items in shortages.values() for sid, _q in items}
    codes = {s.pk: s.code for s in sku_rows.values()}
    missing_codes = short_skus - set(codes)
    if missing_codes:
        codes.update(dict(Sku.objects.filter(tenant_id=tenant_id, pk__in=missing_codes).values_list("pk", "code")))
    settings = rules.rule_settings(tenant_id=tenant_id)
    blacklist = list(Blacklist.objects.filter(tenant_id=tenant_id)) if settings[RuleCode.BLACKLIST].enabled else []
    recent = _recent_for_duplicates(tenant_id, review, lines_of, settings, page) \
        if settings[RuleCode.DUPLICATE].enabled else []

    on_hold, approved = str(S.ON_HOLD), str(S.APPROVED)
    held_event = _status_event(S.PENDING_REVIEW, S.ON_HOLD)
    approved_event = _status_event(S.PENDING_REVIEW, S.APPROVED, label="auto", message=_("自动审核通过"))
    unmapped_text, short_text = _("平台商品 %(item)s / SKU %(sku)s / 编码 %(code)s 未匹配到商品"), _("%(code)s 缺 %(qty)s 件")
    labels = {r: str(r.label) for r in HoldReason}
    by_buyer: dict[str, list[tuple]] = defaultdict(list)
    for entry in recent:  # the duplicate rule only compares orders of the same buyer
        by_buyer[entry[3]].append(entry)
    for order in review:
        findings: list[tuple[str, str, dict | None]] = []
        unmapped = [ln for ln in lines_of[order.pk] if ln.sku_id is None and ln.refund_status != REFUNDED]
        if unmapped:
            findings.append((HoldReason.UNMAPPED_SKU, "；".join(
                unmapped_text % {"item": ln.platform_item_id or "-", "sku": ln.platform_sku_id or "-",
                   "code": ln.outer_sku_id or "-"} for ln in unmapped), None))
        if order.pk in shortages:
            findings.append((HoldReason.OUT_OF_STOCK, "；".join(
                short_text % {"code": codes.get(s, s), "qty": q} for s, q in shortages[order.pk]), None))
        stops = platform_holds.findings(order, lines_of[order.pk])
        found = rules.evaluate(order, tenant_currency=tenant.default_currency, settings=settings,
                               lines=lines_of[order.pk], skus=sku_rows, blacklist=blacklist,
                               recent=by_buyer.get(order.buyer_nick, []))
        findings.extend((reason, *stops[reason]) for reason in PLATFORM_REASONS if reason in stops)
        for reason in rules.RULE_REASONS:
            if reason in found:
                findings.append((reason, found[reason], None))
        for reason, detail, data in findings:
            holds.append((tenant_id, order.pk, str(reason), detail[:255], data))
            events.append((tenant_id, order.pk, "system", "hold", f"{labels[reason]}: {detail}"[:255],
                           None, {"reason": str(reason), "detail": detail}))
        if findings:
            order.status = on_hold
            events.append((tenant_id, order.pk, *held_event))
        elif tenant.auto_approve:
            order.status = approved
            events.append((tenant_id, order.pk, *approved_event))


def _status_event(before: str, after: str, *, label: str = "system", message: str = "") -> tuple:
    """(actor label, type, message, before, after) of a status event (order_transition's)."""
    return (label, "status", (message or f"{S(before).label} → {S(after).label}")[:255],
            {"status": str(before)}, {"status": str(after)})


def _recent_for_duplicates(tenant_id: int, review: list[_Row], lines_of, settings, page: list[_Row]) -> list[tuple]:
    """(pk, placed_at, platform, buyer, platform order id, line signature) of every order of
    this page's buyers that the duplicate rule may compare with -- stored ones (two queries
    for the page) and the page's own new orders -- oldest first, as the one-order path sees them."""
    window = timedelta(minutes=int(settings[RuleCode.DUPLICATE].threshold or 0))
    nicks = {o.buyer_nick for o in review if o.buyer_nick}
    if not nicks:
        return []
    lo = min(o.placed_at for o in review) - window
    hi = max(o.placed_at for o in review)
    stored = Order.objects.filter(tenant_id=tenant_id, buyer_nick__in=nicks, kind=OrderKind.NORMAL,
                                  placed_at__gte=lo, placed_at__lte=hi).exclude(status=S.CANCELLED)
    others = list(stored.values_list("pk", "placed_at", "platform", "buyer_nick", "platform_order_id"))
    extra: dict[int, list] = defaultdict(list)
    if others:  # (a subquery, not thousands of ids; named tuples: what line_signature reads)
        for ln in OrderLine.objects.filter(tenant_id=tenant_id, order_id__in=stored.values("pk")).values_list(
                "order_id", "sku_id", "outer_sku_id", "quantity", "is_gift", "refund_status", named=True):
            extra[ln.order_id].append(ln)
    out = []
    for pk, placed_at, platform, nick, pid in others:
        lines = [ln for ln in extra.get(pk, []) if ln.refund_status != REFUNDED]
        out.append((pk, placed_at, platform, nick, pid, rules.line_signature(lines)))
    for o in page:  # not written yet; their status is still the initial one
        if o.buyer_nick in nicks and o.kind == OrderKind.NORMAL and lo <= o.placed_at <= hi \
                and o.status != S.CANCELLED:
            lines = [ln for ln in lines_of[o.pk] if ln.refund_status != REFUNDED]
            out.append((o.pk, o.placed_at, o.platform, o.buyer_nick, o.platform_order_id, rules.line_signature(lines)))
    out.sort(key=lambda r: (r[1], r[0]))
    return out
