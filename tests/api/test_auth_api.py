"""Authentication (Bearer token or session) and /api/tokens."""

import pytest
from django.contrib.auth import get_user_model

from agrega.core.roles import assign_role

from agrega.core.models import ApiToken, hash_token

from tests.fixtures_api import ApiClient, error, field_codes

pytestmark = pytest.mark.django_db

PROTECTED = ["/customers", "/integrations", "/integrations/platforms", "/products", "/contracts",
             "/sva-users", "/tokens"]


@pytest.mark.parametrize("path", PROTECTED)
def test_no_token_is_401(anonymous, path):
    body = error(anonymous.get(path), 401)
    assert body["code"] == "not_authenticated"
    assert "Bearer" in body["message"]


def test_wrong_token_is_401(db):
    assert error(ApiClient("agr_nao-existe").get("/customers"), 401)["code"] == "not_authenticated"


def test_writes_without_token_change_nothing(anonymous):
    assert anonymous.post("/customers", {"name": "X", "document": "52998224725"}).status_code == 401
    assert anonymous.post("/contracts/1/activate").status_code == 401


def test_inactive_user_is_refused(api, api_user):
    assert api.get("/customers").status_code == 200
    api_user.is_active = False
    api_user.save()
    assert api.get("/customers").status_code == 401


def test_session_login_works_too(api_user):
    client = ApiClient(None)
    client.client.force_login(api_user)
    assert client.get("/customers").status_code == 200


def test_create_list_and_revoke_tokens(api, api_user):
    response = api.post("/tokens", {"name": "integração ERP"})
    assert response.status_code == 201, response.content
    created = response.json()
    raw = created["token"]
    assert raw.startswith("agr_") and created["key_prefix"] == raw[:12]
    assert created["name"] == "integração ERP" and created["revoked_at"] is None

    new_client = ApiClient(raw)
    assert new_client.get("/customers").status_code == 200
    assert ApiToken.objects.get(pk=created["id"]).last_used_at is not None

    listed = api.get("/tokens").json()["items"]
    assert [t["name"] for t in listed] == ["testes", "integração ERP"]
    text = api.get("/tokens").content.decode()
    assert raw not in text and "token\"" not in text
    assert "key_hash" not in text and hash_token(raw) not in text

    response = api.delete(f"/tokens/{created['id']}")
    assert response.status_code == 200 and response.json()["revoked_at"] is not None
    assert "token" not in response.json()
    assert error(new_client.get("/customers"), 401)["code"] == "not_authenticated"
    assert [t["name"] for t in api.get("/tokens").json()["items"]] == ["testes"]
    revoked = api.get("/tokens", {"include_revoked": True}).json()["items"]
    assert [t["name"] for t in revoked] == ["testes", "integração ERP"]
    assert error(api.delete(f"/tokens/{created['id']}"), 404)["code"] == "token_not_found"


def test_a_token_can_revoke_itself(api, api_token):
    own = ApiToken.objects.get(key_hash=hash_token(api_token))
    assert api.delete(f"/tokens/{own.pk}").status_code == 200
    assert api.get("/tokens").status_code == 401


def test_other_users_tokens_are_invisible(api):
    other = get_user_model().objects.create_user("outra", password="senha-de-teste-456")
    assign_role(other, "somente leitura")
    theirs, raw = ApiToken.issue(user=other, name="dela")
    assert [t["name"] for t in api.get("/tokens", {"include_revoked": True}).json()["items"]] == ["testes"]
    assert error(api.delete(f"/tokens/{theirs.pk}"), 404)["code"] == "token_not_found"
    assert ApiClient(raw).get("/customers").status_code == 200


def test_token_name_is_required(api):
    assert field_codes(api.post("/tokens", {"name": "  "})) == {"name": ["name_required"]}
    assert field_codes(api.post("/tokens", {"name": "x" * 101})) == {"name": ["text_too_long"]}
    assert "name" in field_codes(api.post("/tokens", {}))
