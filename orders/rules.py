"""Review rules (审单). Each rule looks at one order and answers findings: a hold reason and a
message that names the data that failed. Rules read, never write; orders.services applies the
findings as holds (and releases holds whose cause went away).

Per-tenant configuration lives in ReviewRule rows (on/off, threshold), created on demand with
DEFAULTS, editable in the admin.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import phonenumbers
from django.db.models import Q
from django.utils.translation import gettext as _

from inventory.models import Sku

from .models import Blacklist, BlacklistKind, HoldReason, Order, OrderKind, OrderSettings, ReviewRule, RuleCode
from .states import OrderStatus

#: code -> (enabled, threshold). below_reference is off by default: it is only meaningful once
#: the tenant keeps SKU reference prices up to date (the field is optional).
DEFAULTS: dict[str, tuple[bool, Decimal | None]] = {
    RuleCode.ADDRESS: (True, Decimal("5")),
    RuleCode.PHONE: (True, None),
    RuleCode.AMOUNT_MISMATCH: (True, Decimal("1.00")),
    RuleCode.PRICE_NONPOSITIVE: (True, None),
    RuleCode.DISCOUNT: (True, Decimal("50")),
    RuleCode.BELOW_REFERENCE: (False, Decimal("30")),
    RuleCode.NOTE: (True, None),
    RuleCode.HIGH_VALUE: (True, Decimal("5000")),
    RuleCode.BLACKLIST: (True, None),
    RuleCode.DUPLICATE: (True, Decimal("30")),
}

MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
#: platforms hand out masked numbers (138****5678): nothing to check, nothing wrong
MASKED_MOBILE = re.compile(r"^1[3-9]\d[\d*]{4,6}\d{2,4}$")


@dataclass(frozen=True)
class Finding:
    reason: str
    message: str


@dataclass(frozen=True)
class RuleSetting:
    enabled: bool
    threshold: Decimal | None


def rule_settings(*, tenant_id: int) -> dict[str, RuleSetting]:
    """The tenant's rule configuration; missing rows are created with the defaults."""
    rows = {r.code: r for r in ReviewRule.objects.filter(tenant_id=tenant_id)}
    missing = [ReviewRule(tenant_id=tenant_id, code=code, enabled=en, threshold=th)
               for code, (en, th) in DEFAULTS.items() if code not in rows]
    if missing:
        ReviewRule.objects.bulk_create(missing, ignore_conflicts=True)
        rows = {r.code: r for r in ReviewRule.objects.filter(tenant_id=tenant_id)}
    out = {}
    for code, (en, th) in DEFAULTS.items():
        row = rows.get(code)
        out[code] = RuleSetting(row.enabled, row.threshold if row.threshold is not None else th) if row else \
            RuleSetting(en, th)
    return out


def order_settings(*, tenant_id: int) -> OrderSettings:
    """The tenant's processing switches, created with defaults on first use."""
    obj = OrderSettings.objects.filter(tenant_id=tenant_id).first()
    if obj is None:
        OrderSettings.objects.bulk_create([OrderSettings(tenant_id=tenant_id)], ignore_conflicts=True)
        obj = OrderSettings.objects.get(tenant_id=tenant_id)
    return obj


def _money(v: Decimal) -> str:
    return f"{Decimal(v).quantize(Decimal('0.01'))}"


def _digits(phone: str) -> str:
    return re.sub(r"[\s\-()]", "", phone or "")


def normalise_mobile(phone: str) -> str:
    p = _digits(phone)
    for prefix in ("+86", "0086", "86"):
        if p.startswith(prefix) and len(p) - len(prefix) == 11:
            return p[len(prefix):]
    return p


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


