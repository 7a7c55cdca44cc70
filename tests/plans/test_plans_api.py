"""/api/plans and POST /api/contracts/from-plan with real tokens."""

import pytest

from agrega.contracts.models import Contract
from tests.fixtures import default_platform_only
from tests.fixtures_api import error, field_codes

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


@pytest.fixture
def products(make_platform_integration, make_product):
    integration = make_platform_integration(auto_create_users=True)
    return (make_product(name="Internet 300 Mega", price="89.90", fiscal_class="SCM"),
            make_product(integration, name="EXA Segurança", price="14.90"))


def test_plan_crud(api, products, sandbox_kit):
    internet, exa = products
    created = api.post("/plans", {"name": "Combo 300", "description": "Internet + EXA", "items": [
        {"product_id": internet.pk, "price": "79.90"}, {"product_id": exa.pk}]})
    assert created.status_code == 201, created.content
    plan = created.json()
    assert plan["total"] == "94.80" and plan["active"] is True
    assert [(i["product_id"], i["kind"], i["price"], i["effective_price"]) for i in plan["items"]] == [
        (internet.pk, "OUTRO", "79.90", "79.90"), (exa.pk, "SVA", None, "14.90")]
    assert plan["items"][1]["sva_package_code"] == sandbox_kit.package_codes[0]

    assert [p["id"] for p in api.walk("/plans", {"q": "combo"})] == [plan["id"]]
    assert api.get("/plans", {"active": "false"}).json()["items"] == []

    changed = api.patch(f"/plans/{plan['id']}", {"name": "Combo 300 Família", "items": [{"product_id": exa.pk}]})
    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "Combo 300 Família" and len(changed.json()["items"]) == 1

    added = api.post(f"/plans/{plan['id']}/items", {"product_id": internet.pk, "price": "99.00"})
    assert added.status_code == 201 and len(added.json()["items"]) == 2
    item_id = added.json()["items"][1]["id"]
    assert len(api.delete(f"/plans/{plan['id']}/items/{item_id}").json()["items"]) == 1
    assert error(api.delete(f"/plans/{plan['id']}/items/{item_id}"), 404)["code"] == "plan_item_not_found"

    assert api.delete(f"/plans/{plan['id']}").status_code == 204
    assert error(api.get(f"/plans/{plan['id']}"), 404)["code"] == "plan_not_found"


def test_plan_errors_name_the_items(api, products, make_product):
    internet, exa = products
    inactive = make_product(name="Velho", active=False)
    response = api.post("/plans", {"name": "", "items": [
        {"product_id": inactive.pk}, {"product_id": exa.pk}, {"product_id": exa.pk}]})
    assert field_codes(response) == {"name": ["name_required"], "items.0.product_id": ["product_inactive"],
                                     "items.2.product_id": ["duplicate_product"]}
    api.post("/plans", {"name": "Único"})
    assert error(api.post("/plans", {"name": "ÚNICO"}), 409)["code"] == "plan_name_exists"


def test_contract_from_plan(api, api_user, products, make_customer):
    internet, exa = products
    plan = api.post("/plans", {"name": "Combo", "items": [{"product_id": internet.pk, "price": "79.90"},
                                                          {"product_id": exa.pk}]}).json()
    customer = make_customer()
    response = api.post("/contracts/from-plan", {"customer_id": customer.pk, "plan_id": plan["id"],
                                                 "billing_day": 20, "description": "loja centro"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sales_plan_id"] == plan["id"] and body["status"] == "P" and body["billing_day"] == 20
    assert [(p["product_id"], p["kind"], p["price"]) for p in body["products"]] == [
        (internet.pk, "OUTRO", "79.90"), (exa.pk, "SVA", None)]
    # the contract routes still answer (from-plan is mounted before /contracts/{id})
    assert api.get(f"/contracts/{body['id']}").json()["customer_id"] == customer.pk
    activated = api.post(f"/contracts/{body['id']}/activate")
    assert activated.status_code == 200
    users = api.get("/sva-users", {"contract_id": body["id"]}).json()["items"]
    assert [u["product_id"] for u in users] == [exa.pk]

    api.patch(f"/plans/{plan['id']}", {"active": False})
    refused = api.post("/contracts/from-plan", {"customer_id": customer.pk, "plan_id": plan["id"]})
    assert field_codes(refused) == {"plan_id": ["plan_inactive"]}
    assert error(api.delete(f"/plans/{plan['id']}"), 409)["code"] == "plan_in_use"
    assert Contract.objects.filter(customer=customer).count() == 1


@pytest.mark.parametrize("role, plans_write, contract_write", [
    ("operador", 403, 201), ("somente leitura", 403, 403)])
def test_roles(api, api_as, products, make_customer, role, plans_write, contract_write):
    internet, _ = products
    plan = api.post("/plans", {"name": "Só internet", "items": [{"product_id": internet.pk}]}).json()
    client = api_as(role)
    assert client.get("/plans").status_code == 200
    assert client.post("/plans", {"name": "Outro"}).status_code == plans_write
    assert client.patch(f"/plans/{plan['id']}", {"active": False}).status_code == plans_write
    response = client.post("/contracts/from-plan", {"customer_id": make_customer().pk, "plan_id": plan["id"]})
    assert response.status_code == contract_write
