"""Realistic parcel timelines that advance with the (fake) clock. Steps are hours after the
waybill was created; each step is visible once the clock passes it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

HUBS = ["杭州转运中心", "上海转运中心", "广州转运中心", "武汉转运中心", "郑州转运中心", "成都转运中心"]
COURIERS = ["王师傅", "李师傅", "陈师傅", "赵师傅"]


@dataclass(frozen=True)
class Step:
    hours: float
    k100: str  # Kuaidi100 state code of this event
    sf_opcode: str
    text: str
    location: str


def steps(number: str, *, origin: str, dest: str, scenario: str = "normal") -> list[Step]:
    h = int(hashlib.sha256(number.encode()).hexdigest(), 16)
    hub = HUBS[h % len(HUBS)]
    courier = COURIERS[(h >> 8) % len(COURIERS)]
    out = [
        Step(1, "1", "50", f"【{origin}】快递员已揽收", origin),
        Step(4, "0", "30", f"快件已从【{origin}】发出，下一站【{hub}】", origin),
        Step(12, "0", "31", f"快件已到达【{hub}】", hub),
        Step(20, "0", "31", f"快件已到达【{dest}】", dest),
        Step(26, "5", "44", f"【{dest}】快递员{courier}正在派送，电话 138****0000", dest),
    ]
    if scenario == "problem":
        out.append(Step(30, "2", "70", "派件异常：收件人电话无法接通，待再次派送", dest))
    elif scenario == "returned":
        out.append(Step(30, "6", "70", "收件人拒收，快件退回中", dest))
        out.append(Step(60, "4", "99", f"退回快件已由寄件人签收【{origin}】", origin))
    else:
        out.append(Step(30, "3", "80", "已签收，签收人：本人。感谢使用，期待再次为您服务", dest))
    return out
