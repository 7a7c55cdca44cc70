"""The API's hot reads answer exactly what the selectors' ORM path answers.

The token, the contract detail's three reads, the contract and customer lists' pages and
the row an action locks: each test holds one of them to the plain ORM answer (they were
once compiled once per connection, docs/decisions/0009-prepared-statements.md; these tests
keep their answers fixed whatever reads them). Each is asked twice, as a reused
connection would.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from ninja.responses import NinjaJSONEncoder

from agrega.contracts import selectors, services
from agrega.contracts.api import ContractDetailOut, ContractOut
from agrega.contracts.models import Contract
from agrega.core.api import keyset_page
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from agrega.customers.models import Customer

from tests.fixtures_api import ApiClient, error

pytestmark = pytest.mark.django_db


def as_json(schema, obj) -> dict:
    return json.loads(json.dumps(schema.from_orm(obj).model_dump(), cls=NinjaJSONEncoder))


@pytest.fixture
def contracts(api, make_customer, make_product, integration):
    """Three contracts: one active with an SVA user and a removed product, one blocked,
    one pré-contrato without products."""
    ana, bia = make_customer(name="Ana Souza"), make_customer(name="Bia Lima")
    first = api.post("/contracts", {"customer_id": ana.pk, "description": "Casa"}).json()["id"]
    sva = api.post(f"/contracts/{first}/products", {"product_id": make_product(integration).pk}).json()["id"]
    # not a second product of the integration: EXA allows one account per customer
    # (another product of it would replace the first, contracts.services.contract_add_product)
    other = api.post(f"/contracts/{first}/products", {"product_id": make_product(name="Instalação").pk}).json()["id"]
    assert api.post(f"/contracts/{first}/activate").status_code == 200
    assert api.delete(f"/contracts/{first}/products/{other}").status_code == 200
    second = api.post("/contracts", {"customer_id": bia.pk}).json()["id"]
    api.post(f"/contracts/{second}/activate")
    api.post(f"/contracts/{second}/block-manual", {"note": "pedido do cliente"})
    third = api.post("/contracts", {"customer_id": bia.pk, "description": "Loja"}).json()["id"]
    assert sva
    return [first, second, third]


def test_contract_detail_answers_what_the_schema_makes_of_contract_get(api, contracts):
    for pk in contracts * 2:  # the second time through the compiled queries
        body = api.get(f"/contracts/{pk}").json()
        assert body == as_json(ContractDetailOut, selectors.contract_get(pk))
    first = api.get(f"/contracts/{contracts[0]}").json()
    assert [p["removed"] for p in first["products"]] == [False, True]
    assert [u["desired_state"] for u in first["sva_users"]] == ["active", "absent"][: len(first["sva_users"])]
    assert first["sva_users"] and first["customer_name"] == "Ana Souza"


@pytest.mark.parametrize("contract_id", [999_999_999, 2**63, 2**70])
def test_unknown_contract_ids_answer_not_found(api, contracts, contract_id):
    api.get(f"/contracts/{contracts[0]}")
    assert error(api.get(f"/contracts/{contract_id}"), 404)["code"] == "contract_not_found"
    assert error(api.post(f"/contracts/{contract_id}/block-manual"), 404)["code"] == "contract_not_found"


@pytest.mark.parametrize("filters", [{}, {"status": "A"}, {"status": "P"}, {"access_status": "CM"},
                                     {"status": "A", "access_status": "A"}, {"status": ""}, "customer"])
@pytest.mark.parametrize("limit", [1, 2, 50])
def test_contract_list_pages_match_the_orm(api, contracts, filters, limit):
    if filters == "customer":
        filters = {"customer_id": Contract.objects.get(pk=contracts[1]).customer_id}
    expected = []
    cursor = None
    while True:
        rows, cursor = keyset_page(selectors.contract_summaries(**filters), cursor=cursor, limit=limit)
        expected.extend(as_json(ContractOut, row) for row in rows)
        if cursor is None:
            break
    for _ in range(2):
        assert api.walk("/contracts", filters, limit=limit) == expected


def test_revoked_token_and_inactive_user_are_refused_on_a_later_request(make_customer):
    user = get_user_model().objects.create_user("revogada", password="senha-de-teste-123")
    assign_role(user, "operador")
    token, raw = ApiToken.issue(user=user, name="t")
    client = ApiClient(raw)
    assert client.get("/contracts").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert error(client.get("/contracts"), 401)["code"] == "not_authenticated"
    user.is_active = True
    user.save(update_fields=["is_active"])
    assert client.get("/contracts").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    assert error(client.get("/contracts"), 401)["code"] == "not_authenticated"
    assert error(ApiClient("agr_nao-existe").get("/contracts"), 401)["code"] == "not_authenticated"


def test_an_action_locks_the_row_it_answers_with(api, contracts):
    answers = [api.post(f"/contracts/{contracts[2]}/activate"), api.post(f"/contracts/{contracts[2]}/activate")]
    assert answers[0].status_code == 200
    assert answers[0].json() == as_json(ContractOut, Contract.objects.select_related("customer").get(pk=contracts[2]))
    assert error(answers[1], 409)["code"] == "invalid_transition"


@pytest.mark.django_db(transaction=True)
def test_locking_outside_a_transaction_is_refused_as_the_orm_refuses():
    if not connection.features.has_select_for_update:
        pytest.skip("SQLite takes no row locks")
    customer = Customer.objects.create(name="Fora", document="52998224725")
    contract = Contract.objects.create(customer=customer)
    with pytest.raises(transaction.TransactionManagementError):
        services._locked(contract.pk)
    with transaction.atomic():
        assert services._locked(contract.pk).pk == contract.pk


@pytest.mark.parametrize("filters", [
    {"q": "souza"}, {"q": "SOUZA@EXAMPLE"}, {"q": "100%_\\"}, {"q": "a_b"}, {"q": "maria"}, {"q": "  Maria "},
    {"q": "529.982"}, {"q": "52998224725"}, {"document": "529.982.247-25"}, {"document": "52998224725"},
    {"city": "são paulo"}, {"city": "S_o Paulo"}, {"city": "%"}, {"state": " sp "}, {"q": "maria", "state": "SP"},
])
def test_customer_list_pages_match_the_orm(api, make_customer, filters):
    from agrega.customers import selectors as customer_selectors

    make_customer(name="Maria Souza", email="maria.souza@example.com.br", document="52998224725")
    make_customer(name="Ana 100%_\\ Lima", email="a_b@example.com.br")
    make_customer(name="Bia", email="bia@example.com.br", city="Sao Paulo")
    expected, cursor = [], None
    while True:
        rows, cursor = keyset_page(customer_selectors.customer_list(**filters), cursor=cursor, limit=1)
        expected.extend(r.pk for r in rows)
        if cursor is None:
            break
    for _ in range(2):
        assert [c["id"] for c in api.walk("/customers", filters, limit=1)] == expected
