"""Reports: the numbers equal sums computed here from the rows the test made."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from orders.models import Hold
from orders.reports import (
    Period,
    buyer_stats,
    hold_reasons,
    paid_to_shipped,
    sales_by_period,
    sales_by_province,
    sales_by_shop,
    top_skus,
)
from tests import factories

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2024, 5, day, hour, 0, tzinfo=SH)


@pytest.fixture
def data(tenant, other_tenant):
    tb = factories.ShopFactory(tenant=tenant, name="淘宝店", platform="taobao")
    jd = factories.ShopFactory(tenant=tenant, name="京东店", platform="jd")
    a = factories.SkuFactory(tenant=tenant, code="A")
    b = factories.SkuFactory(tenant=tenant, code="B")
    rows = [
        # shop, day, hour, amount, currency, province, buyer, status, lines [(sku, qty, amount)]
        (tb, 1, 9, "100.00", "CNY", "浙江省", "u1", "shipped", [(a, 2, "100.00")]),
        (tb, 1, 23, "50.50", "CNY", "浙江省", "u2", "approved", [(b, 1, "50.50")]),
        (jd, 2, 0, "200.00", "CNY", "广东省", "u1", "shipped", [(a, 1, "80.00"), (b, 3, "120.00")]),
        (jd, 3, 12, "30.00", "USD", "广东省", "u3", "pending_review", [(a, 1, "30.00")]),
        (tb, 3, 13, "999.00", "CNY", "浙江省", "u4", "cancelled", [(a, 9, "999.00")]),  # not a sale
        (tb, 20, 10, "77.00", "CNY", "上海市", "u5", "shipped", [(b, 1, "77.00")]),  # outside the period
    ]
    orders = []
    for shop, day, hour, amount, cur, prov, buyer, status, lines in rows:
        o = factories.OrderFactory(tenant=tenant, shop=shop, platform=shop.platform, paid_at=at(day, hour),
                                   placed_at=at(day, hour), paid_amount=Decimal(amount), currency=cur,
                                   receiver_province=prov, buyer_nick=buyer, status=status)
        for sku, qty, amt in lines:
            factories.OrderLineFactory(tenant=tenant, order=o, sku=sku, quantity=qty, amount=Decimal(amt))
        orders.append(o)
    # an earlier sale makes u1 a returning buyer
    factories.OrderFactory(tenant=tenant, shop=tb, platform="taobao", paid_at=at(1) - timedelta(days=40),
                           buyer_nick="u1", status="delivered", paid_amount=Decimal("1.00"))
    # another tenant's sale in the same days never counts
    factories.OrderFactory(tenant=other_tenant, paid_at=at(2), paid_amount=Decimal("5000"), status="shipped")
    # shipments: 6 h and 30 h after payment
    factories.ShipmentFactory(tenant=tenant, order=orders[0], status="shipped", shipped_at=at(1, 15))
    factories.ShipmentFactory(tenant=tenant, order=orders[2], status="shipped", shipped_at=at(3, 6))
    # holds
    h1 = factories.HoldFactory(tenant=tenant, order=orders[1], reason="manual")
    Hold.objects.filter(pk=h1.pk).update(created_at=at(1, 23), resolved_at=at(2, 1))
    h2 = factories.HoldFactory(tenant=tenant, order=orders[3], reason="address")
    Hold.objects.filter(pk=h2.pk).update(created_at=at(3, 12))
    return {"tb": tb, "jd": jd, "orders": orders}


PERIOD = Period(start=at(1).date(), end=at(10).date())


def test_sales_by_day_sum_per_currency_in_shanghai_days(tenant, data):
    rows = sales_by_period(tenant_id=tenant.pk, period=PERIOD, granularity="day")
    got = {(r["period"], r["currency"]): (r["orders"], r["amount"]) for r in rows}
    assert got == {
        ("2024-05-01", "CNY"): (2, Decimal("150.50")),  # 23:00 Shanghai is still the 1st
        ("2024-05-02", "CNY"): (1, Decimal("200.00")),  # 00:00 Shanghai is the 2nd
        ("2024-05-03", "USD"): (1, Decimal("30.00")),
    }
    month = sales_by_period(tenant_id=tenant.pk, period=PERIOD, granularity="month")
    assert {(r["period"], r["currency"]): (r["orders"], r["amount"]) for r in month} == {
        ("2024-05", "CNY"): (3, Decimal("350.50")), ("2024-05", "USD"): (1, Decimal("30.00"))}
    assert [r["aov"] for r in month if r["currency"] == "CNY"] == [Decimal("116.83")]


def test_provinces_shops_and_skus(tenant, data):
    prov = {(r["province"], r["currency"]): (r["orders"], r["amount"]) for r in
            sales_by_province(tenant_id=tenant.pk, period=PERIOD)}
    assert prov == {("浙江省", "CNY"): (2, Decimal("150.50")), ("广东省", "CNY"): (1, Decimal("200.00")),
                    ("广东省", "USD"): (1, Decimal("30.00"))}
    shops = {(r["shop"], r["currency"]): (r["orders"], r["amount"]) for r in
             sales_by_shop(tenant_id=tenant.pk, period=PERIOD)}
    assert shops == {("淘宝店", "CNY"): (2, Decimal("150.50")), ("京东店", "CNY"): (1, Decimal("200.00")),
                     ("京东店", "USD"): (1, Decimal("30.00"))}
    skus = {(r["sku"], r["currency"]): (r["quantity"], r["amount"], r["orders"]) for r in
            top_skus(tenant_id=tenant.pk, period=PERIOD)}
    assert skus == {("A", "CNY"): (3, Decimal("180.00"), 2), ("B", "CNY"): (4, Decimal("170.50"), 2),
                    ("A", "USD"): (1, Decimal("30.00"), 1)}
    only_jd = Period(start=PERIOD.start, end=PERIOD.end, shop_id=data["jd"].pk)
    assert sum(r["orders"] for r in sales_by_shop(tenant_id=tenant.pk, period=only_jd)) == 2


def test_buyers_new_returning_repeat_and_average_order_value(tenant, data):
    stats = {s.currency: s for s in buyer_stats(tenant_id=tenant.pk, period=PERIOD)}
    cny = stats["CNY"]
    # CNY sales in the period: u1 (twice: tb and jd are different platforms -> two buyers), u2
    assert (cny.buyers, cny.orders, cny.amount) == (3, 3, Decimal("350.50"))
    assert cny.returning == 1  # taobao/u1 bought before the period
    assert cny.new == 2
    assert cny.repeat == 0
    assert cny.aov == Decimal("116.83")
    assert (stats["USD"].buyers, stats["USD"].new) == (1, 1)


def test_hold_reasons_and_paid_to_shipped(tenant, data):
    holds = {r["code"]: r for r in hold_reasons(tenant_id=tenant.pk, period=PERIOD)}
    assert (holds["manual"]["total"], holds["manual"]["open"], holds["manual"]["avg_hours"]) == (1, 0, 2.0)
    assert (holds["address"]["total"], holds["address"]["open"]) == (1, 1)
    overall, per_shop, buckets = paid_to_shipped(tenant_id=tenant.pk, period=PERIOD)
    assert sorted(overall.hours) == [6.0, 30.0]
    assert overall.average == 18.0 and overall.median == 18.0
    assert per_shop["淘宝店"].hours == [6.0] and per_shop["京东店"].hours == [30.0]
    assert buckets == [1, 0, 1, 0, 0]


@pytest.mark.parametrize("kind", ["sales", "provinces", "shops", "skus", "buyers", "holds", "fulfilment"])
def test_each_report_page_shows_a_chart_a_table_and_exports_csv(tenant, data, owner_client, kind):
    params = {"start": "2024-05-01", "end": "2024-05-10"}
    resp = owner_client.get(reverse("orders:report", args=[kind]), params)
    html = resp.content.decode()
    assert resp.status_code == 200 and "<svg" in html and 'id="report-table"' in html
    resp = owner_client.get(reverse("orders:report", args=[kind]), {**params, "format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(resp.streaming_content).decode("utf-8-sig"))))
    assert len(rows) >= 2


def test_sales_csv_has_the_numbers(tenant, data, owner_client):
    resp = owner_client.get(reverse("orders:report", args=["sales"]),
                            {"start": "2024-05-01", "end": "2024-05-10", "by": "month", "format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(resp.streaming_content).decode("utf-8-sig"))))
    assert rows[1:] == [["2024-05", "CNY", "3", "350.50", "116.83"], ["2024-05", "USD", "1", "30.00", "30.00"]]


def test_another_tenants_shop_is_a_404(tenant, other_tenant, owner_client):
    theirs = factories.ShopFactory(tenant=other_tenant)
    assert owner_client.get(reverse("orders:report", args=["sales"]), {"shop": theirs.pk}).status_code == 404
    assert owner_client.get(reverse("orders:report", args=["nope"])).status_code == 404
