"""Aliyun RPC signing, checked against an implementation written out here and a literal vector."""

import base64
import hashlib
import hmac

import pytest

from notifications.adapters import aliyun
from notifications.adapters.base import PermanentError


def rfc3986(text: str) -> str:
    """Percent-encoding written out by hand: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    keep = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
    out = []
    for ch in text:
        if ch in keep:
            out.append(ch)
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8"))
    return "".join(out)


def reference_signature(method: str, params: dict, secret: str) -> str:
    canonical = "&".join(f"{rfc3986(k)}={rfc3986(params[k])}" for k in sorted(params) if k != "Signature")
    string_to_sign = f"{method}&%2F&{rfc3986(canonical)}"
    return base64.b64encode(hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()


def test_percent_encoding_follows_rfc3986():
    assert aliyun.percent_encode("a b*c~d/e+f=g&h") == "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h"
    assert aliyun.percent_encode("顺丰") == "%E9%A1%BA%E4%B8%B0"
    assert aliyun.percent_encode('{"no":"SF1"}') == "%7B%22no%22%3A%22SF1%22%7D"


def test_signature_matches_an_independent_computation():
    params = {
        "AccessKeyId": "LTAI-abc", "Action": "SendSms", "Format": "JSON", "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "nonce-1", "SignatureVersion": "1.0",
        "Timestamp": "2024-05-01T08:00:00Z", "Version": "2017-05-25", "PhoneNumbers": "13912345678",
        "SignName": "一个 服装店*", "TemplateCode": "SMS_123",
        "TemplateParam": '{"name":"李四","link":"http://127.0.0.1:8000/logistics/track/?order=39~00"}',
    }
    for method in ("GET", "POST"):
        assert aliyun.sign(method, params, "s3cr3t") == reference_signature(method, params, "s3cr3t")
    # the Signature parameter itself is never signed
    assert aliyun.sign("GET", {**params, "Signature": "x"}, "s3cr3t") == aliyun.sign("GET", params, "s3cr3t")
    # and every parameter counts
    assert aliyun.sign("GET", {**params, "PhoneNumbers": "13912345679"}, "s3cr3t") != aliyun.sign("GET", params, "s3cr3t")


def test_signature_of_the_published_example():
    """The SendSms example of Aliyun's signing documentation (AccessKeyId testId, secret
    testSecret); its documented signature is zJDF+Lrzhj/ThnlvIToysFRq6t4= ."""
    params = {
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "AccessKeyId": "testId", "SignatureVersion": "1.0", "Timestamp": "2017-07-12T02:42:19Z", "Format": "XML",
        "Action": "SendSms", "Version": "2017-05-25", "RegionId": "cn-hangzhou", "PhoneNumbers": "15300000001",
        "SignName": "阿里云短信测试专用", "TemplateParam": '{"customer":"test"}', "TemplateCode": "SMS_71390007",
        "OutId": "123",
    }
    assert aliyun.sign("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert reference_signature("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_signed_params_carry_every_common_parameter():
    client = aliyun.AliyunSms(access_key_id="id", access_key_secret="secret", sign_name="店")
    params = client.signed_params({"PhoneNumbers": "13912345678"})
    assert {k: params[k] for k in ("Action", "Version", "Format", "RegionId", "SignatureMethod", "SignatureVersion")} == {
        "Action": "SendSms", "Version": "2017-05-25", "Format": "JSON", "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0"}
    assert params["Timestamp"].endswith("Z") and len(params["Timestamp"]) == 20
    assert params["Signature"] == reference_signature("POST", params, "secret")
    assert client.signed_params({})["SignatureNonce"] != client.signed_params({})["SignatureNonce"]


def test_the_sandbox_rejects_a_wrong_secret_and_the_error_never_quotes_the_phone(sms_sandbox):
    client = aliyun.AliyunSms(access_key_id="LTAI-test-key", access_key_secret="wrong", sign_name="店",
                              base_url=sms_sandbox.url)
    with pytest.raises(PermanentError) as err:
        client.send(phone="13912345678", template_code="SMS_1", params={"no": "1"})
    assert err.value.code == "SignatureDoesNotMatch"
    assert "13912345678" not in str(err.value)
    assert sms_sandbox.state.messages == []
