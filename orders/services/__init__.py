"""Every state-changing operation on orders (one transaction each, OrderEvents written).

core        ingest, review (rules -> holds), holds, gifts, customer-service actions
allocation  allocation to warehouses, merge / unmerge, split / unsplit, the allocation run
returns     after-sales: returns, restock, write-off, exchanges, platform refunds
"""

from .allocation import (
    allocation_candidates,
    merge_blockers,
    order_allocate,
    order_merge,
    order_split,
    order_unmerge,
    order_unsplit,
    orders_allocate_queue,
    orders_auto_merge,
)
from .bulk import orders_ingest_many
from .core import OrderActionError, hold_resolve, holds_release_due, order_hold, order_transition
from .cs import (
    order_add_note,
    order_approve,
    order_cancel,
    order_change_receiver,
    order_conflict_resolve,
    order_line_map,
    order_set_urgent,
)
from .ingest import IngestResult, order_ingest
from .returns import (
    return_cancel,
    return_create_exchange,
    return_inspect,
    return_receive,
    return_request_create,
    return_restock,
    return_set_refund,
    return_sync_platform,
    return_write_off,
)
from .review import order_reprocess, order_review, orders_retry_stock

__all__ = [
    "IngestResult", "OrderActionError", "allocation_candidates", "hold_resolve", "holds_release_due",
    "merge_blockers", "order_add_note", "order_allocate", "order_approve", "order_cancel", "order_change_receiver",
    "order_conflict_resolve", "order_line_map",
    "order_hold", "order_ingest", "order_merge", "order_reprocess", "order_review", "order_set_urgent",
    "order_split", "order_transition", "order_unmerge", "order_unsplit", "orders_allocate_queue",
    "orders_auto_merge", "orders_ingest_many", "orders_retry_stock", "return_cancel", "return_create_exchange", "return_inspect",
    "return_receive", "return_request_create", "return_restock", "return_set_refund", "return_sync_platform",
    "return_write_off",
]
