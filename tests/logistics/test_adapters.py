"""Carrier adapters against the sandbox over real HTTP: signing, business errors, idempotent
waybills under retries, batching, cancellation, tracking state mapping."""

import json

import pytest
import requests

from logistics.adapters.base import AuthError, BusinessError, WaybillRequest
from logistics.adapters.cainiao import CainiaoClient
from logistics.adapters.kuaidi100 import Kuaidi100Client, map_state
from logistics.adapters.sf import SfClient, map_opcode, sf_digest
from logistics.models import CarrierAccount
from logistics.sandbox.server import sf_expected_digest

from .conftest import K100_CREDS, SF_CREDS, TOP_CREDS

pytestmark = pytest.mark.django_db


def test_sf_digest_matches_the_published_vector():
    msg = '{"language":"zh-CN","orderId":"QIAO-20200618-004"}'
    assert sf_digest(msg, "12312334453453", "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci") == "IIKJtuLVzoFTu4kHI8M8vA=="
    # the sandbox's own implementation agrees, also on characters Java's URLEncoder treats specially
    assert sf_expected_digest(msg, "12312334453453", "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci") == "IIKJtuLVzoFTu4kHI8M8vA=="
    tricky = '{"address":"上海 浦东~新区 *1号 (A&B)+"}'
    assert sf_digest(tricky, "1", "cw") == sf_expected_digest(tricky, "1", "cw")


def _account(tenant, sandbox, provider, creds):
    return CarrierAccount(tenant=tenant, provider=provider, api_base_url=f"{sandbox.url}/{provider}",
                          credentials=creds)


def _req(ref, cp="SF", name="张三", detail="浦东新区世纪大道 100 号"):
    return WaybillRequest(ref=ref, cp_code=cp, service_code="2",
                          sender={"name": "仓管", "mobile": "13700001111", "province": "浙江省", "city": "杭州市",
                                  "detail": "余杭区 8 号"},
                          recipient={"name": name, "mobile": "13800138000", "province": "上海市", "city": "上海市",
                                     "district": "浦东新区", "detail": detail},
                          items=[{"name": "T恤", "count": 1}], weight_grams=800)


def test_sf_waybill_and_a_bad_check_word_is_an_auth_error(tenant, sandbox):
    client = SfClient(_account(tenant, sandbox, "sf", SF_CREDS))
    res = client.create_waybill(_req("R1"))
    assert res.ok and res.waybill_no.startswith("SF")
    bad = SfClient(_account(tenant, sandbox, "sf", {**SF_CREDS, "check_word": "wrong"}))
    with pytest.raises(AuthError) as exc:
        bad.create_waybill(_req("R2"))
    assert exc.value.code == "A1006"
    assert bad.requests_made == 1  # never retried


def test_sf_a1000_with_success_false_is_a_business_error_not_a_number(tenant, sandbox):
    client = SfClient(_account(tenant, sandbox, "sf", SF_CREDS))
    res = client.create_waybill(_req("R3", detail=""))
    assert not res.ok
    assert res.error_code == "1012" and "收件人地址" in res.error
    with pytest.raises(BusinessError):
        client.call("EXP_RECE_SEARCH_ORDER_RESP", {"orderId": "never-created"})


def test_sf_retry_after_a_lost_answer_yields_one_number_through_8016(tenant, sandbox):
    client = SfClient(_account(tenant, sandbox, "sf", SF_CREDS))
    sandbox.state.inject("sf", "http500_after")  # the order is created, the answer is lost
    res = client.create_waybill(_req("R4"))
    assert res.ok
    assert sandbox.state.sf_orders == {("OMS_TEST", "R4"): res.waybill_no}
    # the retry hit 8016 (duplicate orderId) and asked for the existing number
    assert [api for _p, api in sandbox.state.requests] == ["EXP_RECE_CREATE_ORDER", "EXP_RECE_CREATE_ORDER",
                                                          "EXP_RECE_SEARCH_ORDER_RESP"]
    assert client.create_waybill(_req("R4")).waybill_no == res.waybill_no


def test_sf_throttling_and_5xx_are_retried(tenant, sandbox):
    client = SfClient(_account(tenant, sandbox, "sf", SF_CREDS))
    sandbox.state.inject("sf", "throttle")
    sandbox.state.inject("sf", "http500")
    sandbox.state.inject("sf", "http429")
    assert client.create_waybill(_req("R5")).ok
    assert client.requests_made == 4


def test_cainiao_batches_ten_per_call_and_is_idempotent_per_object_id(tenant, sandbox):
    client = CainiaoClient(_account(tenant, sandbox, "cainiao", TOP_CREDS))
    reqs = [_req(f"O{i}", cp="YTO") for i in range(12)]
    results = client.get_waybills(reqs)
    assert [r.ref for r in results] == [f"O{i}" for i in range(12)]
    assert all(r.ok and r.waybill_no.startswith("YT") for r in results)
    assert len({r.waybill_no for r in results}) == 12
    assert client.requests_made == 2
    assert json.loads(results[0].print_data)["encryptedData"]
    # 5xx after the numbers were made: the retry returns the same numbers
    sandbox.state.inject("cainiao", "http500_after")
    again = client.get_waybills(reqs[:3])
    assert [r.waybill_no for r in again] == [r.waybill_no for r in results[:3]]
    assert len(sandbox.state.cainiao) == 12


