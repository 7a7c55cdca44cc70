"""/api/contracts/{id}/consents, /api/consents and /api/reports/sva-without-consent, with
real tokens; and the integration's requires_consent over /api/integrations."""

import pytest

from agrega.contracts.services import contract_activate, contract_add_product
from tests.fixtures import default_platform_only
from tests.fixtures_api import error, field_codes

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


@pytest.fixture
def sva(make_platform_integration, make_product, sandbox_kit):
    return make_product(make_platform_integration(auto_create_users=False), name="EXA Backup", price="12.00",
                        package=sandbox_kit.package_codes[2])


def test_record_list_revoke(api, api_user, sva, make_contract):
    contract = make_contract()
    response = api.post(f"/contracts/{contract.pk}/consents", {
        "product_id": sva.pk, "consented_at": "2025-02-10T09:15:00-03:00", "channel": "telefone",
        "evidence_ref": "Gravação 5531",
    })
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["contract_id"] == contract.pk and body["product_id"] == sva.pk
    assert body["product_name"] == "EXA Backup" and body["customer_name"] == contract.customer.name
    assert body["channel"] == "telefone" and body["channel_display"] == "Telefone (gravação)"
    assert body["consented_at"].startswith("2025-02-10T")
    assert body["valid"] is True and body["actor_label"] == api_user.username and body["actor_id"] == api_user.pk

    assert error(api.post(f"/contracts/{contract.pk}/consents", {
        "product_id": sva.pk, "channel": "site", "evidence_ref": "x"}), 409)["code"] == "consent_exists"

    listed = api.walk("/consents", {"contract_id": contract.pk})
    assert [c["id"] for c in listed] == [body["id"]]
    assert api.get(f"/contracts/{contract.pk}/consents").json()["items"][0]["id"] == body["id"]
    assert api.get("/consents", {"product_id": sva.pk, "valid": "false"}).json()["items"] == []

    revoked = api.post(f"/consents/{body['id']}/revoke", {"reason": "cliente pediu"})
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["valid"] is False and revoked.json()["revoke_reason"] == "cliente pediu"
    assert revoked.json()["revoked_by_label"] == api_user.username
    assert error(api.post(f"/consents/{body['id']}/revoke"), 409)["code"] == "consent_already_revoked"
    assert api.get("/consents", {"contract_id": contract.pk, "valid": "true"}).json()["items"] == []

    # the contract's Histórico shows both, in order, with who did them
    events = api.walk(f"/contracts/{contract.pk}/events")
    assert [(e["action"], e["action_display"], e["actor_label"]) for e in events] == [
        ("create", "Criação", "sistema"),
        ("consent_recorded", "Consentimento registrado", api_user.username),
        ("consent_revoked", "Consentimento revogado", api_user.username)]
    assert events[1]["detail"]["evidence_ref"] == "Gravação 5531" and events[2]["detail"]["reason"] == "cliente pediu"


def test_errors_name_the_fields(api, sva, make_contract, make_product):
    contract = make_contract()
    internet = make_product(name="Internet", fiscal_class="SCM")
    response = api.post(f"/contracts/{contract.pk}/consents",
                        {"product_id": internet.pk, "channel": "fax", "evidence_ref": ""})
    assert field_codes(response) == {"product_id": ["product_not_sva"], "channel": ["channel_invalid"],
                                     "evidence_ref": ["evidence_required"]}
    assert error(api.post("/contracts/999999/consents", {"product_id": sva.pk, "channel": "site",
                                                          "evidence_ref": "x"}), 404)["code"] == "contract_not_found"
    assert error(api.get("/contracts/999999/consents"), 404)["code"] == "contract_not_found"
    assert error(api.get("/consents/999999"), 404)["code"] == "consent_not_found"
    assert error(api.post(f"/contracts/{contract.pk}/consents", {"product_id": sva.pk}), 422)["code"] == \
        "invalid_input"


def test_report_pages_and_filters(api, sva, make_platform_integration, make_contract, sandbox_kit):
    contracts = []
    for _ in range(3):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=sva.pk)
        contract_activate(contract=contract)
        contracts.append(contract)
    api.post(f"/contracts/{contracts[1].pk}/consents", {"product_id": sva.pk, "channel": "site", "evidence_ref": "x"})
    rows = api.walk("/reports/sva-without-consent", limit=1)
    assert [r["contract_id"] for r in rows] == [contracts[0].pk, contracts[2].pk]
    row = rows[0]
    assert row["product_name"] == "EXA Backup" and row["sva_package_code"] == sandbox_kit.package_codes[2]
    assert row["price"] == "12.00" and row["requires_consent"] is False
    assert row["integration_id"] == sva.sva_integration_id and row["customer_document"]
    assert row["since"] and row["last_revoked_at"] is None
    filtered = api.get("/reports/sva-without-consent", {"integration_id": sva.sva_integration_id + 1000})
    assert filtered.json()["items"] == []


@pytest.mark.parametrize("role, write", [("operador", 201), ("somente leitura", 403)])
def test_roles(api_as, role, write, sva, make_contract):
    client = api_as(role)
    contract = make_contract()
    assert client.get("/consents").status_code == 200
    assert client.get("/reports/sva-without-consent").status_code == 200
    response = client.post(f"/contracts/{contract.pk}/consents",
                           {"product_id": sva.pk, "channel": "site", "evidence_ref": "x"})
    assert response.status_code == write
    if write == 201:
        assert client.post(f"/consents/{response.json()['id']}/revoke").status_code == 200


def test_anonymous_is_refused(anonymous):
    assert error(anonymous.get("/reports/sva-without-consent"), 401)["code"] == "not_authenticated"


def test_integration_requires_consent_over_the_api(api, sva_platform, platform_account):
    created = api.post("/integrations", {"name": "Com consentimento", "platform": sva_platform,
                                         "requires_consent": True, **platform_account.integration_fields()})
    assert created.status_code == 201, created.content
    assert created.json()["requires_consent"] is True
    changed = api.patch(f"/integrations/{created.json()['id']}", {"requires_consent": False})
    assert changed.json()["requires_consent"] is False
    assert api.get(f"/integrations/{created.json()['id']}").json()["requires_consent"] is False
