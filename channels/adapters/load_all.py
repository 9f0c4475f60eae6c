"""Importing this module registers every platform adapter."""

from . import jd, pdd, taobao  # noqa: F401
