"""What the platform accepts, through the API: a customer with an SVA user on EXA cannot
take an e-mail or name EXA refuses; a manual SVA user's own e-mail is checked the same.

On the exa_* fixtures: the rules checked are EXA's own (docs/connectors/exa.md)."""

import pytest

from tests.fixtures_api import error, field_codes
from .test_sva_users_api import manual

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_user(api, make_integration, make_product, make_contract):
    integration = make_integration(auto_create_users=False)
    contract = make_contract()
    item = api.post(f"/contracts/{contract.pk}/products", {"product_id": make_product(integration).pk}).json()
    return contract, item, integration


def test_customer_patch_refused_with_exa_reason_when_the_customer_has_a_user(api, with_user):
    contract, item, integration = with_user
    customer_id = contract.customer_id
    # before the user: the customer takes any valid e-mail
    assert api.patch(f"/customers/{customer_id}", {"email": "joão@exemplo.com.br"}).status_code == 200
    assert api.patch(f"/customers/{customer_id}", {"email": "joao@exemplo.com.br"}).status_code == 200
    assert api.post("/sva-users", manual(contract, item, integration)).status_code == 201

    response = api.patch(f"/customers/{customer_id}", {"email": "joão@exemplo.com.br", "city": "Sorocaba"})
    body = error(response, 422)
    assert field_codes(response) == {"email": ["email_local_not_accepted"]}
    assert "EXA" in body["message"] and "informe outro e-mail" in body["fields"]["email"][0]["message"]
    customer = api.get(f"/customers/{customer_id}").json()
    assert customer["email"] == "joao@exemplo.com.br" and customer["city"] != "Sorocaba"

    response = api.patch(f"/customers/{customer_id}", {"name": "Cliente 🚀"})
    assert field_codes(response) == {"name": ["name_character_not_accepted"]}
    assert "retire «🚀» do nome" in error(response, 422)["fields"]["name"][0]["message"]
    # converted, not refused: an IDN domain
    assert api.patch(f"/customers/{customer_id}", {"email": "joao@café.com.br"}).status_code == 200


def test_manual_user_own_email_checked_against_exa(api, with_user):
    contract, item, integration = with_user
    body = manual(contract, item, integration, use_customer_data=False, email="joão@exemplo.com.br",
                  phone="(21) 99876-5432", document="529.982.247-25")
    response = api.post("/sva-users", body)
    assert field_codes(response) == {"email": ["email_local_not_accepted"]}
    body["email"] = "joao@café.com.br"
    assert api.post("/sva-users", body).json()["email"] == "joao@café.com.br"
