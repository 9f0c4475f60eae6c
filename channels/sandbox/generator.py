"""Realistic generated orders for the sandbox marketplaces, in a platform-neutral shape.

Each platform module of the sandbox renders a `SandboxOrder` into its own wire format, so one
generated order can be served as a Taobao trade, a JD order or a PDD order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

CN_TZ = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")

# Neutral states, the same words as orders.canonical.PlatformState (kept separate on purpose:
# the sandbox does not import the code it is there to test).
UNPAID, PAID, SHIPPED, COMPLETED, CANCELLED = "unpaid", "paid", "shipped", "completed", "cancelled"
STATES = (UNPAID, PAID, SHIPPED, COMPLETED, CANCELLED)
REFUNDS = ("", "requested", "refunded")

# Real (province, city, district) triples.
REGIONS = [
    ("北京市", "北京市", "朝阳区"), ("北京市", "北京市", "海淀区"), ("上海市", "上海市", "浦东新区"),
    ("上海市", "上海市", "徐汇区"), ("天津市", "天津市", "南开区"), ("重庆市", "重庆市", "渝北区"),
    ("广东省", "广州市", "天河区"), ("广东省", "深圳市", "南山区"), ("广东省", "佛山市", "顺德区"),
    ("浙江省", "杭州市", "西湖区"), ("浙江省", "宁波市", "鄞州区"), ("浙江省", "温州市", "鹿城区"),
    ("江苏省", "南京市", "鼓楼区"), ("江苏省", "苏州市", "姑苏区"), ("江苏省", "无锡市", "梁溪区"),
    ("四川省", "成都市", "武侯区"), ("湖北省", "武汉市", "洪山区"), ("湖南省", "长沙市", "岳麓区"),
    ("河南省", "郑州市", "金水区"), ("山东省", "济南市", "历下区"), ("山东省", "青岛市", "市南区"),
    ("福建省", "厦门市", "思明区"), ("福建省", "福州市", "鼓楼区"), ("陕西省", "西安市", "雁塔区"),
    ("辽宁省", "沈阳市", "和平区"), ("辽宁省", "大连市", "中山区"), ("河北省", "石家庄市", "长安区"),
    ("安徽省", "合肥市", "蜀山区"), ("江西省", "南昌市", "东湖区"), ("云南省", "昆明市", "五华区"),
    ("广西壮族自治区", "南宁市", "青秀区"), ("黑龙江省", "哈尔滨市", "南岗区"), ("吉林省", "长春市", "朝阳区"),
    ("山西省", "太原市", "小店区"), ("贵州省", "贵阳市", "南明区"), ("海南省", "海口市", "美兰区"),
]
STREETS = ["建设路", "人民路", "中山路", "解放路", "和平路", "新华路", "长江路", "学府路", "文化路", "科技路",
           "幸福大街", "滨江大道", "青年路", "光明街"]
ESTATES = ["阳光花园", "金色家园", "翠湖小区", "万科城", "碧桂园", "绿地中心", "丽景苑", "锦绣江南", "华府公寓"]
TOWNS = ["城关街道", "新城街道", "东湖街道", "湖滨街道", "南苑街道", "中心街道"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰文辉鹏宇晨欣怡浩然子涵梓萱"
MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "147", "150", "151", "152",
                   "155", "156", "157", "158", "159", "166", "173", "176", "177", "180", "181", "182", "183",
                   "185", "186", "187", "188", "189", "191", "195", "198", "199"]
BUYER_NOTES = ["请尽快发货，谢谢", "不要放快递柜，送货上门", "周末送货", "送人的，不要放价格单", "麻烦包装结实一点",
               "发顺丰可以吗，补差价", "颜色发错会退货哦"]
SELLER_NOTES = ["老客户，送小样", "VIP客户优先发", "已电话确认地址", "备注：拆单发货"]
POST_FEES = [Decimal("0"), Decimal("0"), Decimal("0"), Decimal("6"), Decimal("8"), Decimal("10"), Decimal("12")]
DISCOUNTS = [Decimal("0"), Decimal("0"), Decimal("0"), Decimal("3"), Decimal("5"), Decimal("10"), Decimal("20")]

# (outer_id, platform_item_id, platform_sku_id, title, price)
DEFAULT_SKUS = [
    ("TS-001-RED-M", "600123450001", "4800123450011", "纯棉圆领T恤 红色 M", Decimal("59.00")),
    ("TS-001-RED-L", "600123450001", "4800123450012", "纯棉圆领T恤 红色 L", Decimal("59.00")),
    ("TS-001-BLK-M", "600123450001", "4800123450013", "纯棉圆领T恤 黑色 M", Decimal("59.00")),
    ("MUG-350-WHT", "600123450002", "4800123450021", "陶瓷马克杯 350ml 白色", Decimal("29.90")),
    ("BAG-CANVAS-01", "600123450003", "4800123450031", "帆布托特包 米白", Decimal("45.50")),
    ("SOCK-5P-MIX", "600123450004", "4800123450041", "中筒棉袜 5双装 混色", Decimal("19.99")),
    ("TEA-LJ-250G", "600123450005", "4800123450051", "明前龙井茶 250g 礼盒", Decimal("168.00")),
    ("PWR-10000", "600123450006", "4800123450061", "10000mAh 充电宝 快充版", Decimal("99.00")),
]


@dataclass
class SandboxLine:
    line_id: str
    item_id: str
    sku_id: str
    outer_id: str
    title: str
    price: Decimal
    quantity: int
    discount: Decimal = Decimal("0")  # this line's share of the order discount
    refund: str = ""  # "", "requested", "refunded"
    refund_reason: str = ""  # the buyer's after-sale reason, where the platform's order payload carries one

    @property
    def total(self) -> Decimal:
        return self.price * self.quantity

    @property
    def payment(self) -> Decimal:
        return self.total - self.discount


@dataclass
class SandboxOrder:
    platform: str
    order_id: str
    account: str
    status: str
    created: datetime
    modified: datetime
    lines: list[SandboxLine]
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    buyer_nick: str = ""
    receiver: dict = field(default_factory=dict)  # name phone province city district town address zip
    post_fee: Decimal = Decimal("0")
    discount: Decimal = Decimal("0")
    buyer_note: str = ""
    seller_note: str = ""
    trade_type: str = "fixed"
    platform_status: str = ""  # a raw platform status that overrides the rendering of `status`
    tracking: dict | None = None
    currency: str = "CNY"
    fulfillment: str = ""  # Amazon: "AFN" (fulfilled by Amazon) or "MFN" (by the seller)
    buyer_email: str = ""  # Shopify / WooCommerce: the buyer's; Amazon: the marketplace relay address
    oaid: str = ""  # Taobao privacy order: the receiver id; its receiver fields are served masked
    #: the platform's do-not-ship state, "" for none, else its reason in the platform's words (rendered
    #: per platform: Taobao PAID_FORBID_CONSIGN, PDD risk_control_status=1, JD POP_ORDER_PAUSE, Douyin
    #: abnormal_order=2, Amazon BuyerRequestedCancel, Shopify fulfilment hold; WooCommerce has none)
    ship_block: str = ""

    @property
    def goods_total(self) -> Decimal:
        return sum((ln.total for ln in self.lines), Decimal("0"))

    @property
    def payment(self) -> Decimal:
        return self.goods_total + self.post_fee - self.discount


# What the generator adds beside the main random sequence (drawn from a per-order RNG, so a seed
# gives the same orders as before these existed): oaid on a share of Taobao orders, buyer e-mails
# for the international shops, and, when asked (ship_blocks=True), now and then a blocked order.
OAID_SHARE = 0.3
BLOCKED_SHARE = 0.05
BLOCK_PLATFORMS = ("taobao", "pdd", "jd", "douyin", "amazon", "shopify")  # WooCommerce has no such state
AMAZON_CANCEL_REASONS = ["Found cheaper somewhere else.", "Ordered by mistake.", "Delivery date too late."]


def default_block(platform: str) -> str:
    """The reason a do-not-ship state carries when none is given (`modify_order(ship_block=True)`)."""
    if platform == "amazon":
        return AMAZON_CANCEL_REASONS[1]
    if platform == "shopify":
        return "high_risk_of_fraud"  # a Shopify fulfilment hold reason (REST spelling)
    return "blocked"


def truncate(dt: datetime) -> datetime:
    return dt.astimezone(CN_TZ).replace(microsecond=0)


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def receiver(rng: random.Random) -> dict:
    province, city, district = rng.choice(REGIONS)
    detail = f"{rng.choice(STREETS)}{rng.randint(1, 999)}号"
    if rng.random() < 0.7:
        detail += f"{rng.choice(ESTATES)}{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 33)}0{rng.randint(1, 4)}室"
    return {
        "name": person_name(rng),
        "phone": mobile(rng),
        "province": province,
        "city": city,
        "district": district,
        "town": rng.choice(TOWNS) if rng.random() < 0.5 else "",
        "address": detail,
        "zip": "",
    }


def new_order_id(platform: str, rng: random.Random, created: datetime) -> str:
    if platform == "taobao":  # tid: 19 digits, beyond 2**53
        return str(rng.randint(10**18, 4 * 10**18))
    if platform == "jd":
        return str(rng.randint(2 * 10**11, 3 * 10**11 - 1))
    if platform == "pdd":
        return created.strftime("%y%m%d") + "-" + str(rng.randint(10**14, 10**15 - 1))
    if platform == "amazon":  # 3-7-7 digits
        return f"{rng.randint(111, 114)}-{rng.randint(10**6, 10**7 - 1)}-{rng.randint(10**6, 10**7 - 1)}"
    if platform == "shopify":
        return str(rng.randint(5 * 10**12, 6 * 10**12))
    if platform == "woocommerce":
        return str(rng.randint(1000, 999999))
    if platform == "douyin":
        return str(rng.randint(6 * 10**18, 7 * 10**18))
    raise ValueError(f"unknown sandbox platform {platform!r}")


# Channels II: international shops (Amazon / Shopify / WooCommerce) sell abroad in USD / EUR.
INTL_PLATFORMS = {"amazon": "USD", "shopify": "USD", "woocommerce": "EUR"}
# (country, state, city, postcode, phone prefix)
INTL_REGIONS = {
    "USD": [("US", "CA", "San Francisco", "94103", "+1 415"), ("US", "NY", "New York", "10001", "+1 212"),
            ("US", "WA", "Seattle", "98101", "+1 206"), ("US", "TX", "Austin", "78701", "+1 512"),
            ("US", "IL", "Chicago", "60601", "+1 312")],
    "EUR": [("DE", "BE", "Berlin", "10115", "+49 30"), ("DE", "BY", "München", "80331", "+49 89"),
            ("FR", "IDF", "Paris", "75001", "+33 14"), ("NL", "NH", "Amsterdam", "1012", "+31 20"),
            ("ES", "M", "Madrid", "28001", "+34 91")],
}
FIRST_NAMES = ["Alice", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hannah", "Jonas", "Lena", "Marie", "Noah"]
LAST_NAMES = ["Smith", "Miller", "Garcia", "Schmidt", "Dubois", "de Vries", "Martin", "Müller", "Lopez", "Brown"]
INTL_STREETS = ["Main St", "Market St", "Hauptstraße", "Rue de Rivoli", "Keizersgracht", "Calle Mayor", "Oak Ave"]


def intl_receiver(rng: random.Random, currency: str) -> dict:
    country, state, city, postcode, prefix = rng.choice(INTL_REGIONS[currency])
    return {
        "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        "phone": f"{prefix} {rng.randint(200, 899)} {rng.randint(1000, 9999)}",
        "province": state, "city": city, "district": "", "town": "",
        "address": f"{rng.randint(1, 999)} {rng.choice(INTL_STREETS)}", "zip": postcode, "country": country,
    }


def buyer_nick(platform: str, rng: random.Random) -> str:
    if platform == "jd":
        return "jd_" + "".join(rng.choice("0123456789abcdef") for _ in range(12))
    if platform == "pdd":
        return ""
    return rng.choice(["tb", "小", "爱购物的"]) + "".join(rng.choice("0123456789") for _ in range(8))


def pick_status(platform: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.06:
        return UNPAID if platform == "taobao" else PAID
    if r < 0.14:
        return SHIPPED
    if r < 0.20:
        return COMPLETED
    if r < 0.26:
        return CANCELLED
    return PAID


def make_order(platform: str, account: str, order_id: str, rng: random.Random, *, start: datetime,
               end: datetime, skus, status: str | None = None, ship_blocks: bool = False) -> SandboxOrder:
    start, end = truncate(start), truncate(end)
    if start < end and start.microsecond:
        start = start + timedelta(seconds=1)
    span = max(0, int((end - start).total_seconds()))
    created = start + timedelta(seconds=rng.randint(0, span))
    status = status or pick_status(platform, rng)

    def later(t: datetime, lo: int, hi: int) -> datetime:
        return min(end, t + timedelta(seconds=rng.randint(lo, hi)))

    paid_at = shipped_at = None
    modified = created
    closed_unpaid = status == CANCELLED and platform == "taobao" and rng.random() < 0.4
    if status != UNPAID and not closed_unpaid:
        paid_at = later(created, 5, 300)
        modified = paid_at
    if status in (SHIPPED, COMPLETED):
        shipped_at = later(paid_at, 60, 3600)
        modified = later(shipped_at, 0, 3600) if status == COMPLETED else shipped_at
    if status == CANCELLED:
        modified = later(modified, 30, 1800)

    n_lines = rng.choice((1, 1, 1, 1, 2, 2, 3))
    chosen = rng.sample(list(skus), min(n_lines, len(skus)))
    lines = []
    for i, (outer_id, item_id, sku_id, title, price) in enumerate(chosen):
        line_id = (str(int(order_id) + i + 1) if platform == "taobao" else
                   str(sku_id) if platform == "jd" else str(i))
        lines.append(SandboxLine(line_id=line_id, item_id=str(item_id), sku_id=str(sku_id),
                                 outer_id=str(outer_id), title=title, price=Decimal(str(price)),
                                 quantity=rng.choice((1, 1, 1, 2, 3))))
    goods = sum((ln.total for ln in lines), Decimal("0"))
    discount = rng.choice(DISCOUNTS)
    if discount * 2 > goods:
        discount = Decimal("0")
    remaining = discount
    for ln in lines[:-1]:
        share = (discount * ln.total / goods).quantize(CENT, rounding=ROUND_DOWN) if goods else Decimal("0")
        ln.discount = share
        remaining -= share
    lines[-1].discount = remaining
    if status == CANCELLED and paid_at is not None:
        for ln in lines:
            ln.refund = "refunded"
    elif status == PAID and rng.random() < 0.05:
        lines[0].refund = "requested"

    order = SandboxOrder(
        platform=platform, order_id=order_id, account=account, status=status, created=created,
        modified=modified, lines=lines, paid_at=paid_at, shipped_at=shipped_at,
        buyer_nick=buyer_nick(platform, rng), receiver=receiver(rng), post_fee=rng.choice(POST_FEES),
        discount=discount,
        buyer_note=rng.choice(BUYER_NOTES) if rng.random() < 0.25 else "",
        seller_note=rng.choice(SELLER_NOTES) if rng.random() < 0.1 else "",
    )
    if platform in ("amazon", "shopify", "woocommerce", "douyin"):  # Channels II platforms
        for ln in order.lines:
            ln.line_id = str(rng.randint(10**13, 10**14 - 1))
    if platform in INTL_PLATFORMS:
        order.currency = INTL_PLATFORMS[platform]
        order.receiver = intl_receiver(rng, order.currency)
        order.buyer_nick = order.receiver["name"]
        if platform == "amazon":
            order.fulfillment = "AFN" if rng.random() < 0.1 else "MFN"
    _add_privacy_and_flags(order, ship_blocks=ship_blocks)
    return order


def _add_privacy_and_flags(order: SandboxOrder, *, ship_blocks: bool) -> None:
    aux = random.Random(f"{order.platform}:{order.order_id}")
    if order.platform == "taobao" and aux.random() < OAID_SHARE:
        order.oaid = "".join(aux.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(32))
    if order.platform == "amazon":
        order.buyer_email = "".join(aux.choice("0123456789abcdefghijklmnopqrstvwxyz") for _ in range(15)) \
            + "@marketplace.amazon.com"
    elif order.platform in ("shopify", "woocommerce"):
        first, _, last = order.receiver.get("name", "").partition(" ")
        local = ".".join(x for x in (first, last.replace(" ", "")) if x).lower() or "buyer"
        order.buyer_email = f"{local}{aux.randint(1, 99)}@example.com"
    if ship_blocks and order.status == PAID and order.platform in BLOCK_PLATFORMS and aux.random() < BLOCKED_SHARE:
        order.ship_block = aux.choice(AMAZON_CANCEL_REASONS) if order.platform == "amazon" \
            else default_block(order.platform)
