"""Reading platform values exactly, for every adapter's normalize(): integers, yuan amounts,
and the `yyyy-MM-dd HH:mm:ss` Beijing-time stamps of the Chinese gateways. Anything else is a
NormalizeError naming the field, so the raw order is archived with a readable error."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from .base import NormalizeError

CN_TZ = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def as_int(value, what: str) -> int:
    try:
        if isinstance(value, bool | float):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise NormalizeError(f"{what} is not an integer: {value!r}")


def money(value, what: str) -> Decimal:
    """Yuan amount -> Decimal, exactly. Strings and ints are parsed as written; a JSON float is
    read through repr() (the shortest text that round-trips, i.e. what was on the wire)."""
    if isinstance(value, bool):
        raise NormalizeError(f"{what}: not an amount: {value!r}")
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise NormalizeError(f"{what}: not an amount: {value!r}")
    if not result.is_finite():
        raise NormalizeError(f"{what}: not an amount: {value!r}")
    return result


def parse_time(value, what: str) -> datetime:
    text = str(value)
    try:
        if len(text) == 19 and text.isascii() and text[4] == text[7] == "-" and text[10] == " " \
                and text[13] == text[16] == ":":
            # the exact shape: fromisoformat reads it the same as strptime, ten times faster
            dt = datetime.fromisoformat(text)
            if dt.tzinfo is None:
                return dt.replace(tzinfo=CN_TZ)
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CN_TZ)
    except ValueError:
        raise NormalizeError(f"{what}: not a `yyyy-MM-dd HH:mm:ss` time: {value!r}")


def format_time(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("aware datetime required")
    return dt.astimezone(CN_TZ).strftime(TIME_FORMAT)
