"""What the platform says must stop a parcel, as hold findings (pure: reads, never writes).

- 退款拦截 (HoldReason.REFUND): a line of an order that has not left the warehouse has a refund
  request the platform has not decided yet. The order stops at once; a withdrawn or refused
  request releases it, a completed one releases those lines (or cancels the order when nothing
  is left to ship).
- 平台禁止发货 (HoldReason.FORBID_SHIP): the platform's do-not-ship states
  (CanonicalOrder.ship_blocks, kept in Order.platform_values): released when a later pull or push
  shows them cleared.

Used by the one-order path (orders.services.review) and the page ingest (orders.services.bulk)
alike, so both hold the same orders with the same words.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from .canonical import ShipBlock
from .models import HoldReason

REFUND_REQUESTED = "requested"
REFUNDED = "refunded"


def ship_blocks_of(order) -> dict:
    return dict((getattr(order, "platform_values", None) or {}).get("ship_blocks") or {})


def _line_name(ln) -> str:
    return ln.outer_sku_id or ln.title or ln.platform_line_id


def refund_finding(order, lines) -> tuple[str, dict] | None:
    requested = [ln for ln in lines if not ln.is_gift and ln.refund_status == REFUND_REQUESTED]
    if not requested:
        return None
    parts = []
    for ln in requested:
        reason = (getattr(ln, "refund_reason", "") or "").strip()
        part = f"{_line_name(ln)}×{ln.quantity}"
        parts.append(part + (_("（原因：%(r)s）") % {"r": reason} if reason else ""))
    detail = _("买家申请退款，未发货先拦截：%(l)s") % {"l": "；".join(parts)}
    # lines by their platform line id (stable across re-pulls, and the same in every ingest path)
    data = {"lines": [ln.platform_line_id for ln in requested], "status": str(order.status),
            "reasons": {ln.platform_line_id: ln.refund_reason for ln in requested if getattr(ln, "refund_reason", "")}}
    return detail, data


def ship_block_finding(order) -> tuple[str, dict] | None:
    blocks = ship_blocks_of(order)
    if not blocks:
        return None
    detail = "；".join(f"{ShipBlock.label(code)}（{words}）" if words else ShipBlock.label(code)
                      for code, words in sorted(blocks.items()))
    return _("平台要求暂不发货：%(d)s") % {"d": detail}, {"blocks": blocks}


def findings(order, lines) -> dict[str, tuple[str, dict]]:
    """{hold reason: (detail, data)} of the platform holds this order should have now."""
    out = {}
    refund = refund_finding(order, lines)
    if refund is not None:
        out[HoldReason.REFUND] = refund
    block = ship_block_finding(order)
    if block is not None:
        out[HoldReason.FORBID_SHIP] = block
    return out
