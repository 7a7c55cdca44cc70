"""/api/integrations against the real EXA sandbox; credentials never come back out.

On the exa_* fixtures: the integration's credentials here are EXA's own (client id and secret)."""

import json

import pytest

from tests.fixtures import PACKAGES

from tests.fixtures_api import error, field_codes

pytestmark = pytest.mark.django_db

PLATFORM_FIELDS = {"client_id", "client_secret"}


def integration_body(exa_account, **kw):
    body = {
        "name": "EXA principal",
        "platform": "exa",
        "base_url": exa_account.url + "/",
        "prefix": exa_account.prefix,
        "auto_create_users": True,
        "timeout_seconds": 2.0,
        "credentials": {"client_id": exa_account.client_id, "client_secret": exa_account.client_secret},
    }
    body.update(kw)
    return body


@pytest.fixture
def created(api, exa_account):
    response = api.post("/integrations", integration_body(exa_account))
    assert response.status_code == 201, response.content
    return response.json()


def test_platforms_lists_exa_and_its_credential_fields(api):
    response = api.get("/integrations/platforms")
    assert response.status_code == 200
    exa = next(p for p in response.json() if p["platform"] == "exa")
    assert exa["label"] == "EXA"
    fields = {f["name"]: f for f in exa["credential_fields"]}
    assert set(fields) == PLATFORM_FIELDS
    assert fields["client_secret"]["secret"] is True and fields["client_id"]["secret"] is False
    assert fields["client_id"]["label"] == "Client ID"


def test_create_and_read(api, created, exa_account):
    assert created["base_url"] == exa_account.url  # trailing slash removed
    assert created["credentials_set"] is True
    assert created["credential_fields"] == sorted(PLATFORM_FIELDS)
    assert "credentials" not in created and "credentials_encrypted" not in created
    for key in ("circuit_open_until", "consecutive_failures", "last_error_code", "last_error_message",
                "last_error_at", "last_success_at"):
        assert key in created
    assert created["consecutive_failures"] == 0 and created["circuit_open_until"] is None
    assert api.get(f"/integrations/{created['id']}").json() == created
    listed = api.get("/integrations").json()
    assert [i["id"] for i in listed["items"]] == [created["id"]] and listed["next_cursor"] is None


def test_list_filters(api, created, exa_account):
    other = api.post("/integrations", integration_body(exa_account, prefix="outro", active=False)).json()
    assert [i["id"] for i in api.get("/integrations", {"active": True}).json()["items"]] == [created["id"]]
    assert [i["id"] for i in api.get("/integrations", {"active": False}).json()["items"]] == [other["id"]]
    assert len(api.get("/integrations", {"platform": "exa"}).json()["items"]) == 2
    # an unknown platform is a 422 that names the filter, not an empty list
    assert field_codes(api.get("/integrations", {"platform": "nada"})) == {"platform": ["enum"]}
    assert [i["id"] for i in api.walk("/integrations", limit=1)] == [created["id"], other["id"]]


@pytest.mark.parametrize(
    "changes, field, code",
    [
        ({"platform": "nada"}, "platform", "platform_unknown"),
        ({"base_url": "ftp://exa"}, "base_url", "url_invalid"),
        ({"prefix": "com espaço"}, "prefix", "prefix_invalid"),
        ({"name": " "}, "name", "name_required"),
        ({"timeout_seconds": 0.1}, "timeout_seconds", "timeout_invalid"),
        ({"credentials": {"client_id": "x"}}, "credentials.client_secret", "credential_required"),
        ({"credentials": {"client_id": "x", "client_secret": "y", "token": "z"}}, "credentials",
         "credential_unknown"),
    ],
)
def test_create_validation(api, exa_account, changes, field, code):
    response = api.post("/integrations", integration_body(exa_account, **changes))
    assert error(response, 422)["code"] == "validation_failed"
    assert code in field_codes(response)[field]


def test_credentials_are_required_on_create(api, exa_account):
    body = integration_body(exa_account)
    del body["credentials"]
    assert "credentials" in field_codes(api.post("/integrations", body))


def test_duplicate_account_is_a_conflict(api, created, exa_account):
    response = api.post("/integrations", integration_body(exa_account, name="De novo"))
    assert error(response, 409)["code"] == "integration_exists"


