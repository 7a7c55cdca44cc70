"""/api/users: user administration by administrators; every change in the audit log."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agrega.core.models import ApiToken, ChangeRecord
from agrega.core.roles import assign_role

from tests.fixtures_api import ApiClient, error, field_codes

pytestmark = pytest.mark.django_db

NEW = {"username": "joana", "name": "Joana  da Silva", "email": "joana@example.com.br",
       "role": "operador", "password": "senha-forte-da-joana"}


def records(user_id):
    return list(ChangeRecord.objects.filter(object_type="auth.user", object_id=str(user_id)).order_by("id"))


def test_create_list_and_show(api, api_user):
    response = api.post("/users", NEW)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "joana" and body["name"] == "Joana da Silva" and body["role"] == "operador"
    assert body["is_active"] is True and "password" not in body
    user = get_user_model().objects.get(pk=body["id"])
    assert user.check_password(NEW["password"])
    listed = api.walk("/users", limit=1)
    assert [u["username"] for u in listed] == ["operadora", "joana"]
    assert [u["username"] for u in api.get("/users", {"role": "operador"}).json()["items"]] == ["joana"]
    assert [u["username"] for u in api.get("/users", {"q": "SILVA"}).json()["items"]] == ["joana"]
    assert api.get(f"/users/{body['id']}").json() == body
    [created] = records(body["id"])
    assert created.action == "create" and created.actor_id == api_user.pk
    assert created.changes["role"] == [None, "operador"]
    assert NEW["password"] not in json.dumps(created.changes)
    # the new user logs in with the password
    assert Client().login(username="joana", password=NEW["password"])


def test_create_checks_every_field_and_the_password_validators(api, settings):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
        {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    ]
    bad = {"username": "com espaço", "name": " ", "email": "não-é-email", "role": "operador", "password": "curta"}
    codes = field_codes(api.post("/users", bad))
    assert codes["username"] == ["username_invalid"] and codes["name"] == ["name_required"]
    assert codes["email"] == ["email_invalid"] and codes["password"] == ["password_too_short"]
    assert "password_too_common" in field_codes(api.post("/users", {**NEW, "password": "password1234"}))["password"]
    similar = api.post("/users", {**NEW, "password": "joana@example.com.br"})
    assert "password_too_similar" in field_codes(similar)["password"]
    assert field_codes(api.post("/users", {**NEW, "username": "OPERADORA"}))["username"] == ["username_taken"]
    assert "role" in field_codes(api.post("/users", {**NEW, "role": "chefe"}))
    assert field_codes(api.post("/users", {**NEW, "username": "x" * 151}))["username"] == ["text_too_long"]
    assert get_user_model().objects.count() == 1
    assert not ChangeRecord.objects.filter(object_type="auth.user").exists()


def test_set_role_and_last_admin_rule(api, api_user):
    joana = api.post("/users", NEW).json()
    response = api.post(f"/users/{joana['id']}/role", {"role": "administrador"})
    assert response.status_code == 200 and response.json()["role"] == "administrador"
    assert records(joana["id"])[-1].changes == {"role": ["operador", "administrador"]}
    # with two administrators, one may step down …
    assert api.post(f"/users/{api_user.pk}/role", {"role": "somente leitura"}).status_code == 200
    # … and then this token is no administrator any more
    assert error(api.get("/users"), 403)["code"] == "forbidden"
    joana_api = ApiClient(ApiToken.issue(user=get_user_model().objects.get(pk=joana["id"]), name="j")[1])
    # the last administrator cannot demote or deactivate themselves
    body = error(joana_api.post(f"/users/{joana['id']}/role", {"role": "operador"}), 409)
    assert body["code"] == "last_admin" and "único administrador" in body["message"]
    assert error(joana_api.post(f"/users/{joana['id']}/deactivate"), 409)["code"] == "last_admin"
    assert joana_api.get(f"/users/{joana['id']}").json()["role"] == "administrador"


def test_a_superuser_counts_as_administrator_and_demoting_clears_it(api, api_user):
    boss = get_user_model().objects.create_superuser("chefe", "chefe@example.com.br", "senha-do-chefe-1")
    assert api.get(f"/users/{boss.pk}").json()["role"] == "administrador"
    assert api.post(f"/users/{boss.pk}/role", {"role": "operador"}).json()["role"] == "operador"
    boss.refresh_from_db()
    assert not boss.is_superuser


def test_deactivate_stops_tokens_and_sessions_at_once(api, api_user):
    joana = api.post("/users", NEW).json()
    user = get_user_model().objects.get(pk=joana["id"])
    theirs = ApiClient(ApiToken.issue(user=user, name="erp")[1])
    browser = Client()
    assert browser.login(username="joana", password=NEW["password"])
    assert theirs.get("/customers").status_code == 200 and browser.get("/api/customers").status_code == 200

    response = api.post(f"/users/{joana['id']}/deactivate")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert error(theirs.get("/customers"), 401)["code"] == "not_authenticated"
    assert error(theirs.post("/tokens", {"name": "x"}), 401)["code"] == "not_authenticated"
    assert browser.get("/api/customers").status_code == 401
    assert not Client().login(username="joana", password=NEW["password"])
    assert records(joana["id"])[-1].action == "deactivate"

    assert api.post(f"/users/{joana['id']}/reactivate").json()["is_active"] is True
    assert Client().login(username="joana", password=NEW["password"])
    assert theirs.get("/customers").status_code == 401  # old tokens stay revoked
    assert [r.action for r in records(joana["id"])] == ["create", "deactivate", "reactivate"]


def test_reset_password_given_or_generated(api):
    joana = api.post("/users", NEW).json()
    browser = Client()
    assert browser.login(username="joana", password=NEW["password"])
    assert field_codes(api.post(f"/users/{joana['id']}/reset-password", {"password": "1"}))["password"]
    response = api.post(f"/users/{joana['id']}/reset-password", {"password": "outra-senha-forte-9"})
    assert response.status_code == 200 and response.json()["password"] is None
    assert browser.get("/api/customers").status_code == 401  # her session ended
    assert Client().login(username="joana", password="outra-senha-forte-9")

    generated = api.post(f"/users/{joana['id']}/reset-password", {}).json()["password"]
    assert generated and len(generated) >= 12
    assert Client().login(username="joana", password=generated)
    dump = json.dumps([r.changes for r in records(joana["id"])])
    assert generated not in dump and "outra-senha-forte-9" not in dump
    assert [r.action for r in records(joana["id"])][-2:] == ["password_reset", "password_reset"]


def test_list_and_revoke_a_users_tokens(api):
    joana = api.post("/users", NEW).json()
    user = get_user_model().objects.get(pk=joana["id"])
    token, raw = ApiToken.issue(user=user, name="erp")
    listed = api.get(f"/users/{joana['id']}/tokens").json()["items"]
    assert [(t["name"], t["key_prefix"]) for t in listed] == [("erp", raw[:12])]
    assert raw not in json.dumps(listed)
    assert api.delete(f"/users/{joana['id']}/tokens/{token.pk}").json()["revoked_at"] is not None
    assert ApiClient(raw).get("/customers").status_code == 401
    assert error(api.delete(f"/users/{joana['id']}/tokens/{token.pk}"), 404)["code"] == "token_not_found"
    assert api.get(f"/users/{joana['id']}/tokens", {"include_revoked": False}).json()["items"] == []
    assert records(joana["id"])[-1].action == "token_revoke"
    # a token of another user through this user's path: not found
    other = ApiToken.issue(user=get_user_model().objects.get(username="operadora"), name="minha")[0]
    assert error(api.delete(f"/users/{joana['id']}/tokens/{other.pk}"), 404)["code"] == "token_not_found"


def test_unknown_user_is_404(api):
    for response in (api.get("/users/999999"), api.post("/users/999999/deactivate"),
                     api.post("/users/999999/role", {"role": "operador"}),
                     api.post("/users/999999/reset-password", {}), api.get("/users/999999/tokens")):
        assert error(response, 404)["code"] == "user_not_found"


@pytest.mark.parametrize("role", ["operador", "somente leitura"])
def test_only_administrators(role):
    user = get_user_model().objects.create_user(f"nao-admin-{role[:4]}")
    assign_role(user, role)
    client = ApiClient(ApiToken.issue(user=user, name="t")[1])
    assert error(client.get("/users"), 403)["code"] == "forbidden"
    assert error(client.post("/users", NEW), 403)["code"] == "forbidden"
    assert error(client.post(f"/users/{user.pk}/role", {"role": "administrador"}), 403)["code"] == "forbidden"


@pytest.mark.parametrize("field, value, code", [
    ("name", "Joana\x00Silva", "text_control_chars"),
    ("name", "\u200b\u200b", "text_blank"),
    ("name", "J" * 400, "text_too_long"),
    ("username", "j" * 200, "text_too_long"),
    ("role", True, None),
])
def test_create_refuses_unclean_or_unbounded_values(api, field, value, code):
    response = api.post("/users", {**NEW, field: value})
    assert response.status_code == 422, response.content
    assert not get_user_model().objects.filter(username=NEW["username"]).exists()
    if code:
        assert code in json.dumps(response.json())
