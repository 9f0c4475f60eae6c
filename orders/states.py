"""The order state machine, in one place. Illegal transitions raise IllegalTransition."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("待付款")
    PENDING_REVIEW = "pending_review", _("待审核")
    ON_HOLD = "on_hold", _("异常挂起")
    APPROVED = "approved", _("已审核")
    ALLOCATED = "allocated", _("已分仓")
    PICKING = "picking", _("拣货中")
    SHIPPED = "shipped", _("已发货")
    DELIVERED = "delivered", _("已签收")
    CANCELLED = "cancelled", _("已取消")
    RETURNED = "returned", _("已退货")
    MERGED = "merged", _("已合并")  # absorbed into a merged order (its lines live on there)
    SPLIT = "split", _("已拆分")  # its lines live on in child orders


S = OrderStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PENDING_REVIEW, S.CANCELLED}),
    S.PENDING_REVIEW: frozenset({S.ON_HOLD, S.APPROVED, S.CANCELLED, S.MERGED, S.SPLIT}),
    S.ON_HOLD: frozenset({S.PENDING_REVIEW, S.APPROVED, S.CANCELLED, S.MERGED, S.SPLIT}),
    S.APPROVED: frozenset({S.ALLOCATED, S.ON_HOLD, S.PENDING_REVIEW, S.CANCELLED, S.MERGED, S.SPLIT}),
    S.ALLOCATED: frozenset({S.PICKING, S.APPROVED, S.ON_HOLD, S.CANCELLED, S.MERGED, S.SPLIT}),
    S.PICKING: frozenset({S.SHIPPED, S.ALLOCATED, S.ON_HOLD, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.RETURNED}),
    S.DELIVERED: frozenset({S.RETURNED}),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset(),
    # merge / split undone before picking: the origin order comes back to review
    S.MERGED: frozenset({S.PENDING_REVIEW, S.CANCELLED}),
    S.SPLIT: frozenset({S.PENDING_REVIEW, S.CANCELLED}),
}

#: states in which the order holds (or wants) a reservation
RESERVING = frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.ALLOCATED, S.PICKING})
#: states before the parcel left: the buyer's data can still change, the order can be cancelled
BEFORE_SHIPPING = frozenset({S.PENDING_PAYMENT, *RESERVING})
FINAL = frozenset({S.CANCELLED, S.RETURNED})
#: the buyer's data and the lines may still change here (nothing was picked yet)
BEFORE_PICKING = frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.ALLOCATED})
#: shipped states: after-sales (returns, exchanges) start from here
AFTER_SHIPPING = frozenset({S.SHIPPED, S.DELIVERED})


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str):
        self.current, self.target = current, target
        super().__init__(
            _("订单状态不能从“%(a)s”变为“%(b)s”") % {"a": S(current).label, "b": S(target).label}
        )


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, target)
