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
