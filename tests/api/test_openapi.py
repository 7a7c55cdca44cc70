"""The OpenAPI document: served, valid JSON, every endpoint with its error responses."""

import json

import pytest

pytestmark = pytest.mark.django_db

EXPECTED = {
    "/api/customers": {"get", "post"},
    "/api/customers/{customer_id}": {"get", "patch"},
    "/api/integrations": {"get", "post"},
    "/api/integrations/platforms": {"get"},
    "/api/integrations/{integration_id}": {"get", "patch"},
    "/api/integrations/{integration_id}/check": {"post"},
    "/api/integrations/{integration_id}/packages": {"get"},
    "/api/products": {"get", "post"},
    "/api/products/{product_id}": {"get", "patch"},
    "/api/contracts": {"get", "post"},
    "/api/contracts/{contract_id}": {"get"},
    "/api/contracts/{contract_id}/activate": {"post"},
    "/api/contracts/{contract_id}/block-manual": {"post"},
    "/api/contracts/{contract_id}/block-automatic": {"post"},
    "/api/contracts/{contract_id}/mark-overdue": {"post"},
    "/api/contracts/{contract_id}/release": {"post"},
    "/api/contracts/{contract_id}/deactivate": {"post"},
    "/api/contracts/{contract_id}/cancel": {"post"},
    "/api/contracts/{contract_id}/events": {"get"},
    "/api/contracts/{contract_id}/products": {"post"},
    "/api/contracts/{contract_id}/products/{contract_product_id}": {"delete"},
    "/api/contracts/{contract_id}/sva-users": {"get"},
    "/api/sva-users": {"get", "post"},
    "/api/sva-users/{sva_user_id}": {"get", "delete"},
    "/api/sva-users/{sva_user_id}/sync": {"post"},
    "/api/sva-users/{sva_user_id}/timeline": {"get"},
    "/api/tokens": {"get", "post"},
    "/api/tokens/{token_id}": {"delete"},
    # billing and dunning
    "/api/invoices": {"get"},
    "/api/invoices/{invoice_id}": {"get"},
    "/api/invoices/{invoice_id}/payments": {"post"},
    "/api/invoices/{invoice_id}/cancel": {"post"},
    "/api/payments/webhook": {"post"},
    "/api/billing/runs": {"get", "post"},
    "/api/contracts/{contract_id}/trust-release": {"post"},
    "/api/tax-rates": {"get", "put"},
    "/api/reports/revenue": {"get"},
    "/api/dunning/policies": {"get", "post"},
    "/api/dunning-sweeps": {"post"},
    # LGPD
    "/api/customers/{customer_id}/personal-data": {"get"},
    "/api/customers/{customer_id}/anonymize": {"post"},
}
# Public by design: authenticated by an HMAC signature of the body, not a user token.
PUBLIC = {("post", "/api/payments/webhook")}


@pytest.fixture
def doc(anonymous):
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def test_document_lists_every_endpoint(doc):
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "Agrega API"
    paths = {path: set(ops) for path, ops in doc["paths"].items()}
    missing = {p: ops - paths.get(p, set()) for p, ops in EXPECTED.items() if ops - paths.get(p, set())}
    assert not missing


def test_every_operation_declares_its_errors_with_the_error_shape(doc):
    error_ref = "#/components/schemas/ErrorOut"
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if (method, path) in PUBLIC:
                assert "401" in responses and not operation.get("security"), (method, path)
                continue
            assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if method in ("post", "patch") and not path.endswith(("/check", "/sync")):
                assert {"409", "422"} & set(responses), (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"]["$ref"] == error_ref
            assert operation["summary"] and operation["tags"], (method, path)
            assert operation.get("security"), (method, path)


def test_contract_actions_declare_409(doc):
    for action in ("activate", "block-manual", "block-automatic", "mark-overdue", "release",
                   "deactivate", "cancel"):
        assert "409" in doc["paths"][f"/api/contracts/{{contract_id}}/{action}"]["post"]["responses"]


def test_lists_are_keyset_pages(doc):
    for path in ("/api/customers", "/api/products", "/api/contracts", "/api/sva-users", "/api/integrations"):
        operation = doc["paths"][path]["get"]
        params = {p["name"] for p in operation["parameters"]}
        assert {"cursor", "limit"} <= params
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(schema["properties"]) == {"items", "next_cursor"}


def test_integration_schemas_never_expose_credentials(doc):
    schemas = doc["components"]["schemas"]
    assert "credentials" not in schemas["IntegrationOut"]["properties"]
    assert "credentials_encrypted" not in json.dumps(doc)
    assert {"credentials_set", "credential_fields", "circuit_open_until"} <= set(
        schemas["IntegrationOut"]["properties"])
    assert "credentials" in schemas["IntegrationCreateIn"]["properties"]
