"""Login throttling (django-axes) on the staff login that the console and the admin share."""

import logging

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")


@pytest.fixture
def staff(tenant):
    return factories.member(tenant, "ops", username="ops-li")


def _login(client, username, password, ip="10.0.0.1", **extra):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"},
                       REMOTE_ADDR=ip, **extra)


def _fail_until_locked(client, username, settings, ip="10.0.0.1"):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, username, "wrong", ip).status_code == 200  # the form again, with its error
    return _login(client, username, "wrong", ip)


def test_a_good_login_passes_and_a_bad_one_shows_the_form_again(client, staff):
    bad = _login(client, staff.username, "wrong")
    assert bad.status_code == 200 and "_auth_user_id" not in client.session
    good = _login(client, staff.username, "pw-123456")
    assert good.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_after_n_failures_the_username_is_locked_from_that_ip_with_a_chinese_message(client, staff, settings, caplog):
    with caplog.at_level(logging.WARNING, logger="oms.security"):
        locked = _fail_until_locked(client, staff.username, settings)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "登录已暂时锁定" in page
    assert f"连续 {settings.AXES_FAILURE_LIMIT} 次登录失败" in page
    assert "15 分钟后再试" in page
    # even the right password is refused during the cool-off
    assert _login(client, staff.username, "pw-123456").status_code == 429
    assert "_auth_user_id" not in client.session
    # visible to ops: a row (admin: axes > access attempts) and a WARNING line with user and address
    attempt = AccessAttempt.objects.get(username=staff.username, ip_address="10.0.0.1")
    assert attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT
    assert any("login locked out" in r.getMessage() and "ops-li" in r.getMessage() and "10.0.0.1" in r.getMessage()
               for r in caplog.records)


def test_the_lockout_page_in_english_when_the_user_picked_english(client, staff, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    locked = _fail_until_locked(client, staff.username, settings)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Sign-in temporarily locked" in page
    assert "try again in 15 minutes" in page


def test_lockout_is_per_username_and_ip(client, staff, tenant, settings):
    other = factories.member(tenant, "cs", username="cs-wang")
    assert _fail_until_locked(client, staff.username, settings).status_code == 429
    # the same user from another address, and another user from the same address, still sign in
    assert _login(client, staff.username, "pw-123456", ip="10.0.0.2").status_code == 302
    client.logout()
    assert _login(client, other.username, "pw-123456").status_code == 302


def test_a_success_before_the_limit_clears_the_count(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, staff.username, "wrong")
    assert _login(client, staff.username, "pw-123456").status_code == 302
    client.logout()
    # counting starts again: N-1 further failures do not lock
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, staff.username, "wrong").status_code == 200
    assert _login(client, staff.username, "pw-123456").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, staff, settings):
    assert _fail_until_locked(client, staff.username, settings).status_code == 429
    from django.utils import timezone

    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME * 2)
    assert _login(client, staff.username, "pw-123456").status_code == 302


def test_a_forged_forwarded_for_header_does_not_choose_the_throttled_address(client, staff, settings):
    assert settings.OMS_TRUSTED_PROXY_COUNT == 0
    assert _fail_until_locked(client, staff.username, settings).status_code == 429
    # rotating X-Forwarded-For from the same socket address does not escape the lock
    resp = _login(client, staff.username, "pw-123456", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert resp.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_throttled(client, staff, settings):
    settings.OMS_TRUSTED_PROXY_COUNT = 1
    proxy = "127.0.0.1"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, staff.username, "wrong", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert _login(client, staff.username, "pw-123456", ip=proxy,
                  HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    # another client behind the same proxy is not locked out
    assert _login(client, staff.username, "pw-123456", ip=proxy,
                  HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 302


def test_ops_find_the_lockouts_in_the_admin_in_chinese(client, staff, settings):
    _fail_until_locked(client, staff.username, settings)
    root = factories.UserFactory(username="platform-root", is_superuser=True)
    client.force_login(root)
    index = client.get("/admin/").content.decode()
    assert "登录失败计数" in index and "登录记录" in index
    listing = client.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    assert "ops-li" in listing and "10.0.0.1" in listing
