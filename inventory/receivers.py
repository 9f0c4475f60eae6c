"""What inventory does when other apps' domain signals fire (inside the sender's transaction).

The stock-moving signals may say who caused them (actor_id, actor_label; oms/signals.py);
absent means the system. Both are written on every ledger row the service creates."""

from . import services


def on_order_accepted(sender, *, tenant_id, order_id, lines, actor_id=None, actor_label="", **kwargs):
    services.stock_reserve_order(tenant_id=tenant_id, order_id=order_id, lines=lines, actor=actor_id,
                                 actor_label=actor_label)


def on_orders_accepted(sender, *, tenant_id, orders, actor_id=None, actor_label="", **kwargs):
    services.stock_reserve_orders(tenant_id=tenant_id, orders=orders, actor=actor_id, actor_label=actor_label)


def on_order_released(sender, *, tenant_id, order_id, actor_id=None, actor_label="", **kwargs):
    services.stock_release_order(tenant_id=tenant_id, order_id=order_id, actor=actor_id, actor_label=actor_label)


def on_shipment_shipped(sender, *, tenant_id, shipment_id, order_id, lines, actor_id=None, actor_label="",
                        **kwargs):
    services.stock_consume_order(tenant_id=tenant_id, order_id=order_id,
                                 line_ids=[ln["line_id"] for ln in lines], reference=f"shipment:{shipment_id}",
                                 actor=actor_id, actor_label=actor_label)


def on_return_received(sender, *, tenant_id, return_id, warehouse_id, lines, actor_id=None, actor_label="",
                       **kwargs):
    services.stock_restock(tenant_id=tenant_id, warehouse_id=warehouse_id, lines=lines,
                           reference=f"return:{return_id}", actor=actor_id, actor_label=actor_label)


def on_stock_changed(sender, *, tenant_id, sku_ids, **kwargs):
    """Sent on commit: raise or clear the low-stock alerts of these SKUs (own transaction)."""
    services.low_stock_evaluate(tenant_id=tenant_id, sku_ids=sku_ids)