def test_patch_keeps_credentials_unless_given(api, created, exa_account):
    response = api.patch(f"/integrations/{created['id']}", {"name": "EXA matriz", "auto_create_users": False})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "EXA matriz" and response.json()["auto_create_users"] is False
    assert api.post(f"/integrations/{created['id']}/check").json()["ok"] is True

    response = api.patch(f"/integrations/{created['id']}",
                         {"credentials": {"client_id": exa_account.client_id, "client_secret": "errado"}})
    assert response.status_code == 200 and response.json()["credentials_set"] is True
    check = api.post(f"/integrations/{created['id']}/check").json()
    assert check == {"ok": False, "code": "credentials_refused", "message": check["message"]}
    assert "credenciais" in check["message"]
    assert error(api.get(f"/integrations/{created['id']}/packages"), 400)["code"] == "platform_invalid_credentials"


def test_patch_validation_and_404(api, created):
    response = api.patch(f"/integrations/{created['id']}", {"credentials": {"client_id": "só"}})
    assert field_codes(response) == {"credentials.client_secret": ["credential_required"]}
    assert error(api.patch("/integrations/999999", {"name": "x"}), 404)["code"] == "integration_not_found"
    assert error(api.get("/integrations/999999"), 404)["code"] == "integration_not_found"
    assert error(api.post("/integrations/999999/check"), 404)["code"] == "integration_not_found"


def test_check_accepts_the_sandbox_credentials(api, created):
    response = api.post(f"/integrations/{created['id']}/check")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["code"] == "ok"
    assert f"{len(PACKAGES)} pacote" in body["message"]


def test_packages_come_from_the_platform(api, created):
    response = api.get(f"/integrations/{created['id']}/packages")
    assert response.status_code == 200, response.content
    assert [(p["code"], p["name"]) for p in response.json()] == PACKAGES


def test_packages_when_the_platform_is_down_is_502(api, created, sandbox_admin, exa_account):
    sandbox_admin.set_faults(down=True, prefix=exa_account.prefix)
    response = api.get(f"/integrations/{created['id']}/packages")
    body = error(response, 502)
    assert body["code"] == "platform_unavailable"
    assert "indisponível" in body["message"]
    check = api.post(f"/integrations/{created['id']}/check").json()
    assert check["ok"] is False and check["code"] == "platform_unavailable"


def test_packages_when_the_platform_is_unreachable_is_502(api, exa_account):
    body = integration_body(exa_account, base_url="http://127.0.0.1:9", timeout_seconds=0.5)
    created = api.post("/integrations", body).json()
    assert error(api.get(f"/integrations/{created['id']}/packages"), 502)["code"] == "platform_unreachable"


def test_no_response_ever_carries_a_credential(api, anonymous, exa_account):
    secret, new_secret = exa_account.client_secret, "novo-" + exa_account.client_secret
    created = api.post("/integrations", integration_body(exa_account)).json()
    pk = created["id"]
    api.get("/integrations")
    api.get(f"/integrations/{pk}")
    api.get("/integrations/platforms")
    api.post(f"/integrations/{pk}/check")
    api.get(f"/integrations/{pk}/packages")
    api.patch(f"/integrations/{pk}", {"name": "Renomeada"})
    # Refused requests that carry the secret must not echo it either.
    api.post("/integrations", integration_body(exa_account))  # 409
    api.post("/integrations", integration_body(exa_account, prefix="x y"))  # 422
    api.post("/integrations", {**integration_body(exa_account), "timeout_seconds": "lento"})  # 422 (schema)
    api.post("/integrations", {**integration_body(exa_account), "credentials": secret})  # 422 (schema)
    api.patch(f"/integrations/{pk}", {"base_url": "nada", "credentials": {"client_secret": new_secret}})
    api.patch(f"/integrations/{pk}", {"credentials": {"client_id": exa_account.client_id,
                                                      "client_secret": new_secret}})
    api.get(f"/integrations/{pk}")
    api.post(f"/integrations/{pk}/check")
    api.get(f"/integrations/{pk}/packages")
    openapi = anonymous.get("/openapi.json")
    assert openapi.status_code == 200
    assert len(api.responses) == 16
    for response in api.responses + [openapi]:
        text = response.content.decode()
        for value in (secret, new_secret, exa_account.client_secret[len("secret-"):]):
            assert value not in text, (response.request["PATH_INFO"], text[:300])
        assert "credentials_encrypted" not in text
        if response.status_code < 300 and response.request["PATH_INFO"] != "/api/integrations/platforms":
            payload = json.loads(text)
            for item in payload.get("items", [payload]) if isinstance(payload, dict) else payload:
                assert "credentials" not in item