def test_cainiao_one_bad_address_fails_only_that_parcel(tenant, sandbox):
    client = CainiaoClient(_account(tenant, sandbox, "cainiao", TOP_CREDS))
    reqs = [_req("A1", cp="ZTO"), _req("A2", cp="ZTO", detail=""), _req("A3", cp="ZTO")]
    results = {r.ref: r for r in client.get_waybills(reqs)}
    assert results["A1"].ok and results["A3"].ok
    assert not results["A2"].ok and results["A2"].error_code == "isv.RECIPIENT_ADDRESS_INVALID"


def test_cainiao_signature_is_checked_by_the_sandbox(tenant, sandbox):
    for method in ("md5", "hmac", "hmac-sha256"):
        client = CainiaoClient(_account(tenant, sandbox, "cainiao", {**TOP_CREDS, "sign_method": method}))
        assert client.get_waybills([_req(f"S-{method}", cp="STO")])[0].ok
    bad = CainiaoClient(_account(tenant, sandbox, "cainiao", {**TOP_CREDS, "app_secret": "nope"}))
    with pytest.raises(AuthError):
        bad.get_waybills([_req("S-bad", cp="STO")])


def test_cancel_waybill(tenant, sandbox):
    cn = CainiaoClient(_account(tenant, sandbox, "cainiao", TOP_CREDS))
    number = cn.get_waybills([_req("C1", cp="YUNDA")])[0].waybill_no
    cn.cancel_waybill("YUNDA", number)
    assert sandbox.state.parcels[number].cancelled
    with pytest.raises(BusinessError):
        cn.cancel_waybill("YUNDA", "999")
    sf = SfClient(_account(tenant, sandbox, "sf", SF_CREDS))
    sf_number = sf.create_waybill(_req("C2")).waybill_no
    sf.cancel_waybill("C2", sf_number)
    assert sandbox.state.parcels[sf_number].cancelled


@pytest.mark.parametrize("code,status", [
    ("0", "in_transit"), ("1", "in_transit"), ("2", "problem"), ("3", "delivered"), ("4", "returned"),
    ("5", "out_for_delivery"), ("6", "problem"), ("7", "in_transit"), ("14", "problem"),
    ("103", "in_transit"), ("1002", "in_transit"), ("204", "problem"), ("301", "delivered"), ("501", "out_for_delivery"),
    ("401", "returned"), ("", "in_transit"),
])
def test_kuaidi100_state_mapping(code, status):
    assert map_state(code) == status


@pytest.mark.parametrize("code,status", [("50", "in_transit"), ("44", "out_for_delivery"), ("80", "delivered"),
                                         ("70", "problem"), ("99", "returned"), ("123", "in_transit")])
def test_sf_opcode_mapping(code, status):
    assert map_opcode(code) == status


def test_kuaidi100_timeline_advances_with_time(tenant, sandbox):
    sandbox.state.register_parcel("YT9000", cp_code="YTO", origin="杭州市", dest="上海市")
    client = Kuaidi100Client(_account(tenant, sandbox, "kuaidi100", K100_CREDS))
    empty = client.query("yuantong", "YT9000")
    assert empty.events == [] and empty.status == ""
    sandbox.state.advance(5)
    r = client.query("yuantong", "YT9000")
    assert [e.status for e in r.events] == ["in_transit", "in_transit"]
    assert "揽收" in r.events[0].description and r.status == "in_transit"
    sandbox.state.advance(30)
    r = client.query("yuantong", "YT9000")
    assert r.status == "delivered" and r.events[-1].status == "delivered" and "签收" in r.events[-1].description
    assert r.events[-2].status == "out_for_delivery"


def test_kuaidi100_sign_and_sf_phone_rules(tenant, sandbox):
    bad = Kuaidi100Client(_account(tenant, sandbox, "kuaidi100", {**K100_CREDS, "key": "wrong"}))
    with pytest.raises(AuthError):
        bad.query("yuantong", "YT1")
    sandbox.state.register_parcel("SF777", cp_code="SF", phone="13800138000")
    sandbox.state.advance(2)
    client = Kuaidi100Client(_account(tenant, sandbox, "kuaidi100", K100_CREDS))
    with pytest.raises(BusinessError):
        client.query("shunfeng", "SF777")  # SF needs the phone
    assert client.query("shunfeng", "SF777", "8000").events


def test_sf_routes(tenant, sandbox):
    sandbox.state.register_parcel("SF888", cp_code="SF", phone="13800138000")
    sandbox.state.set_scenario("SF888", "returned")
    sandbox.state.advance(70)
    client = SfClient(_account(tenant, sandbox, "sf", SF_CREDS))
    r = client.routes("SF888", "13800138000")
    assert r.status == "returned" and r.events[0].raw_state == "50"
    assert client.routes("SF888", "13900000000").events == []  # wrong phone: no routes


def test_the_sandbox_refuses_unsigned_calls_over_http(sandbox):
    resp = requests.post(f"{sandbox.url}/kuaidi100/poll/query.do",
                         data={"customer": "K100CUSTOMER", "param": "{}", "sign": "x"}, timeout=5)
    assert resp.json() == {"result": False, "returnCode": "503", "message": "验证签名失败"}
