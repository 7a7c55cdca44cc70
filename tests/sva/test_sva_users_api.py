"""/api/sva-users: manual creation (seed "Ativação Manual"), reads, deletion, sync, the
timeline, and the whole seed flow driven only through the API against the sandbox."""

import pytest

from agrega.integrations.connectors.registry import connector_class, sandbox_platforms
from agrega.integrations.services import integration_create
from agrega.sva.models import SvaUser

from tests.fixtures import default_platform_only
from tests.fixtures_api import error, field_codes

pytestmark = pytest.mark.django_db

# Agrega's API, not a platform's wire format: the neutral fixtures on the default platform
# (the seed flow below runs on every platform with a sandbox: it proves each declaration)
sva_platform = default_platform_only()


@pytest.fixture
def manual_integration(make_platform_integration):
    return make_platform_integration(auto_create_users=False)


@pytest.fixture
def setup(api, manual_integration, make_product, make_contract):
    """A pre-contract holding an SVA product of a manual (flag = não) integration."""
    contract = make_contract()
    product = make_product(manual_integration)
    item = api.post(f"/contracts/{contract.pk}/products", {"product_id": product.pk}).json()
    return contract, item, manual_integration


def manual(contract, item, integration, **kw):
    body = {"contract_id": contract.pk, "integration_id": integration.pk, "contract_product_id": item["id"],
            "use_customer_data": True}
    body.update(kw)
    return body


def test_manual_creation_with_customer_data(api, setup, api_user, sandbox_kit):
    contract, item, integration = setup
    response = api.post("/sva-users", manual(contract, item, integration))
    assert response.status_code == 201, response.content
    user = response.json()
    customer = contract.customer
    assert user["origin"] == "manual" and user["use_customer_data"] is True
    assert (user["email"], user["phone"], user["document"]) == (
        customer.email, customer.mobile_phone, customer.document)
    assert user["contract_id"] == contract.pk and user["contract_product_id"] == item["id"]
    assert user["integration_id"] == integration.pk and user["package_code"] == sandbox_kit.package_codes[0]
    assert user["desired_state"] == "blocked"  # pre-contract: not yet active
    assert user["confirmed_state"] == "absent" and user["sync_status"] == "pending"
    assert user["external_id"].startswith("agr-") and user["version"] > user["synced_version"]
    for key in ("last_attempt_at", "last_error_code", "last_error_message", "next_attempt_at",
                "registration_problems"):
        assert key in user
    assert SvaUser.objects.get(pk=user["id"]).created_by == api_user
    assert api.get(f"/sva-users/{user['id']}").json() == user


def test_manual_creation_with_own_data(api, setup):
    contract, item, integration = setup
    body = manual(contract, item, integration, use_customer_data=False, email="filho@Exemplo.com",
                  phone="(21) 99876-5432", document="529.982.247-25")
    user = api.post("/sva-users", body).json()
    assert (user["email"], user["phone"], user["document"]) == (
        "filho@exemplo.com", "+5521998765432", "52998224725")


def test_own_data_errors_name_each_field(api, setup):
    contract, item, integration = setup
    body = manual(contract, item, integration, use_customer_data=False, email="sem-arroba",
                  phone="(11) 3333-4444", document="123")
    response = api.post("/sva-users", body)
    assert error(response, 422)["code"] == "validation_failed"
    assert field_codes(response) == {"email": ["email_invalid"], "phone": ["mobile_not_mobile"],
                                     "document": ["document_invalid"]}
    body = manual(contract, item, integration, use_customer_data=False)
    assert field_codes(api.post("/sva-users", body)) == {
        "email": ["email_required"], "phone": ["mobile_required"], "document": ["document_required"]}
    assert not SvaUser.objects.exists()


def test_customer_without_mobile_is_named(api, manual_integration, make_customer, make_contract, make_product):
    contract = make_contract(make_customer(mobile_phone=""))
    item = api.post(f"/contracts/{contract.pk}/products",
                    {"product_id": make_product(manual_integration).pk}).json()
    response = api.post("/sva-users", manual(contract, item, manual_integration))
    body = error(response, 422)
    assert body["code"] == "registration_incomplete"
    assert field_codes(response) == {"mobile_phone": ["mobile_required"]}
    assert "Telefone celular" in body["message"]


def test_product_not_on_the_contract(api, setup, make_contract, make_product, manual_integration):
    contract, item, integration = setup
    elsewhere = make_contract()
    response = api.post("/sva-users", manual(elsewhere, item, integration))
    assert field_codes(response) == {"contract_product_id": ["contract_product_not_found"]}
    api.delete(f"/contracts/{contract.pk}/products/{item['id']}")
    response = api.post("/sva-users", manual(contract, item, integration))
    assert field_codes(response) == {"contract_product_id": ["contract_product_not_found"]}


def test_product_without_sva(api, setup, make_product):
    contract, _, integration = setup
    plain = api.post(f"/contracts/{contract.pk}/products", {"product_id": make_product().pk}).json()
    response = api.post("/sva-users", manual(contract, plain, integration))
    assert field_codes(response) == {"contract_product_id": ["product_not_sva"]}


