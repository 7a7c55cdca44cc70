"""Login throttling on the operators' login page and on the admin's."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db
PASSWORD = "senha-de-teste-123"


@pytest.fixture
def operator(settings):
    settings.LOGIN_THROTTLE = {"PER_USERNAME": 3, "PER_IP": 6, "WINDOW_SECONDS": 900}
    from agrega.core.roles import assign_role

    user = get_user_model().objects.create_user("bia", password=PASSWORD, is_staff=True, is_superuser=True)
    assign_role(user, "operador")
    return user


def login(client, username, password, path="/entrar/", ip="10.0.0.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_after_too_many_failures_even_the_right_password_is_refused_for_a_while(operator):
    from datetime import timedelta

    from django.utils import timezone

    from agrega.core.models import LoginFailure

    client = Client()
    for _ in range(3):
        assert login(client, "bia", "errada").status_code == 200
    refused = login(client, "bia", PASSWORD)
    assert refused.status_code == 200 and "Muitas tentativas" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # the admin's login obeys the same rule
    admin = login(Client(), "bia", PASSWORD, path="/admin/login/?next=/admin/")
    assert admin.status_code == 200 and "_auth_user_id" not in admin.client.session
    # the window passes
    LoginFailure.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    ok = login(client, "bia", PASSWORD)
    assert ok.status_code == 302 and "_auth_user_id" in client.session
    assert not LoginFailure.objects.filter(username="bia").exists()


def test_failures_for_other_usernames_from_one_address_are_limited_too(operator):
    client = Client()
    for i in range(6):
        login(client, f"ninguem{i}", "x", ip="10.9.9.9")
    assert "Muitas tentativas" in login(client, "bia", PASSWORD, ip="10.9.9.9").content.decode()
    # from another address the operator still gets in
    other = Client()
    assert login(other, "bia", PASSWORD, ip="10.0.0.2").status_code == 302


def test_username_case_does_not_dodge_the_count(operator):
    client = Client()
    for name in ("bia", "BIA", "Bia"):
        login(client, name, "errada")
    assert "Muitas tentativas" in login(client, "bia", PASSWORD).content.decode()


def test_twenty_wrong_passwords_from_one_address_do_not_lock_the_admin_out_of_another(settings):
    """The defaults: an attacker guessing the admin's password from one address slows
    himself down, not the admin at her own desk."""
    from agrega.core.models import LoginFailure

    settings.LOGIN_THROTTLE = {"PER_USERNAME": 5, "PER_IP": 20, "WINDOW_SECONDS": 900,
                               "LOCK_SECONDS": 30, "MAX_LOCK_SECONDS": 3600}
    get_user_model().objects.create_superuser("admin", "a@example.com.br", PASSWORD)
    attacker = Client()
    for _ in range(20):
        assert login(attacker, "admin", "chute", ip="198.51.100.7").status_code == 200
    assert LoginFailure.objects.filter(username="admin").count() >= 5
    assert "Muitas tentativas" in login(attacker, "admin", PASSWORD, ip="198.51.100.7").content.decode()
    assert login(Client(), "admin", PASSWORD, ip="10.0.0.2").status_code == 302
    assert login(Client(), "admin", PASSWORD, path="/admin/login/?next=/admin/", ip="10.0.0.3").status_code == 302


def test_the_lock_of_a_pair_grows_and_is_capped(settings):
    from agrega.core.throttle import pair_lock_seconds

    settings.LOGIN_THROTTLE = {"PER_USERNAME": 5, "PER_IP": 20, "WINDOW_SECONDS": 900,
                               "LOCK_SECONDS": 30, "MAX_LOCK_SECONDS": 3600}
    assert [pair_lock_seconds(n) for n in (1, 4, 5, 6, 7, 8, 12, 13, 1000)] == \
        [0, 0, 30, 60, 120, 240, 3600, 3600, 3600]


def test_a_lock_after_more_failures_lasts_longer(operator):
    from datetime import timedelta

    from django.utils import timezone

    from agrega.core.models import LoginFailure
    from agrega.core.throttle import blocked_for

    client = Client()
    for _ in range(3):
        login(client, "bia", "errada")
    first = blocked_for("bia", "10.0.0.1")
    assert 0 < first <= 30
    LoginFailure.objects.update(created_at=timezone.now() - timedelta(seconds=31))
    assert blocked_for("bia", "10.0.0.1") == 0
    login(client, "bia", "errada")
    assert 30 < blocked_for("bia", "10.0.0.1") <= 60


def test_a_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(operator, settings):
    """Without AGREGA_TRUSTED_PROXIES, X-Forwarded-For is the client's own words: a new
    value per attempt must not give a new address per attempt."""
    client = Client()
    for i in range(3):
        client.post("/entrar/", {"username": "bia", "password": "errada"}, REMOTE_ADDR="198.51.100.7",
                    HTTP_X_FORWARDED_FOR=f"10.20.30.{i}")
    refused = client.post("/entrar/", {"username": "bia", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7",
                          HTTP_X_FORWARDED_FOR="10.20.30.99")
    assert "Muitas tentativas" in refused.content.decode()


def test_behind_a_trusted_proxy_the_forwarded_address_counts(operator, settings):
    settings.TRUSTED_PROXIES = "10.0.0.0/24"
    proxy = {"REMOTE_ADDR": "10.0.0.10"}
    client = Client()
    for _ in range(3):
        client.post("/entrar/", {"username": "bia", "password": "errada"},
                    HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.11", **proxy)
    # the attacker's address is locked; the operator behind the same proxy is not
    assert "Muitas tentativas" in client.post("/entrar/", {"username": "bia", "password": PASSWORD},
                                              HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).content.decode()
    assert Client().post("/entrar/", {"username": "bia", "password": PASSWORD},
                         HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy).status_code == 302
    # a forged left-most entry does not help: the right-most untrusted hop is the client
    assert "Muitas tentativas" in Client().post(
        "/entrar/", {"username": "bia", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.7", **proxy).content.decode()


@pytest.mark.parametrize("remote,forwarded,trusted,expected", [
    ("203.0.113.1", "1.2.3.4", "", "203.0.113.1"),
    ("10.0.0.1", "1.2.3.4", "10.0.0.0/8", "1.2.3.4"),
    ("10.0.0.1", "1.2.3.4, 10.0.0.2", "10.0.0.0/8", "1.2.3.4"),
    ("10.0.0.1", "5.6.7.8, 1.2.3.4", "10.0.0.0/8", "1.2.3.4"),
    ("10.0.0.1", "lixo", "10.0.0.0/8", "10.0.0.1"),
    ("10.0.0.1", "", "10.0.0.0/8", "10.0.0.1"),
    ("203.0.113.1", "1.2.3.4", "10.0.0.0/8", "203.0.113.1"),
    ("::1", "2001:db8::5", "::1", "2001:db8::5"),
])
def test_client_ip(settings, rf, remote, forwarded, trusted, expected):
    from agrega.core.net import client_ip

    settings.TRUSTED_PROXIES = trusted
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
