"""{{ order.buyer_email|mask_email }}, {{ order.receiver_phone|mask_phone }} (oms.privacy)."""

from django import template

from oms import privacy

register = template.Library()

register.filter("mask_email", privacy.mask_email)
register.filter("mask_phone", privacy.mask_phone)
