"""The public tracking page: same answer for a wrong number and wrong digits, rate limits,
masking, cross-tenant lookup, both languages, phone-friendly."""

from datetime import timedelta

import pytest
from django.utils import timezone

from logistics.models import Shipment, TrackingEvent
from tests import factories
from tests.factories_logistics import carrier
from tests.helpers import clear_cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def parcel(tenant):
    order = factories.OrderFactory(tenant=tenant, platform_order_id="3988776655", receiver_name="张三丰",
                                   receiver_phone="13800138000", receiver_province="浙江省", receiver_city="杭州市",
                                   receiver_district="西湖区", receiver_address="文三路 100 号 3 幢 501", status="shipped")
    s = Shipment.objects.create(tenant=tenant, order=order, carrier=carrier("ZTO"), tracking_number="773100000001",
                                status="in_transit", shipped_at=timezone.now())
    TrackingEvent.objects.create(tenant=tenant, shipment=s, occurred_at=timezone.now() - timedelta(hours=3),
                                 status="in_transit", description="【杭州市】快递员已揽收")
    TrackingEvent.objects.create(tenant=tenant, shipment=s, occurred_at=timezone.now(), status="in_transit",
                                 description="快件已到达【上海转运中心】")
    return order


def ask(client, number, phone, ip="10.0.0.1", **extra):
    return client.post("/logistics/track/", {"number": number, "phone": phone}, REMOTE_ADDR=ip, **extra)


def test_the_buyer_sees_status_and_timeline_masked(client, parcel):
    resp = ask(client, "3988776655", "8000")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "773100000001" in html and "快件已到达【上海转运中心】" in html and "中通快递" in html
    assert "张**" in html and "138****8000" in html
    assert "张三丰" not in html and "13800138000" not in html and "文三路" not in html
    assert html.index("上海转运中心") < html.index("快递员已揽收")  # newest first
    assert 'name="viewport"' in html


def test_our_own_number_works_too(client, parcel):
    assert "773100000001" in ask(client, parcel.number.lower(), "8000").content.decode()


def test_wrong_digits_answer_exactly_like_a_wrong_number(client, parcel):
    wrong_digits = ask(client, "3988776655", "1234", ip="10.0.0.2")
    wrong_number = ask(client, "3900000000", "8000", ip="10.0.0.3")
    assert wrong_digits.status_code == wrong_number.status_code == 404
    strip = lambda r: r.content.decode().replace('value="3988776655"', "").replace('value="3900000000"', "")  # noqa: E731
    import re

    def body(r):
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", strip(r))

    assert body(wrong_digits) == body(wrong_number)
    assert "没有找到匹配的订单" in body(wrong_digits)
    assert "773100000001" not in body(wrong_digits)


def test_rate_limit_per_order_number(client, parcel):
    for i in range(5):
        assert ask(client, "3988776655", "0000", ip=f"10.1.0.{i}").status_code == 404
    limited = ask(client, "3988776655", "8000", ip="10.1.0.99")  # right digits, too late
    assert limited.status_code == 429
    assert "查询太频繁" in limited.content.decode() and "773100000001" not in limited.content.decode()


def test_rate_limit_per_ip(client, parcel):
    for i in range(10):
        assert ask(client, f"X{i}", "0000", ip="10.2.0.1").status_code == 404
    assert ask(client, "3988776655", "8000", ip="10.2.0.1").status_code == 429
    assert ask(client, "3988776655", "8000", ip="10.2.0.2").status_code == 200


def test_across_tenants_only_the_order_whose_digits_agree_counts(client, parcel, other_tenant):
    theirs = factories.OrderFactory(tenant=other_tenant, platform_order_id="3988776655", receiver_name="李四",
                                    receiver_phone="13911112222", status="shipped")
    Shipment.objects.create(tenant=other_tenant, order=theirs, carrier=carrier("YTO"), tracking_number="YT999",
                            status="shipped")
    mine = ask(client, "3988776655", "8000").content.decode()
    assert "773100000001" in mine and "YT999" not in mine
    other = ask(client, "3988776655", "2222", ip="10.0.0.9").content.decode()
    assert "YT999" in other and "773100000001" not in other and "李*" in other


def test_english(client, parcel):
    html = client.get("/logistics/track/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Track your parcel" in html and "Last 4 digits" in html
    html = ask(client, "3988776655", "0000", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No matching order" in html
    zh = client.get("/logistics/track/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "物流查询" in zh


def test_the_sms_link_fills_in_the_order_number_and_asks_for_the_digits(client, db):
    resp = client.get("/logistics/track/?order=TB123456")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'value="TB123456"' in html
    assert "暂无" not in html and "未找到" not in html
