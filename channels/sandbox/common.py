"""Small pieces the sandbox platform modules share: the reply type and time helpers."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

CN_TZ = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_SKEW_SECONDS = 600  # Taobao / JD / PDD accept timestamps at most 10 minutes off


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict -> JSON; str/bytes sent as is
    headers: dict = field(default_factory=dict)
    served: list = field(default_factory=list)  # order ids in a list page, in the order served

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return (json.dumps(self.body, ensure_ascii=False, default=_default).encode("utf-8"),
                    "application/json;charset=utf-8")
        if isinstance(self.body, bytes):
            return self.body, "text/plain;charset=utf-8"
        return str(self.body or "").encode("utf-8"), "text/html;charset=utf-8"


def _default(obj):
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def request_id() -> str:
    return secrets.token_hex(8)


def fmt_time(dt: datetime | None) -> str:
    return dt.astimezone(CN_TZ).strftime(TIME_FORMAT) if dt else ""


def parse_cn_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=CN_TZ)
    except (TypeError, ValueError):
        return None


def yuan(amount: Decimal) -> str:
    return f"{amount:.2f}"
