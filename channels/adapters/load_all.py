"""Importing this module registers every platform adapter."""

from . import amazon, douyin, jd, pdd, shopify, taobao, woocommerce  # noqa: F401
