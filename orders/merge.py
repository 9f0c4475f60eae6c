"""Platform state vs local decisions: the three-way merge of a platform update (pure functions).

Per order we keep the last values the platform sent of the fields both sides may change
(`Order.platform_values`). When the platform sends the order again, each group of fields is
merged on its own against that base:

    platform unchanged (incoming == base)      keep the order's value (a local edit stands)
    platform changed, local did not            take the platform's value
    both changed, to the same value            nothing to do
    both changed, to different values          keep the local value: a conflict (a hold that
                                               shows both versions; resolving it picks one)

A group is merged as a whole (the address is province + city + district + detail + postcode +
country): half of one address with half of another would be a parcel to nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

#: group -> its fields; the receiver groups first
GROUPS: dict[str, tuple[str, ...]] = {
    "receiver_name": ("receiver_name",),
    "receiver_phone": ("receiver_phone",),
    "address": ("receiver_country", "receiver_province", "receiver_city", "receiver_district", "receiver_address",
                "receiver_postcode"),
    "buyer_note": ("buyer_note",),
    "seller_note": ("seller_note",),
    "urgent": ("urgent",),
}
RECEIVER_GROUPS = ("receiver_name", "receiver_phone", "address")
RECEIVER_FIELDS = tuple(f for g in RECEIVER_GROUPS for f in GROUPS[g])
MERGED_FIELDS = tuple(f for fields in GROUPS.values() for f in fields)
GROUP_LABELS = {
    "receiver_name": _("收件人"),
    "receiver_phone": _("收件人电话"),
    "address": _("收件地址"),
    "buyer_note": _("买家留言"),
    "seller_note": _("卖家备注"),
    "urgent": _("加急"),
}


def snapshot(values: dict, *, ship_blocks: dict | None = None) -> dict:
    """What Order.platform_values keeps of a platform's order: the merged fields (as the order
    stores them) and its do-not-ship flags."""
    out = {f: values[f] for f in MERGED_FIELDS}
    out["ship_blocks"] = dict(ship_blocks or {})
    return out


def base_of(order) -> dict:
    """The platform's last values of an order (for orders ingested before they were kept: the
    order's current values, the best there is)."""
    if order.platform_values:
        return order.platform_values
    return snapshot({f: getattr(order, f) for f in MERGED_FIELDS})


def local_of(order) -> dict:
    return {f: getattr(order, f) for f in MERGED_FIELDS}


def _group(values: dict, name: str) -> tuple:
    return tuple(values.get(f) for f in GROUPS[name])


@dataclass
class Merge:
    #: field -> the platform's new value, to write (the platform changed it, nobody here did)
    apply: dict = field(default_factory=dict)
    #: groups the platform changed (taken or in conflict)
    platform_changed: list[str] = field(default_factory=list)
    #: groups changed on both sides to different values: the local value is kept
    conflicts: list[str] = field(default_factory=list)


def three_way(*, base: dict, local: dict, incoming: dict) -> Merge:
    out = Merge()
    for name in GROUPS:
        b, mine, theirs = _group(base, name), _group(local, name), _group(incoming, name)
        if theirs == b:
            continue
        out.platform_changed.append(name)
        if mine == b:
            out.apply.update((f, v) for f, v in zip(GROUPS[name], theirs, strict=True) if local.get(f) != v)
        elif mine != theirs:
            out.conflicts.append(name)
    return out


def local_overrides(order) -> list[str]:
    """The groups whose value here differs from the platform's last (a local decision stands)."""
    if not order.platform_values:
        return []
    base, mine = order.platform_values, local_of(order)
    return [name for name in GROUPS if _group(base, name) != _group(mine, name)]


def receiver_is_platforms(order) -> bool:
    """The receiver is still exactly the one the platform sent (so its privacy id, Taobao's
    oaid, still stands for it)."""
    return not any(g in RECEIVER_GROUPS for g in local_overrides(order))


def describe(values: dict, groups) -> str:
    """One line of the given groups' values, for hold details and the timeline."""
    parts = []
    for name in groups:
        if name == "address":
            v = values
            text = "".join(str(v.get(f) or "") for f in ("receiver_province", "receiver_city", "receiver_district")) \
                + " " + str(v.get("receiver_address") or "")
            if v.get("receiver_country") and v.get("receiver_country") != "CN":
                text = f"{v.get('receiver_country')} {text}"
        else:
            text = " ".join(str(values.get(f)) for f in GROUPS[name])
        parts.append(f"{GROUP_LABELS[name]} {text.strip()}")
    return "，".join(parts)
