"""After-sales (售后): returns and exchanges against shipped lines.

requested -> received -> inspected -> restocked (return_received: inventory restocks, once)
                                   -> written off
An exchange creates a replacement order that goes through review and allocation like any other.
Platform refunds seen by the pull open or update the order's platform return request.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import Sku, Warehouse
from oms import signals

from ..models import Order, OrderKind, OrderLine, ReturnKind, ReturnLine, ReturnRequest, ReturnStatus
from ..states import AFTER_SHIPPING, OrderStatus
from .core import (
    REFUND_REQUESTED,
    REFUNDED,
    OrderActionError,
    _event,
    _lock,
    _settle_status,
    order_transition,
)
from .review import _accept_and_review

S = OrderStatus
R = ReturnStatus
OPEN_OR_DONE = [R.REQUESTED, R.RECEIVED, R.INSPECTED, R.RESTOCKED, R.WRITTEN_OFF]


def _requested(order: Order, *, exclude_id: int | None = None) -> dict[int, int]:
    qs = ReturnLine.objects.filter(tenant_id=order.tenant_id, order_line__order=order,
                                   return_request__status__in=OPEN_OR_DONE)
    if exclude_id:
        qs = qs.exclude(return_request_id=exclude_id)
    return {r["order_line_id"]: r["q"] for r in qs.values("order_line_id").annotate(q=Sum("quantity"))}


def _lock_return(rr: ReturnRequest) -> tuple[ReturnRequest, Order]:
    order = _lock(rr.order_id, rr.tenant_id)
    rr = ReturnRequest.objects.select_for_update().get(pk=rr.pk, tenant_id=rr.tenant_id)
    rr.order = order
    return rr, order


def _step(rr: ReturnRequest, order: Order, to: str, allowed: tuple, actor, message: str = "") -> None:
    if rr.status not in allowed:
        raise OrderActionError(_("售后单状态为“%(a)s”，不能变为“%(b)s”") % {"a": R(rr.status).label, "b": R(to).label})
    before = rr.status
    rr.status = to
    rr.save(update_fields=["status", "updated_at"])
    _event(order, f"return_{to}", _("售后单 %(n)s：%(a)s → %(b)s%(m)s") % {
        "n": rr.number, "a": R(before).label, "b": R(to).label, "m": f"（{message}）" if message else ""},
        before={"return": rr.pk, "status": before}, after={"return": rr.pk, "status": to}, actor=actor)


def return_request_create(*, order: Order, lines: dict[int, int], reason: str = "", kind: str = ReturnKind.RETURN,
                          refund_amount: Decimal | None = None, exchange_skus: dict[int, int] | None = None,
                          actor=None) -> ReturnRequest:
    """A return / exchange request against shipped lines: {order line id: quantity}. A quantity
    beyond what is still returnable is refused (so a request submitted twice is refused)."""
    with transaction.atomic():
        order = _lock(order)
        if order.status == S.RETURNED:
            raise OrderActionError(_("订单已全部退货"))
        if order.status not in AFTER_SHIPPING:
            raise OrderActionError(_("订单尚未发货，不能申请售后；请取消订单或修改商品"))
        wanted = {int(k): int(v) for k, v in lines.items() if int(v) > 0}
        if not wanted:
            raise OrderActionError(_("请填写退货数量"))
        order_lines = {ln.pk: ln for ln in order.lines.filter(pk__in=list(wanted))}
        done = _requested(order)
        for lid, q in wanted.items():
            ln = order_lines.get(lid)
            if ln is None:
                raise OrderActionError(_("订单行 %(id)s 不属于该订单") % {"id": lid})
            left = ln.quantity - done.get(lid, 0)
            if q > left:
                raise OrderActionError(_("%(code)s 可退数量为 %(n)d，申请了 %(q)d") % {
                    "code": ln.outer_sku_id or ln.title, "n": left, "q": q})
        exchange_skus = exchange_skus or {}
        valid_skus = set(Sku.objects.filter(tenant_id=order.tenant_id, pk__in=list(exchange_skus.values()))
                         .values_list("pk", flat=True))
        if set(exchange_skus.values()) - valid_skus:
            raise OrderActionError(_("换货商品不存在"))
        if refund_amount is None:
            refund_amount = sum((order_lines[lid].unit_price * q for lid, q in wanted.items()), Decimal("0")) \
                if kind == ReturnKind.RETURN else Decimal("0")
        rr = ReturnRequest.objects.create(tenant_id=order.tenant_id, order=order, kind=kind, reason=reason[:255],
                                          refund_amount=refund_amount, currency=order.currency, created_by=actor)
        ReturnLine.objects.bulk_create([
            ReturnLine(tenant_id=order.tenant_id, return_request=rr, order_line_id=lid, quantity=q,
                       exchange_sku_id=exchange_skus.get(lid)) for lid, q in sorted(wanted.items())])
        _event(order, "return_requested", _("售后单 %(n)s（%(k)s）：%(l)s；原因：%(r)s") % {
            "n": rr.number, "k": ReturnKind(kind).label, "r": reason or "-",
            "l": "、".join(f"{order_lines[lid].outer_sku_id or order_lines[lid].title}×{q}" for lid, q in wanted.items())},
            after={"return": rr.pk}, actor=actor)
        return rr


def return_receive(*, return_request: ReturnRequest, actor=None) -> ReturnRequest:
    with transaction.atomic():
        rr, order = _lock_return(return_request)
        if rr.status == R.RECEIVED:
            return rr
        _step(rr, order, R.RECEIVED, (R.REQUESTED,), actor)
        return rr


def return_inspect(*, return_request: ReturnRequest, note: str = "", actor=None) -> ReturnRequest:
    with transaction.atomic():
        rr, order = _lock_return(return_request)
        if rr.status == R.INSPECTED:
            return rr
        if note:
            rr.note = note[:255]
            rr.save(update_fields=["note"])
        _step(rr, order, R.INSPECTED, (R.RECEIVED,), actor, note)
        return rr


def return_restock(*, return_request: ReturnRequest, warehouse_id: int, actor=None) -> ReturnRequest:
    """Put the returned goods back on the shelf of `warehouse_id` (return_received -> inventory
    restocks). Exactly once: a second call finds the request restocked and does nothing."""
    with transaction.atomic():
        rr, order = _lock_return(return_request)
        if rr.status == R.RESTOCKED:
            return rr
        if not Warehouse.objects.filter(tenant_id=rr.tenant_id, pk=warehouse_id).exists():
            raise OrderActionError(_("仓库不存在"))
        _step(rr, order, R.RESTOCKED, (R.RECEIVED, R.INSPECTED), actor)
        rr.warehouse_id = warehouse_id
        rr.save(update_fields=["warehouse"])
        lines = [{"sku_id": rl.order_line.sku_id, "quantity": rl.quantity}
                 for rl in rr.lines.select_related("order_line") if rl.order_line.sku_id]
        if lines:
            signals.return_received.send(sender=ReturnRequest, tenant_id=rr.tenant_id, return_id=rr.pk,
                                         warehouse_id=warehouse_id, lines=lines, actor_id=getattr(actor, "pk", None),
                                         actor_label="user" if getattr(actor, "pk", None) else "system")
        _maybe_returned(order, actor)
        return rr


def return_write_off(*, return_request: ReturnRequest, note: str = "", actor=None) -> ReturnRequest:
    with transaction.atomic():
        rr, order = _lock_return(return_request)
        if rr.status == R.WRITTEN_OFF:
            return rr
        rr.note = (note or rr.note)[:255]
        rr.save(update_fields=["note"])
        _step(rr, order, R.WRITTEN_OFF, (R.RECEIVED, R.INSPECTED), actor, note)
        _maybe_returned(order, actor)
        return rr


def return_cancel(*, return_request: ReturnRequest, actor=None, note: str = "") -> ReturnRequest:
    with transaction.atomic():
        rr, order = _lock_return(return_request)
        if rr.status == R.CANCELLED:
            return rr
        _step(rr, order, R.CANCELLED, (R.REQUESTED,), actor, note)
        return rr


def return_set_refund(*, return_request: ReturnRequest, amount: Decimal, actor=None) -> ReturnRequest:
    with transaction.atomic():
        rr, order = _lock_return(return_request)
        amount = Decimal(amount)
        if amount < 0:
            raise OrderActionError(_("退款金额不能为负"))
        if rr.refund_amount == amount:
            return rr
        before = rr.refund_amount
        rr.refund_amount = amount
        rr.save(update_fields=["refund_amount", "updated_at"])
        _event(order, "refund", _("售后单 %(n)s 退款金额 %(a)s → %(b)s %(c)s") % {
            "n": rr.number, "a": before, "b": amount, "c": rr.currency},
            before={"refund_amount": str(before)}, after={"refund_amount": str(amount)}, actor=actor)
        return rr


def _maybe_returned(order: Order, actor) -> None:
    closed = defaultdict(int)
    for r in (ReturnLine.objects.filter(tenant_id=order.tenant_id, order_line__order=order,
                                        return_request__status__in=[R.RESTOCKED, R.WRITTEN_OFF])
              .values("order_line_id").annotate(q=Sum("quantity"))):
        closed[r["order_line_id"]] = r["q"]
    lines = list(order.lines.all())
    if order.status in AFTER_SHIPPING and all(closed[ln.pk] >= ln.quantity for ln in lines if not ln.is_gift):
        order_transition(order=order, to=S.RETURNED, actor=actor, message=_("全部商品已退回"))


def return_create_exchange(*, return_request: ReturnRequest, actor=None) -> Order:
    """The replacement order of an exchange: a new order in the same shop (platform id
    "<orig>-EX<n>"), zero-priced, reserved through order_accepted and reviewed like any order.
    Created once: a second call returns the same order."""
    with transaction.atomic():
        rr, order = _lock_return(return_request)
        if rr.kind != ReturnKind.EXCHANGE:
            raise OrderActionError(_("不是换货单"))
        if rr.status == R.CANCELLED:
            raise OrderActionError(_("售后单已撤销"))
        if rr.exchange_order_id:
            return rr.exchange_order
        n = 1
        while Order.objects.filter(tenant_id=order.tenant_id, shop_id=order.shop_id,
                                   platform_order_id=f"{order.platform_order_id}-EX{n}").exists():
            n += 1
        now = timezone.now()
        new = Order.objects.create(
            tenant_id=order.tenant_id, shop_id=order.shop_id, platform=order.platform,
            platform_order_id=f"{order.platform_order_id}-EX{n}"[:64], platform_status="exchange",
            status=S.PENDING_REVIEW, kind=OrderKind.EXCHANGE, buyer_nick=order.buyer_nick,
            receiver_name=order.receiver_name, receiver_phone=order.receiver_phone,
            receiver_country=order.receiver_country, receiver_province=order.receiver_province,
            receiver_city=order.receiver_city, receiver_district=order.receiver_district,
            receiver_address=order.receiver_address, receiver_postcode=order.receiver_postcode,
            currency=order.currency, placed_at=now, paid_at=now, platform_modified_at=now, urgent=order.urgent)
        lines = []
        for rl in rr.lines.select_related("order_line", "exchange_sku", "order_line__sku"):
            sku = rl.exchange_sku or rl.order_line.sku
            lines.append(OrderLine(
                tenant_id=order.tenant_id, order=new, platform_line_id=f"EX{rl.pk}",
                outer_sku_id=sku.code if sku else rl.order_line.outer_sku_id,
                title=(_("换货：%(t)s") % {"t": sku.name if sku else rl.order_line.title})[:255],
                sku=sku, quantity=rl.quantity, unit_price=Decimal("0"), amount=Decimal("0"), source_line=rl.order_line))
        OrderLine.objects.bulk_create(lines)
        _event(new, "created", _("售后单 %(r)s 的换货单，原订单 %(o)s") % {"r": rr.number, "o": order.platform_order_id},
               after={"status": new.status, "return": rr.pk}, actor=actor)
        rr.exchange_order = new
        rr.save(update_fields=["exchange_order", "updated_at"])
        _event(order, "exchange_created", _("售后单 %(r)s 创建换货单 %(n)s") % {"r": rr.number, "n": new.number},
               after={"exchange_order": new.pk}, actor=actor)
        _accept_and_review(new, actor=actor)
        _settle_status(new, actor=actor)
        return new


def return_sync_platform(*, order: Order, label: str = "") -> ReturnRequest | None:
    """Inside order_ingest: shipped lines whose platform refund status is requested / refunded
    open (or update) the order's one open platform return request; when the platform withdrew
    every refund, that request is cancelled."""
    lines = [ln for ln in order.lines.all() if ln.refund_status in (REFUNDED, REFUND_REQUESTED)]
    rr = ReturnRequest.objects.select_for_update().filter(tenant_id=order.tenant_id, order=order, source="platform",
                                                          status=R.REQUESTED).first()
    others = _requested(order, exclude_id=rr.pk if rr else None)
    wanted = {ln.pk: ln.quantity - others.get(ln.pk, 0) for ln in lines}
    wanted = {k: v for k, v in wanted.items() if v > 0}
    refund = sum((ln.amount for ln in lines if ln.refund_status == REFUNDED and ln.pk in wanted), Decimal("0"))
    if not wanted:
        if rr is not None:
            rr.order = order
            _step(rr, order, R.CANCELLED, (R.REQUESTED,), None, _("平台已撤销售后"))
        return rr
    if rr is None:
        rr = ReturnRequest.objects.create(tenant_id=order.tenant_id, order=order, source="platform",
                                          reason=_("平台售后：%(s)s") % {"s": order.platform_status},
                                          refund_amount=refund, currency=order.currency)
        current = {}
    else:
        current = {rl.order_line_id: rl for rl in rr.lines.all()}
    for lid, q in wanted.items():
        rl = current.pop(lid, None)
        if rl is None:
            ReturnLine.objects.create(tenant_id=order.tenant_id, return_request=rr, order_line_id=lid, quantity=q)
        elif rl.quantity != q:
            ReturnLine.objects.filter(pk=rl.pk).update(quantity=q)
    for rl in current.values():
        rl.delete()
    if rr.refund_amount != refund:
        rr.refund_amount = refund
        rr.save(update_fields=["refund_amount", "updated_at"])
    _event(order, "return_platform", _("平台售后：售后单 %(n)s，%(l)s，退款 %(a)s") % {
        "n": rr.number, "a": refund, "l": "、".join(
            f"{ln.outer_sku_id or ln.title}×{wanted[ln.pk]}({ln.refund_status})" for ln in lines if ln.pk in wanted)},
        after={"return": rr.pk}, actor_label=label)
    return rr