def test_check_records_the_outcome_on_the_integration(api, exa_account, sandbox_admin):
    from agrega.integrations.models import SvaIntegration

    body = {"name": "EXA", "platform": "exa", "base_url": exa_account.url, "prefix": exa_account.prefix,
            "credentials": {"client_id": exa_account.client_id, "client_secret": exa_account.client_secret}}
    pk = api.post("/integrations", body).json()["id"]
    assert api.post(f"/integrations/{pk}/check").json()["ok"] is True
    assert SvaIntegration.objects.get(pk=pk).last_success_at is not None
    sandbox_admin.set_faults(down=True)
    assert api.post(f"/integrations/{pk}/check").json()["ok"] is False
    assert SvaIntegration.objects.get(pk=pk).last_error_code == "platform_unavailable"


# -- every platform, through the platform-neutral fixtures (one run per connector with a
# sandbox): the API is built from the connector's declaration -------------------------


def test_platforms_are_their_declarations(api, sva_platform):
    from agrega.integrations.connectors.registry import connector_class

    cls = connector_class(sva_platform)
    declared = next(p for p in api.get("/integrations/platforms").json() if p["platform"] == sva_platform)
    assert declared["label"] == cls.label
    assert declared["needs_prefix"] is cls.needs_prefix
    assert set(declared["capabilities"]) == {c.value for c in cls.capabilities}
    assert [(f["name"], f["secret"], f["required"]) for f in declared["credential_fields"]] == [
        (f.name, f.secret, f.required) for f in cls.credential_fields]


def test_any_platform_is_created_checked_and_never_shows_its_secrets(api, sva_platform, platform_account, sandbox_kit):
    from agrega.integrations.connectors.registry import connector_class

    fields = platform_account.integration_fields()
    body = {"name": f"Conta {sva_platform}", "platform": sva_platform, "timeout_seconds": 2.0,
            "base_url": fields["base_url"], "credentials": fields["credentials"]}
    if fields["prefix"]:
        body["prefix"] = fields["prefix"]
    response = api.post("/integrations", body)
    assert response.status_code == 201, response.content
    created = response.json()
    given = {k for k, v in fields["credentials"].items() if v}
    assert created["credential_fields"] == sorted(given)
    secrets = [v for f in connector_class(sva_platform).credential_fields if f.secret
               for v in [fields["credentials"].get(f.name)] if v]
    assert secrets and not any(s in response.content.decode() for s in secrets)
    check = api.post(f"/integrations/{created['id']}/check").json()
    assert check["ok"] is True, check
    packages = api.get(f"/integrations/{created['id']}/packages").json()
    assert [p["code"] for p in packages] == list(sandbox_kit.package_codes)


def test_prefix_is_required_only_where_the_platform_declares_it(api, sva_platform, platform_account):
    from agrega.integrations.connectors.registry import connector_class

    fields = platform_account.integration_fields()
    body = {"name": "Sem prefixo", "platform": sva_platform, "base_url": fields["base_url"],
            "credentials": fields["credentials"]}
    response = api.post("/integrations", body)
    if connector_class(sva_platform).needs_prefix:
        assert "prefix_invalid" in field_codes(response)["prefix"]
    else:
        assert response.status_code == 201, response.content


def test_optional_credentials_may_be_left_out_required_ones_may_not(api, sva_platform, platform_account):
    from agrega.integrations.connectors.registry import connector_class

    fields = platform_account.integration_fields()
    declared = connector_class(sva_platform).credential_fields
    required = {f.name: fields["credentials"][f.name] for f in declared if f.required}
    body = {"name": "Mínimo", "platform": sva_platform, "base_url": fields["base_url"],
            "prefix": fields["prefix"] or "conta-x", "credentials": required}
    assert api.post("/integrations", body).status_code == 201
    missing = dict(required)
    name = next(iter(missing))
    del missing[name]
    response = api.post("/integrations", {**body, "prefix": "outra", "credentials": missing})
    assert "credential_required" in field_codes(response)[f"credentials.{name}"]