# --- the rules -------------------------------------------------------------------------------------
def check_address(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    problems = []
    if not order.receiver_name.strip():
        problems.append(_("缺少收件人姓名"))
    cn = (order.receiver_country or "CN").upper() == "CN"
    parts = [("receiver_province", _("省")), ("receiver_city", _("市")), ("receiver_district", _("区县"))] if cn \
        else [("receiver_city", _("城市"))]
    missing = [label for field, label in parts if not getattr(order, field).strip()]
    if missing:
        problems.append(_("缺少%(parts)s") % {"parts": "/".join(str(m) for m in missing)})
    detail = _compact(order.receiver_address)
    rest = detail
    for region in (order.receiver_province, order.receiver_city, order.receiver_district):
        region = _compact(region)
        if region:
            rest = rest.replace(region, "")
    min_len = int(setting.threshold or 0)
    if not detail:
        problems.append(_("缺少详细地址"))
    elif len(rest) < min_len:
        if rest != detail:
            problems.append(_("详细地址“%(a)s”只重复了省市区") % {"a": order.receiver_address})
        else:
            problems.append(_("详细地址“%(a)s”太短（少于 %(n)d 个字）") % {"a": order.receiver_address, "n": min_len})
    return [Finding(HoldReason.ADDRESS, "；".join(problems))] if problems else []


def check_phone(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    raw = (order.receiver_phone or "").strip()
    if not raw:
        return [Finding(HoldReason.PHONE, _("缺少收件人电话"))]
    country = (order.receiver_country or "CN").upper()
    if country == "CN":
        p = normalise_mobile(raw)
        if MAINLAND_MOBILE.match(p) or ("*" in p and len(p) == 11 and MASKED_MOBILE.match(p)):
            return []
        return [Finding(HoldReason.PHONE, _("手机号 %(p)s 不是有效号码") % {"p": raw})]
    try:
        number = phonenumbers.parse(raw, country)
        if phonenumbers.is_valid_number(number):
            return []
    except phonenumbers.NumberParseException:
        pass
    return [Finding(HoldReason.PHONE, _("电话 %(p)s 不是有效的 %(c)s 号码") % {"p": raw, "c": country})]


def check_amount_mismatch(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    if order.kind != OrderKind.NORMAL and order.kind != OrderKind.MERGED:
        return []
    # what was paid covers every line, refunded ones too (a refund is paid back separately)
    goods = sum((ln.unit_price * ln.quantity for ln in ctx.all_lines), Decimal("0"))
    expected = goods + order.shipping_amount - order.discount_amount
    tolerance = setting.threshold or Decimal("0")
    if abs(order.paid_amount - expected) > tolerance:
        return [Finding(HoldReason.AMOUNT, _(
            "实付 %(paid)s 与 商品 %(goods)s + 运费 %(ship)s − 优惠 %(disc)s = %(exp)s 不符（允许误差 %(tol)s）") % {
            "paid": _money(order.paid_amount), "goods": _money(goods), "ship": _money(order.shipping_amount),
            "disc": _money(order.discount_amount), "exp": _money(expected), "tol": _money(tolerance)})]
    return []


def check_price_nonpositive(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    if order.kind == OrderKind.EXCHANGE:
        return []
    bad = [ln for ln in ctx.lines if not ln.is_gift and ln.unit_price <= 0]
    return [Finding(HoldReason.AMOUNT, _("商品 %(t)s 单价 %(p)s 不大于零") % {
        "t": ln.outer_sku_id or ln.title or ln.platform_line_id, "p": _money(ln.unit_price)}) for ln in bad]


def check_discount(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    goods = sum((ln.unit_price * ln.quantity for ln in ctx.lines), Decimal("0"))
    pct = setting.threshold or Decimal("0")
    if goods > 0 and order.discount_amount > goods * pct / 100:
        return [Finding(HoldReason.AMOUNT, _("优惠 %(d)s 超过商品金额 %(g)s 的 %(p)s%%") % {
            "d": _money(order.discount_amount), "g": _money(goods), "p": f"{pct.normalize():f}"})]
    return []


def check_below_reference(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    pct = setting.threshold or Decimal("0")
    out = []
    for ln in ctx.lines:
        sku = ctx.skus.get(ln.sku_id)
        if ln.is_gift or sku is None or not sku.reference_price or sku.currency != order.currency:
            continue
        if ln.unit_price < sku.reference_price * pct / 100:
            out.append(Finding(HoldReason.AMOUNT, _("%(code)s 单价 %(p)s 低于参考价 %(r)s 的 %(pct)s%%") % {
                "code": sku.code, "p": _money(ln.unit_price), "r": _money(sku.reference_price), "pct": f"{pct.normalize():f}"}))
    return out


def check_note(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    parts = []
    if order.buyer_note.strip():
        parts.append(_("买家留言：%(n)s") % {"n": order.buyer_note.strip()})
    if order.seller_note.strip():
        parts.append(_("卖家备注：%(n)s") % {"n": order.seller_note.strip()})
    return [Finding(HoldReason.NOTE, "；".join(parts))] if parts else []


def check_high_value(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    limit = setting.threshold
    if limit is None or order.currency != ctx.tenant_currency:
        return []
    if order.paid_amount >= limit:
        return [Finding(HoldReason.HIGH_VALUE, _("实付 %(p)s %(c)s 达到大额订单标准 %(l)s") % {
            "p": _money(order.paid_amount), "c": order.currency, "l": _money(limit)})]
    return []


def check_blacklist(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    entries = ctx.blacklist if ctx.blacklist is not None else list(Blacklist.objects.filter(tenant_id=order.tenant_id))
    if not entries:
        return []
    phone = normalise_mobile(order.receiver_phone)
    address = _compact(order.receiver_province + order.receiver_city + order.receiver_district
                       + order.receiver_address)
    hits = []
    for e in entries:
        note = f"（{e.note}）" if e.note else ""
        if e.kind == BlacklistKind.BUYER and order.buyer_nick and e.value.strip() == order.buyer_nick:
            hits.append(_("买家 %(v)s 在黑名单中%(n)s") % {"v": order.buyer_nick, "n": note})
        elif e.kind == BlacklistKind.PHONE and phone and normalise_mobile(e.value) == phone:
            hits.append(_("电话 %(v)s 在黑名单中%(n)s") % {"v": order.receiver_phone, "n": note})
        elif e.kind == BlacklistKind.ADDRESS and _compact(e.value) and _compact(e.value) in address:
            hits.append(_("地址含黑名单地址“%(v)s”%(n)s") % {"v": e.value, "n": note})
    return [Finding(HoldReason.BLACKLIST, "；".join(hits))] if hits else []


def _line_signature(lines) -> Counter:
    return Counter({(ln.sku_id or ln.outer_sku_id): ln.quantity for ln in lines if not ln.is_gift})


def check_duplicate(order: Order, setting: RuleSetting, ctx) -> list[Finding]:
    """Same buyer, same lines, placed within N minutes BEFORE this one (the later order is held)."""
    if order.kind != OrderKind.NORMAL or not order.buyer_nick:
        return []
    minutes = int(setting.threshold or 0)
    window = timedelta(minutes=minutes)
    mine = _line_signature(ctx.lines)
    if ctx.recent is not None:  # preloaded by the bulk ingest: (pk, placed_at, platform, nick, pid, signature)
        for pk, placed_at, platform, nick, pid, signature in ctx.recent:
            if (pk == order.pk or platform != order.platform or nick != order.buyer_nick
                    or not (order.placed_at - window <= placed_at <= order.placed_at)
                    or not (placed_at < order.placed_at or pk < order.pk)):
                continue
            if signature == mine:
                gap = int((order.placed_at - placed_at).total_seconds() // 60)
                return [Finding(HoldReason.DUPLICATE, _(
                    "与订单 %(pid)s 买家 %(b)s 和商品相同，下单间隔 %(m)d 分钟") % {
                    "pid": pid, "b": order.buyer_nick, "m": gap})]
        return []
    candidates = (
        Order.objects.filter(tenant_id=order.tenant_id, platform=order.platform, buyer_nick=order.buyer_nick,
                             kind=OrderKind.NORMAL, placed_at__gte=order.placed_at - window,
                             placed_at__lte=order.placed_at)
        .exclude(pk=order.pk).exclude(status=OrderStatus.CANCELLED)
        .filter(Q(placed_at__lt=order.placed_at) | Q(pk__lt=order.pk))
        .prefetch_related("lines").order_by("placed_at", "id")
    )
    for other in candidates:
        if _line_signature(other.lines.all()) == mine:
            gap = int((order.placed_at - other.placed_at).total_seconds() // 60)
            return [Finding(HoldReason.DUPLICATE, _(
                "与订单 %(pid)s 买家 %(b)s 和商品相同，下单间隔 %(m)d 分钟") % {
                "pid": other.platform_order_id, "b": order.buyer_nick, "m": gap})]
    return []


RULES = {
    RuleCode.ADDRESS: check_address,
    RuleCode.PHONE: check_phone,
    RuleCode.AMOUNT_MISMATCH: check_amount_mismatch,
    RuleCode.PRICE_NONPOSITIVE: check_price_nonpositive,
    RuleCode.DISCOUNT: check_discount,
    RuleCode.BELOW_REFERENCE: check_below_reference,
    RuleCode.NOTE: check_note,
    RuleCode.HIGH_VALUE: check_high_value,
    RuleCode.BLACKLIST: check_blacklist,
    RuleCode.DUPLICATE: check_duplicate,
}
#: the hold reasons the rules own: review opens them, and releases them when the cause is gone
RULE_REASONS = frozenset({HoldReason.ADDRESS, HoldReason.PHONE, HoldReason.AMOUNT, HoldReason.NOTE,
                          HoldReason.HIGH_VALUE, HoldReason.BLACKLIST, HoldReason.DUPLICATE})


@dataclass
class Context:
    lines: list
    skus: dict
    tenant_currency: str
    #: preloaded by a bulk ingest (None: the rule queries for itself)
    blacklist: list | None = None
    recent: list | None = None
    #: every line, refunded ones included (what the paid amount was for)
    all_lines: list | None = None


def line_signature(lines) -> Counter:
    return _line_signature(lines)


def evaluate(order: Order, *, tenant_currency: str = "CNY", settings: dict | None = None, lines: list | None = None,
             skus: dict | None = None, blacklist: list | None = None, recent: list | None = None) -> dict[str, str]:
    """Run every enabled rule: {hold reason: message} (messages of one reason joined).
    A bulk caller passes what it preloaded for a whole page (settings, lines, skus, blacklist,
    recent orders of the same buyers) so the rules need no query of their own."""
    settings_ = settings if settings is not None else rule_settings(tenant_id=order.tenant_id)
    if lines is None:
        lines = list(order.lines.all())
    all_lines = list(lines)
    lines = [ln for ln in lines if ln.refund_status != "refunded"]
    if skus is None:
        sku_ids = {ln.sku_id for ln in lines if ln.sku_id}
        skus = {s.pk: s for s in Sku.objects.filter(tenant_id=order.tenant_id, pk__in=sku_ids)} if sku_ids else {}
    ctx = Context(lines, skus, tenant_currency, blacklist, recent, all_lines)
    out: dict[str, list[str]] = {}
    for code, fn in RULES.items():
        setting = settings_[code]
        if not setting.enabled:
            continue
        for f in fn(order, setting, ctx):
            out.setdefault(f.reason, []).append(f.message)
    return {reason: "；".join(msgs) for reason, msgs in out.items()}
