"""Read queries on orders that views, tasks and other apps share."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Prefetch

from .models import Hold, HoldReason, Order, OrderKind, OrderSource, ReturnRequest
from .states import BEFORE_PICKING, OrderStatus

QUEUE_ORDER = ("-urgent", "paid_at", "id")  # urgent first, then oldest paid: every queue


def order_get(*, tenant, pk) -> Order:
    """One order of the tenant; another tenant's id raises Order.DoesNotExist (-> 404)."""
    return Order.objects.for_tenant(tenant).select_related("shop", "warehouse").get(pk=pk)


def order_list(*, tenant):
    return Order.objects.for_tenant(tenant).select_related("shop").order_by(*QUEUE_ORDER)


def order_platform_refs(*, order: Order) -> list[tuple[int, str]]:
    """(shop id, platform order id) of every platform order this order carries, for shipment
    confirmation: itself for a platform order, its sources (transitively) for merged / split orders."""
    if order.kind in (OrderKind.NORMAL, OrderKind.EXCHANGE):
        return [(order.shop_id, order.platform_order_id)]
    out, seen = [], set()
    for src in OrderSource.objects.filter(tenant_id=order.tenant_id, order=order).select_related("source"):
        for ref in order_platform_refs(order=src.source):
            if ref not in seen:
                seen.add(ref)
                out.append(ref)
    return out


def open_holds(*, tenant, order: Order):
    return Hold.objects.for_tenant(tenant).filter(order=order, resolved_at=None).order_by("created_at")


def open_hold_summary(order: Order) -> str:
    """The order's open holds in one line ("退款拦截：…；地址冲突：…"), for refusals."""
    return "；".join(f"{h.get_reason_display()}：{h.detail}" for h in
                    Hold.objects.filter(tenant_id=order.tenant_id, order=order, resolved_at=None).order_by("pk"))


def shippable_order_ids(*, tenant_id: int, order_ids: list[int]) -> tuple[list[int], dict[int, str]]:
    """Of these orders, those that may be picked now (allocated / picking, no open hold), and
    why each other one may not: {order id: reason}."""
    rows = dict(Order.objects.filter(tenant_id=tenant_id, pk__in=order_ids).values_list("pk", "status"))
    held: dict[int, list[str]] = defaultdict(list)
    for oid, reason in (Hold.objects.filter(tenant_id=tenant_id, order_id__in=order_ids, resolved_at=None)
                        .order_by("pk").values_list("order_id", "reason")):
        held[oid].append(str(HoldReason(reason).label))
    ok, refused = [], {}
    for oid in order_ids:
        status = rows.get(oid)
        if status is None:
            continue
        if held.get(oid):
            refused[oid] = "、".join(held[oid])
        elif status not in (OrderStatus.ALLOCATED, OrderStatus.PICKING):
            refused[oid] = str(OrderStatus(status).label)
        else:
            ok.append(oid)
    return ok, refused


def merge_groups(*, tenant_id: int) -> list[list[Order]]:
    """Mergeable orders: same shop, buyer, receiver name, phone and address; platform orders not
    yet picked, not on a blocking hold. Groups of two or more, urgent / oldest first."""
    from .services.allocation import MERGE_KEY_FIELDS, merge_blockers

    qs = (Order.objects.filter(tenant_id=tenant_id, kind=OrderKind.NORMAL, status__in=BEFORE_PICKING,
                               fulfilled_by_platform=False)
          .exclude(buyer_nick="").prefetch_related(Prefetch("holds", queryset=Hold.objects.filter(resolved_at=None)))
          .order_by(*QUEUE_ORDER))
    groups: dict[tuple, list[Order]] = defaultdict(list)
    for o in qs:
        if not merge_blockers(o):
            groups[tuple(getattr(o, f) for f in MERGE_KEY_FIELDS)].append(o)
    return [g for g in groups.values() if len(g) > 1]


def return_list(*, tenant):
    return ReturnRequest.objects.for_tenant(tenant).select_related("order").order_by("-created_at")


def children_of(*, order: Order):
    return Order.objects.filter(tenant_id=order.tenant_id, sources__source=order).order_by("pk")


def sources_of(*, order: Order):
    return Order.objects.filter(tenant_id=order.tenant_id, derived__order=order).order_by("pk")


__all__ = ["QUEUE_ORDER", "order_get", "order_list", "order_platform_refs", "open_holds", "merge_groups",
           "return_list", "children_of", "sources_of", "OrderStatus"]