def test_integration_mismatch(api, setup, sva_platform, platform_account):
    contract, item, _ = setup
    fields = platform_account.integration_fields()
    other = integration_create(name="Outra", platform=sva_platform, base_url=fields["base_url"] + "/outra",
                               prefix=fields["prefix"], credentials=fields["credentials"])
    response = api.post("/sva-users", manual(contract, item, other))
    assert field_codes(response) == {"integration_id": ["integration_mismatch"]}


def test_unknown_or_cancelled_contract(api, setup):
    contract, item, integration = setup
    body = {**manual(contract, item, integration), "contract_id": 999999}
    assert error(api.post("/sva-users", body), 404)["code"] == "contract_not_found"
    api.post(f"/contracts/{contract.pk}/cancel")
    assert error(api.post("/sva-users", manual(contract, item, integration)), 409)["code"] == "contract_cancelled"


def test_second_user_for_the_same_contract_product(api, setup):
    contract, item, integration = setup
    assert api.post("/sva-users", manual(contract, item, integration)).status_code == 201
    response = api.post("/sva-users", manual(contract, item, integration))
    assert error(response, 409)["code"] == "sva_user_exists"


def test_list_filters(api, platform_integration, make_product, make_contract, make_customer, converge):
    integration = platform_integration
    one, two = make_contract(), make_contract(make_customer(email=""))
    product = make_product(integration)
    for contract in (one, two):
        api.post(f"/contracts/{contract.pk}/products", {"product_id": product.pk})
        api.post(f"/contracts/{contract.pk}/activate")
    a, b = SvaUser.objects.order_by("id")

    def ids(**params):
        return [u["id"] for u in api.get("/sva-users", params).json()["items"]]

    assert ids() == [a.pk, b.pk]
    assert ids(contract_id=one.pk) == [a.pk]
    assert ids(integration_id=integration.pk) == [a.pk, b.pk]
    assert ids(integration_id=999999) == []
    assert ids(pending=True) == [a.pk, b.pk]
    assert ids(sync_status="registration") == [b.pk]
    assert ids(sync_status="pending") == [a.pk]
    converge()
    assert ids(pending=False) == [a.pk, b.pk]
    assert ids(confirmed_state="active") == [a.pk]
    assert ids(confirmed_state="absent") == [b.pk]
    assert ids(sync_status="synced") == [a.pk]
    assert ids(sync_status="registration") == [b.pk]
    assert error(api.get("/sva-users", {"sync_status": "qualquer"}), 422)["code"] == "invalid_input"

    api.delete(f"/sva-users/{a.pk}")
    assert ids(sync_status="pending") == [a.pk]  # the removal is on its way
    converge()
    assert ids() == [b.pk]
    assert ids(include_removed=True) == [a.pk, b.pk]
    assert ids(sync_status="removed") == [a.pk]
    assert [u["id"] for u in api.walk("/sva-users", {"include_removed": True}, limit=1)] == [a.pk, b.pk]
    listed = api.get(f"/contracts/{one.pk}/sva-users", {"include_removed": True}).json()["items"]
    assert [u["id"] for u in listed] == [a.pk] and listed[0]["sync_status"] == "removed"
    assert listed[0]["deleted_at"] is not None
    assert api.get(f"/contracts/{one.pk}/sva-users").json() == {"items": [], "next_cursor": None}


def test_unknown_user_is_404(api):
    for response in (api.get("/sva-users/999999"), api.delete("/sva-users/999999"),
                     api.post("/sva-users/999999/sync"), api.get("/sva-users/999999/timeline")):
        assert error(response, 404)["code"] == "sva_user_not_found"


def test_sync_now_and_timeline(api, platform_integration, make_product, make_contract, converge, sandbox_kit,
                               platform_admin, platform_account):
    integration = platform_integration
    contract = make_contract()
    api.post(f"/contracts/{contract.pk}/products", {"product_id": make_product(integration).pk})
    api.post(f"/contracts/{contract.pk}/activate")
    user = SvaUser.objects.get()
    sandbox_kit.inject_fault(platform_admin, platform_account, "down")
    converge(timeout=1.0, allow_errors=True)
    failing = api.get(f"/sva-users/{user.pk}").json()
    assert failing["sync_status"] in ("retrying", "error")
    assert failing["last_error_code"] == "platform_unavailable"
    assert "indisponível" in failing["last_error_message"] and failing["last_attempt_at"] is not None
    platform_admin.clear_faults()

    response = api.post(f"/sva-users/{user.pk}/sync")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["version"] > failing["version"] and body["next_attempt_at"] is None and body["failures"] == 0
    converge()
    synced = api.get(f"/sva-users/{user.pk}").json()
    assert synced["sync_status"] == "synced" and synced["confirmed_state"] == "active"

    calls = api.walk(f"/sva-users/{user.pk}/timeline", limit=3)
    assert [c["id"] for c in calls] == sorted(c["id"] for c in calls)
    assert any(c["operation"] == "create_user" and c["status_code"] == 201 and c["method"] == "POST"
               for c in calls)
    assert any(c["status_code"] == 503 and c["error_code"] == "platform_unavailable" for c in calls)
    for call in calls:
        assert set(call) >= {"operation", "method", "path", "status_code", "duration_ms", "request",
                             "response", "error_code", "created_at"}
        for field in connector_class(platform_integration.platform).credential_fields:
            if field.secret:  # what the connector declares secret never shows
                assert platform_account.credentials[field.name] not in str(call)


