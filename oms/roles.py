"""Roles of a Membership and what each may do.

An *area* is a part of the product (orders, inventory, ...). A role may `view` or `change`
an area; `change` includes add and delete where the model allows it. One table, so one look
shows who may do what.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("店主/管理员")
    OPS = "ops", _("运营")
    CUSTOMER_SERVICE = "cs", _("客服")
    WAREHOUSE = "warehouse", _("仓库")
    READ_ONLY = "readonly", _("只读")


class Area(models.TextChoices):
    TENANT = "tenant", _("租户设置与成员")
    CHANNELS = "channels", _("店铺与渠道")
    ORDERS = "orders", _("订单")
    INVENTORY = "inventory", _("库存")
    LOGISTICS = "logistics", _("物流")
    NOTIFICATIONS = "notifications", _("通知")


VIEW, CHANGE = "view", "change"

ROLE_CAPABILITIES: dict[str, dict[str, set[str]]] = {
    Role.OWNER: {area: {VIEW, CHANGE} for area in Area.values},
    Role.OPS: {
        Area.TENANT: set(),
        Area.CHANNELS: {VIEW, CHANGE},
        Area.ORDERS: {VIEW, CHANGE},
        Area.INVENTORY: {VIEW, CHANGE},
        Area.LOGISTICS: {VIEW, CHANGE},
        Area.NOTIFICATIONS: {VIEW},
    },
    Role.CUSTOMER_SERVICE: {
        Area.TENANT: set(),
        Area.CHANNELS: {VIEW},
        Area.ORDERS: {VIEW, CHANGE},
        Area.INVENTORY: {VIEW},
        Area.LOGISTICS: {VIEW},
        Area.NOTIFICATIONS: {VIEW},
    },
    Role.WAREHOUSE: {
        Area.TENANT: set(),
        Area.CHANNELS: set(),
        Area.ORDERS: {VIEW},
        Area.INVENTORY: {VIEW, CHANGE},
        Area.LOGISTICS: {VIEW, CHANGE},
        Area.NOTIFICATIONS: set(),
    },
    Role.READ_ONLY: {
        Area.TENANT: set(),
        Area.CHANNELS: {VIEW},
        Area.ORDERS: {VIEW},
        Area.INVENTORY: {VIEW},
        Area.LOGISTICS: {VIEW},
        Area.NOTIFICATIONS: {VIEW},
    },
}


def role_can(role: str | None, area: str, action: str) -> bool:
    if not role:
        return False
    return action in ROLE_CAPABILITIES.get(role, {}).get(area, set())
