"""Signing functions against vectors computed independently here (hashlib/hmac written out) and
against literal hex strings computed once and pasted in."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from channels.adapters.jd import sign_jos
from channels.adapters.pdd import sign_pdd
from channels.adapters.taobao import sign_top

TOP_PARAMS = {
    "method": "taobao.item.quantity.update", "app_key": "12345678", "session": "sess-abc",
    "timestamp": "2024-06-01 12:00:00", "format": "json", "v": "2.0", "sign_method": "md5",
    "num_iid": "600123450001", "quantity": "7", "type": "1", "title": "纯棉T恤",
}
TOP_STRING = ("app_key12345678formatjsonmethodtaobao.item.quantity.updatenum_iid600123450001quantity7"
              "sessionsess-abcsign_methodmd5timestamp2024-06-01 12:00:00title纯棉T恤type1v2.0")


def test_top_string_to_sign_is_sorted_key_value_concatenation():
    assert "".join(k + TOP_PARAMS[k] for k in sorted(TOP_PARAMS)) == TOP_STRING


@pytest.mark.parametrize("method, expected", [
    ("md5", hashlib.md5(("topsecret" + TOP_STRING + "topsecret").encode("utf-8")).hexdigest().upper()),
    ("hmac", hmac.new(b"topsecret", TOP_STRING.encode("utf-8"), hashlib.md5).hexdigest().upper()),
    ("hmac-sha256", hmac.new(b"topsecret", TOP_STRING.encode("utf-8"), hashlib.sha256).hexdigest().upper()),
])
def test_sign_top_matches_independent_computation(method, expected):
    assert sign_top(TOP_PARAMS, "topsecret", method) == expected


@pytest.mark.parametrize("method, literal", [
    ("md5", "2BA7D95CD56C566E7A640234E620EEA5"),
    ("hmac", "08AA1287B821606FE9A43E2AD3747615"),
    ("hmac-sha256", "D7243CEBC0B8BC899B1E7268A272311CD8DB6419EFD7EA4DD4E8D4F4FF23DF64"),
])
def test_sign_top_literal_vectors(method, literal):
    assert sign_top(TOP_PARAMS, "topsecret", method) == literal


def test_sign_top_ignores_sign_and_empty_values():
    noisy = {**TOP_PARAMS, "sign": "WHATEVER", "empty": "", "none": None}
    assert sign_top(noisy, "topsecret", "md5") == sign_top(TOP_PARAMS, "topsecret", "md5")


def test_sign_top_depends_on_every_value_and_the_secret():
    base = sign_top(TOP_PARAMS, "topsecret", "hmac-sha256")
    assert sign_top({**TOP_PARAMS, "quantity": "8"}, "topsecret", "hmac-sha256") != base
    assert sign_top(TOP_PARAMS, "othersecret", "hmac-sha256") != base


def test_sign_top_rejects_unknown_method():
    with pytest.raises(ValueError):
        sign_top(TOP_PARAMS, "topsecret", "sha1")


JOS_PARAMS = {
    "method": "jingdong.pop.order.search", "app_key": "jdkey", "access_token": "jdtoken",
    "timestamp": "2024-06-01 12:00:00", "format": "json", "v": "2.0",
    "360buy_param_json": '{"start_date":"2024-06-01 00:00:00","end_date":"2024-06-01 12:00:00","page":"1"}',
}


def test_sign_jos_matches_independent_computation_and_literal():
    s = "".join(k + JOS_PARAMS[k] for k in sorted(JOS_PARAMS))
    assert s.startswith("360buy_param_json{")  # digits sort before letters
    expected = hashlib.md5(("jdsecret" + s + "jdsecret").encode("utf-8")).hexdigest().upper()
    assert sign_jos(JOS_PARAMS, "jdsecret") == expected
    assert sign_jos(JOS_PARAMS, "jdsecret") == "1B974A3934B5848D0C2BC32B9D0A1445"
    assert sign_jos({**JOS_PARAMS, "sign": "X"}, "jdsecret") == expected


PDD_PARAMS = {
    "type": "pdd.order.number.list.increment.get", "client_id": "pddclient", "access_token": "pddtoken",
    "timestamp": "1717214400", "data_type": "JSON", "version": "V1", "start_updated_at": "1717212600",
    "end_updated_at": "1717214400", "page": "1", "page_size": "100",
}


def test_sign_pdd_matches_independent_computation_and_literal():
    s = "".join(k + PDD_PARAMS[k] for k in sorted(PDD_PARAMS))
    expected = hashlib.md5(("pddsecret" + s + "pddsecret").encode("utf-8")).hexdigest().upper()
    assert sign_pdd(PDD_PARAMS, "pddsecret") == expected
    assert sign_pdd(PDD_PARAMS, "pddsecret") == "C3F02E8A427ABCF87927247B870F642C"
    assert sign_pdd({**PDD_PARAMS, "sign": "X"}, "pddsecret") == expected
    assert sign_pdd({**PDD_PARAMS, "page": "2"}, "pddsecret") != expected


def test_sandbox_server_side_checks_agree_with_adapter_signing():
    """The sandbox verifies with its own implementation; both must agree on the same params."""
    from channels.sandbox import jd as jd_fake
    from channels.sandbox import pdd as pdd_fake
    from channels.sandbox import taobao as tb_fake

    for method in ("md5", "hmac", "hmac-sha256"):
        assert tb_fake.expected_sign(TOP_PARAMS, "topsecret", method) == sign_top(TOP_PARAMS, "topsecret", method)
    assert jd_fake.expected_sign(JOS_PARAMS, "jdsecret") == sign_jos(JOS_PARAMS, "jdsecret")
    assert pdd_fake.expected_sign(PDD_PARAMS, "pddsecret") == sign_pdd(PDD_PARAMS, "pddsecret")