@pytest.mark.parametrize("sva_platform", sandbox_platforms())
def test_the_seed_flow_through_the_api(api, sva_platform, sandbox_kit, platform_account, converge):
    package = sandbox_kit.package_codes[1]
    # Configurações > Integrações SVA
    integration = api.post("/integrations", {
        "name": "Plataforma", "platform": sva_platform, "auto_create_users": True, "timeout_seconds": 2,
        **platform_account.integration_fields(),
    }).json()
    assert api.post(f"/integrations/{integration['id']}/check").json()["ok"] is True
    # Cadastros > Produtos (aba SVA)
    product = api.post("/products", {"name": "Família", "price": "14.90", "fiscal_class": "SVA",
                                     "sva_integration_id": integration["id"],
                                     "sva_package_code": package}).json()
    assert product["warnings"] == []
    # Cliente e contrato
    customer = api.post("/customers", {"name": "João Pereira", "document": "529.982.247-25",
                                       "email": "joao@example.com.br", "mobile_phone": "(31) 99123-4567"}).json()
    contract = api.post("/contracts", {"customer_id": customer["id"]}).json()
    item = api.post(f"/contracts/{contract['id']}/products", {"product_id": product["id"]}).json()
    assert item["kind"] == "SVA"
    assert api.post(f"/contracts/{contract['id']}/activate").json()["access_status"] == "A"

    users = api.get(f"/contracts/{contract['id']}/sva-users").json()["items"]
    assert len(users) == 1 and users[0]["origin"] == "automatic" and users[0]["desired_state"] == "active"
    user_id, external_id = users[0]["id"], users[0]["external_id"]

    converge()
    remote = platform_account.user(external_id)
    assert remote["status"] == "active" and remote["package_code"] == package
    assert (remote["email"], remote["phone"], remote["document"]) == (
        "joao@example.com.br", "+5531991234567", "52998224725")
    user = api.get(f"/sva-users/{user_id}").json()
    assert user["confirmed_state"] == "active" and user["sync_status"] == "synced"

    assert api.post(f"/contracts/{contract['id']}/block-manual", {"note": "teste"}).json()["access_status"] == "CM"
    assert api.get(f"/sva-users/{user_id}").json()["desired_state"] == "blocked"
    converge()
    assert platform_account.user(external_id)["status"] == "blocked"
    assert api.get(f"/sva-users/{user_id}").json()["confirmed_state"] == "blocked"

    assert api.post(f"/contracts/{contract['id']}/release").json()["access_status"] == "A"
    converge()
    assert platform_account.user(external_id)["status"] == "active"

    response = api.delete(f"/sva-users/{user_id}")
    assert response.status_code == 202, response.content
    assert response.json()["desired_state"] == "absent" and response.json()["deleted_at"] is not None
    converge()
    assert platform_account.user(external_id) is None and platform_account.users() == []
    removed = api.get(f"/sva-users/{user_id}").json()
    assert removed["sync_status"] == "removed" and removed["confirmed_state"] == "absent"
    assert api.get(f"/contracts/{contract['id']}").json()["sva_users"] == []
    operations = [c["operation"] for c in api.walk(f"/sva-users/{user_id}/timeline", limit=50)]
    for operation in ("create_user", "block_user", "unblock_user", "delete_user"):
        assert operation in operations


def test_lists_do_not_query_per_row(api, platform_integration, make_product, make_contract):
    integration = platform_integration
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    product = make_product(integration)

    def add_active_contract():
        contract = make_contract()
        api.post(f"/contracts/{contract.pk}/products", {"product_id": product.pk})
        api.post(f"/contracts/{contract.pk}/activate")
        return contract

    def queries(path):
        api.get(path)  # warm up (token last_used_at)
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(path).status_code == 200
        return len(ctx.captured_queries)

    first = add_active_contract()
    one = queries("/sva-users"), queries(f"/contracts/{first.pk}")
    for _ in range(3):
        add_active_contract()
    assert (queries("/sva-users"), queries(f"/contracts/{first.pk}")) == one
    assert len(api.get("/sva-users").json()["items"]) == 4


def test_manual_user_with_an_alphanumeric_cnpj_and_named_document_errors(api, setup):
    contract, item, integration = setup
    body = manual(contract, item, integration, use_customer_data=False, email="empresa@exemplo.com",
                  phone="(21) 99876-5432", document="12.abc.345/01de-36")
    response = api.post("/sva-users", body)
    assert field_codes(response) == {"document": ["cnpj_invalid"]}
    assert "dígitos verificadores" in error(response, 422)["fields"]["document"][0]["message"]
    body["document"] = "12.abc.345/01de-35"
    user = api.post("/sva-users", body).json()
    assert user["document"] == "12ABC34501DE35"
