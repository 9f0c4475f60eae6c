"""Bulk ingest: a page of platform orders in one transaction and a handful of queries.

New orders -- the bulk of every pull -- are created, reserved (the `orders_accepted` domain
signal: inventory hands out the page's stock in one locked pass), checked by the same review
rules and system holds as `order_ingest`, and settled, with every row written in bulk. Anything
unusual takes the one-order path: orders that exist already (updates), a platform id twice in
the page, and tenants with gift rules (gifts change lines before reservation).
The outcome is the same rows `order_ingest` would write, order for order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import selectors as stock_selectors
from inventory.models import Sku
from oms import signals
from oms.models import Tenant

from .. import rules
from ..canonical import CanonicalOrder
from ..models import Blacklist, GiftRule, Hold, HoldReason, Order, OrderEvent, OrderKind, OrderLine, RuleCode
from ..states import OrderStatus
from .core import REFUNDED, IngestResult, _initial_status, _line_values, _order_values, order_ingest

S = OrderStatus


def orders_ingest_many(*, tenant_id: int, shop_id: int, canonicals: list[CanonicalOrder],
                       source: str = "") -> list[IngestResult]:
    """Ingest a page; returns one IngestResult per canonical, in the same order."""
    results: list[IngestResult | None] = [None] * len(canonicals)
    with transaction.atomic():
        pids = [c.platform_order_id for c in canonicals]
        existing = set(Order.objects.select_for_update().filter(
            tenant_id=tenant_id, shop_id=shop_id, platform_order_id__in=pids).values_list("platform_order_id", flat=True))
        seen: set[str] = set()
        slow, fast = [], []
        gifts = GiftRule.objects.filter(tenant_id=tenant_id, enabled=True).exists()
        for i, c in enumerate(canonicals):
            if gifts or c.platform_order_id in existing or c.platform_order_id in seen:
                slow.append(i)
            else:
                fast.append(i)
            seen.add(c.platform_order_id)
        if fast:
            created = _create_many(tenant_id, shop_id, [canonicals[i] for i in fast],
                                   source or f"channel:{canonicals[fast[0]].platform}")
            for i, order_id in zip(fast, created, strict=True):
                results[i] = IngestResult("created", order_id)
        for i in slow:
            results[i] = order_ingest(tenant=tenant_id, shop=shop_id, canonical=canonicals[i], source=source)
    return results  # type: ignore[return-value]


def _create_many(tenant_id: int, shop_id: int, canonicals: list[CanonicalOrder], label: str) -> list[int]:
    tenant = Tenant.objects.only("auto_approve", "default_currency").get(pk=tenant_id)
    codes = {ln.outer_sku_id for c in canonicals for ln in c.lines if not ln.sku_id and ln.outer_sku_id}
    given = {ln.sku_id for c in canonicals for ln in c.lines if ln.sku_id}
    sku_rows = {s.pk: s for s in Sku.objects.filter(tenant_id=tenant_id).filter(
        pk__in=given) | Sku.objects.filter(tenant_id=tenant_id, code__in=codes)} if (codes or given) else {}
    by_code = {s.code: s.pk for s in sku_rows.values()}

    orders = []
    for c in canonicals:
        status = _initial_status(c)
        if c.fulfilled_by_platform and status == S.PENDING_REVIEW:
            status = S.APPROVED
        orders.append(Order(tenant_id=tenant_id, shop_id=shop_id, platform=c.platform,
                            platform_order_id=c.platform_order_id, status=status, placed_at=c.placed_at,
                            platform_modified_at=c.modified_at, urgent=c.urgent, **_order_values(c)))
    Order.objects.bulk_create(orders, batch_size=500)
    lines_of: dict[int, list[OrderLine]] = {}
    all_lines = []
    for order, c in zip(orders, canonicals, strict=True):
        lines = []
        for ln in c.lines:
            sku_id = ln.sku_id if ln.sku_id in sku_rows else (None if ln.sku_id else by_code.get(ln.outer_sku_id))
            lines.append(OrderLine(tenant_id=tenant_id, order=order, platform_line_id=ln.platform_line_id[:64],
                                   **_line_values(ln, sku_id)))
        lines_of[order.pk] = lines
        all_lines.extend(lines)
    OrderLine.objects.bulk_create(all_lines, batch_size=1000)

    events: list[OrderEvent] = []

    def event(order, type_, message, **kw):
        events.append(OrderEvent(tenant_id=tenant_id, order=order, type=type_, message=str(message)[:255],
                                 actor_label=kw.pop("actor_label", "system"), **kw))

    for order, c in zip(orders, canonicals, strict=True):
        event(order, "created", _("从 %(p)s 导入，平台状态 %(s)s") % {"p": c.platform, "s": c.platform_status},
              after={"status": order.status}, actor_label=label)

    review = [o for o in orders if o.status == S.PENDING_REVIEW and not o.fulfilled_by_platform]
    # serve urgent orders first, then the oldest
    review.sort(key=lambda o: (not o.urgent, o.paid_at or o.placed_at, o.pk))
    if review:
        signals.orders_accepted.send(sender=Order, tenant_id=tenant_id, orders=[
            {"order_id": o.pk, "lines": [{"line_id": ln.pk, "sku_id": ln.sku_id, "quantity": ln.quantity}
                                         for ln in lines_of[o.pk] if ln.sku_id and ln.refund_status != REFUNDED]}
            for o in review])
        _review_many(tenant, review, lines_of, sku_rows, events)
    OrderEvent.objects.bulk_create(events, batch_size=1000)
    return [o.pk for o in orders]


def _review_many(tenant: Tenant, review: list[Order], lines_of, sku_rows, events: list[OrderEvent]) -> None:
    tenant_id = tenant.pk
    shortages = stock_selectors.orders_shortages(tenant_id=tenant_id, order_ids=[o.pk for o in review])
    short_skus = {sid for items in shortages.values() for sid, _q in items}
    codes = {s.pk: s.code for s in sku_rows.values()}
    missing_codes = short_skus - set(codes)
    if missing_codes:
        codes.update(dict(Sku.objects.filter(tenant_id=tenant_id, pk__in=missing_codes).values_list("pk", "code")))
    settings = rules.rule_settings(tenant_id=tenant_id)
    blacklist = list(Blacklist.objects.filter(tenant_id=tenant_id)) if settings[RuleCode.BLACKLIST].enabled else []
    recent = _recent_for_duplicates(tenant_id, review, lines_of, settings) \
        if settings[RuleCode.DUPLICATE].enabled else []

    holds: list[Hold] = []
    on_hold, approved = [], []
    for order in review:
        findings: list[tuple[str, str]] = []
        unmapped = [ln for ln in lines_of[order.pk] if ln.sku_id is None and ln.refund_status != REFUNDED]
        if unmapped:
            findings.append((HoldReason.UNMAPPED_SKU, "；".join(
                _("平台商品 %(item)s / SKU %(sku)s / 编码 %(code)s 未匹配到商品")
                % {"item": ln.platform_item_id or "-", "sku": ln.platform_sku_id or "-",
                   "code": ln.outer_sku_id or "-"} for ln in unmapped)))
        if order.pk in shortages:
            findings.append((HoldReason.OUT_OF_STOCK, "；".join(
                _("%(code)s 缺 %(qty)s 件") % {"code": codes.get(s, s), "qty": q} for s, q in shortages[order.pk])))
        found = rules.evaluate(order, tenant_currency=tenant.default_currency, settings=settings,
                               lines=lines_of[order.pk], skus=sku_rows, blacklist=blacklist, recent=recent)
        for reason in rules.RULE_REASONS:
            if reason in found:
                findings.append((reason, found[reason]))
        for reason, detail in findings:
            holds.append(Hold(tenant_id=tenant_id, order=order, reason=reason, detail=detail[:255]))
            events.append(OrderEvent(tenant_id=tenant_id, order=order, type="hold", actor_label="system",
                                     message=f"{HoldReason(reason).label}: {detail}"[:255],
                                     after={"reason": reason, "detail": detail}))
        if findings:
            on_hold.append(order)
            events.append(_status_event(order, S.PENDING_REVIEW, S.ON_HOLD))
        elif tenant.auto_approve:
            approved.append(order)
            events.append(_status_event(order, S.PENDING_REVIEW, S.APPROVED, label="auto", message=_("自动审核通过")))
    Hold.objects.bulk_create(holds, batch_size=1000)
    for status, group in ((S.ON_HOLD, on_hold), (S.APPROVED, approved)):
        if group:
            Order.objects.filter(pk__in=[o.pk for o in group]).update(status=status, updated_at=timezone.now())
            for o in group:
                o.status = status


def _status_event(order: Order, before: str, after: str, *, label: str = "system", message: str = "") -> OrderEvent:
    return OrderEvent(tenant_id=order.tenant_id, order=order, type="status", actor_label=label,
                      message=(message or f"{S(before).label} → {S(after).label}")[:255],
                      before={"status": before}, after={"status": after})


def _recent_for_duplicates(tenant_id: int, review: list[Order], lines_of, settings) -> list[tuple]:
    """(pk, placed_at, platform, buyer, platform order id, line signature) of every order of
    this page's buyers that the duplicate rule may compare with -- two queries for the page."""
    window = timedelta(minutes=int(settings[RuleCode.DUPLICATE].threshold or 0))
    nicks = {o.buyer_nick for o in review if o.buyer_nick}
    if not nicks:
        return []
    lo = min(o.placed_at for o in review) - window
    hi = max(o.placed_at for o in review)
    others = list(Order.objects.filter(tenant_id=tenant_id, buyer_nick__in=nicks, kind=OrderKind.NORMAL,
                                       placed_at__gte=lo, placed_at__lte=hi).exclude(status=S.CANCELLED)
                  .only("pk", "placed_at", "platform", "buyer_nick", "platform_order_id"))
    known = {pk: lines for pk, lines in lines_of.items()}
    need = [o.pk for o in others if o.pk not in known]
    extra: dict[int, list] = defaultdict(list)
    for ln in OrderLine.objects.filter(tenant_id=tenant_id, order_id__in=need).only(
            "order_id", "sku_id", "outer_sku_id", "quantity", "is_gift", "refund_status"):
        extra[ln.order_id].append(ln)
    out = []
    for o in others:
        lines = [ln for ln in known.get(o.pk, extra.get(o.pk, [])) if ln.refund_status != REFUNDED]
        out.append((o.pk, o.placed_at, o.platform, o.buyer_nick, o.platform_order_id, rules.line_signature(lines)))
    return out
