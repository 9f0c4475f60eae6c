"""Issue 14: Cainiao e-waybills for privacy orders (Taobao oaid) against the carrier sandbox over
real HTTP, and the label printing what the carrier returned: its plain recipient when it sent one,
never a guess for a privacy order whose receiver only Cainiao can decrypt."""

import json
import shutil
import subprocess

import pytest

from logistics import documents
from logistics.adapters.base import WaybillRequest
from logistics.adapters.cainiao import CainiaoClient
from logistics.models import CarrierAccount, Shipment
from logistics.sandbox.cainiao import MASKED_WITHOUT_OAID
from tests import factories
from tests.factories_logistics import carrier

from .conftest import TOP_CREDS

pytestmark = pytest.mark.django_db
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")

OAID = "1a2b3c4d5e6f7g8h9i0jklmnopqrstuv"
MASKED = {"name": "张**", "mobile": "138****1234", "province": "上海市", "city": "上海市", "district": "浦东新区",
          "detail": "世纪大道*********"}
PLAIN = {"name": "李四", "mobile": "13912345678", "province": "广东省", "city": "深圳市", "district": "南山区",
         "detail": "科技园南区深南大道 9988 号"}


def client(tenant, sandbox, **creds) -> CainiaoClient:
    return CainiaoClient(CarrierAccount(tenant=tenant, provider="cainiao", api_base_url=f"{sandbox.url}/cainiao",
                                        credentials={**TOP_CREDS, **creds}))


def req(ref: str, recipient: dict, cp: str = "YTO") -> WaybillRequest:
    return WaybillRequest(ref=ref, cp_code=cp, service_code="", items=[{"name": "T恤", "count": 1}], weight_grams=500,
                          sender={"name": "仓管小王", "mobile": "13700001111", "province": "浙江省", "city": "杭州市",
                                  "detail": "余杭区仓前街道 8 号"},
                          recipient=dict(recipient), order_refs=["3300000000000000001"])


def test_a_privacy_order_with_its_oaid_gets_a_number_with_the_masked_receiver(tenant, sandbox):
    (result,) = client(tenant, sandbox).get_waybills([req("P1", {**MASKED, "oaid": OAID})])
    assert result.ok and result.waybill_no.startswith("YT")
    parcel = sandbox.state.parcels[result.waybill_no]
    assert parcel.oaid == OAID  # recipient.oaid reached Cainiao
    assert json.loads(result.print_data)["encryptedData"]  # for Cainiao's print component only


def test_a_masked_receiver_without_an_oaid_is_refused_with_cainiaos_code_and_only_that_parcel_fails(tenant, sandbox):
    results = {r.ref: r for r in client(tenant, sandbox).get_waybills([
        req("M1", PLAIN), req("M2", MASKED), req("M3", {**MASKED, "oaid": OAID}), req("M4", {**MASKED, "oaid": ""})])}
    assert results["M1"].ok and results["M3"].ok
    for ref in ("M2", "M4"):  # an empty oaid is no oaid: it is not sent
        assert not results[ref].ok and results[ref].error_code == MASKED_WITHOUT_OAID[2]
        assert "oaid" in results[ref].error
    assert len(sandbox.state.cainiao) == 2


def test_a_plain_receiver_needs_no_oaid_and_sends_none(tenant, sandbox):
    (result,) = client(tenant, sandbox).get_waybills([req("N1", {**PLAIN, "oaid": ""})])
    assert result.ok and sandbox.state.parcels[result.waybill_no].oaid == ""


def test_need_encrypt_false_returns_plain_print_data_except_for_privacy_orders(tenant, sandbox):
    cn = client(tenant, sandbox, need_encrypt="false")
    plain, private = cn.get_waybills([req("E1", PLAIN), req("E2", {**MASKED, "oaid": OAID})])
    data = json.loads(plain.print_data)["data"]
    assert data["waybillCode"] == plain.waybill_no and data["recipient"]["name"] == "李四"
    assert "encryptedData" in json.loads(private.print_data)  # a privacy order is always encrypted
    assert "encryptedData" in json.loads(client(tenant, sandbox).get_waybills([req("E3", PLAIN)])[0].print_data)


# ---- the label -------------------------------------------------------------------------------------

def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "label.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return "".join(text.split())


def labelled(tenant, warehouse, *, order_receiver: dict, oaid: str, print_data: str, number: str) -> Shipment:
    order = factories.OrderFactory(tenant=tenant, warehouse=warehouse, receiver_name=order_receiver["name"],
                                   receiver_phone=order_receiver["mobile"], receiver_province=order_receiver["province"],
                                   receiver_city=order_receiver["city"], receiver_district=order_receiver["district"],
                                   receiver_address=order_receiver["detail"], receiver_oaid=oaid)
    factories.OrderLineFactory(tenant=tenant, order=order, outer_sku_id="TS-RED-L", quantity=1, title="红色T恤")
    return Shipment.objects.create(tenant=tenant, order=order, warehouse=warehouse, carrier=carrier("YTO"),
                                   service="standard", tracking_number=number, status="labelled", weight_grams=500,
                                   waybill_provider="cainiao", print_data=print_data)


@needs_poppler
def test_a_privacy_label_prints_no_guessed_receiver_and_says_to_use_cainiaos_print_component(
        tenant, sandbox, warehouse, tmp_path):
    (result,) = client(tenant, sandbox).get_waybills([req("L1", {**MASKED, "oaid": OAID})])
    s = labelled(tenant, warehouse, order_receiver=MASKED, oaid=OAID, print_data=result.print_data,
                 number=result.waybill_no)
    (data,) = documents.label_data([s])
    assert data.needs_cainiao_print and (data.receiver_name, data.receiver_address) == ("", "")
    text = pdf_text(documents.labels_pdf(tenant_id=tenant.pk, shipment_ids=[s.pk]), tmp_path)
    assert result.waybill_no in text and "菜鸟打印组件" in text
    assert "张**" not in text and "世纪大道" not in text and "1234" not in text


@needs_poppler
def test_a_label_prints_the_receiver_the_carrier_returned_in_plain(tenant, sandbox, warehouse, tmp_path):
    carrier_side = {**PLAIN, "name": "李四（快递）", "detail": "深南大道 9988 号 A 座"}
    (result,) = client(tenant, sandbox, need_encrypt=False).get_waybills([req("L2", carrier_side)])
    s = labelled(tenant, warehouse, order_receiver=PLAIN, oaid="", print_data=result.print_data,
                 number=result.waybill_no)
    text = pdf_text(documents.labels_pdf(tenant_id=tenant.pk, shipment_ids=[s.pk]), tmp_path)
    assert "李四（快递）" in text and "深南大道9988号A座" in text and "广东省深圳市南山区" in text
    assert "科技园南区" not in text  # the order's own address is not what the carrier returned
    assert "139****5678" in text and "13912345678" not in text
    assert "收件信息取自快递公司返回的打印数据" in text


@needs_poppler
def test_a_plain_order_with_encrypted_print_data_prints_its_own_receiver_as_before(tenant, sandbox, warehouse,
                                                                                    tmp_path):
    (result,) = client(tenant, sandbox).get_waybills([req("L3", PLAIN)])
    s = labelled(tenant, warehouse, order_receiver=PLAIN, oaid="", print_data=result.print_data,
                 number=result.waybill_no)
    text = pdf_text(documents.labels_pdf(tenant_id=tenant.pk, shipment_ids=[s.pk]), tmp_path)
    assert "李四" in text and "科技园南区深南大道9988号" in text and "菜鸟返回的打印数据已加密" in text
    assert "菜鸟打印组件" not in text
