"""The API's cheaper read paths answer exactly what the schemas would.

The contract list builds its page from column values without validating them through
the schema again, the token's role is read together with the token, and the customer
search is served by trigram indexes on PostgreSQL (bench/README.md, "api_load"). None of
that may change an answer: these tests hold each path to the plain one.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from ninja.responses import NinjaJSONEncoder

from agrega.contracts import selectors
from agrega.contracts.api import ContractOut
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role

from tests.fixtures_api import ApiClient

pytestmark = pytest.mark.django_db


def schema_json(contract) -> dict:
    """What ninja answers for one contract when it validates it through ContractOut."""
    return json.loads(json.dumps(ContractOut.from_orm(contract).model_dump(), cls=NinjaJSONEncoder))


def test_contract_list_items_equal_the_schema_serialization(api, make_customer):
    ana, bia = make_customer(name="Ana Souza"), make_customer(name="Bia Lima")
    ids = [api.post("/contracts", {"customer_id": c.pk, "description": d}).json()["id"]
           for c, d in ((ana, "Casa"), (ana, ""), (bia, "Loja"), (bia, "Sítio"))]
    api.post(f"/contracts/{ids[1]}/activate")
    api.post(f"/contracts/{ids[2]}/activate")
    api.post(f"/contracts/{ids[2]}/block-manual")
    api.post(f"/contracts/{ids[3]}/activate")
    api.post(f"/contracts/{ids[3]}/deactivate")  # ended_at set

    listed = api.get("/contracts").json()["items"]
    expected = [schema_json(selectors.contract_get(pk)) for pk in ids]
    assert listed == expected
    assert [item["customer_name"] for item in listed] == ["Ana Souza", "Ana Souza", "Bia Lima", "Bia Lima"]
    assert [item["grants_access"] for item in listed] == [False, True, False, False]
    # keyset pages of the value rows still chain by id
    assert [c["id"] for c in api.walk("/contracts", limit=1)] == ids
    assert [c["id"] for c in api.walk("/contracts", {"status": "A"}, limit=1)] == ids[1:3]


def test_contract_list_is_two_queries_whatever_the_page_size(api, make_customer):
    customer = make_customer()
    for _ in range(5):
        api.post("/contracts", {"customer_id": customer.pk})
    with CaptureQueriesContext(connection) as queries:
        body = api.get("/contracts", {"limit": 5}).json()
    assert len(body["items"]) == 5
    assert len(queries.captured_queries) == 2  # token with its role; the page with the names


def test_contract_detail_reads_sva_users_with_their_products_in_one_query(api, contract_with_sva_user):
    pk = contract_with_sva_user
    with CaptureQueriesContext(connection) as queries:
        body = api.get(f"/contracts/{pk}").json()
    assert body["sva_users"] and body["sva_users"][0]["desired_state"] == "active"
    # token and role; contract with customer; products; SVA users with product
    assert len(queries.captured_queries) == 4


@pytest.fixture
def contract_with_sva_user(api, make_customer, make_product, integration):
    customer = make_customer()
    pk = api.post("/contracts", {"customer_id": customer.pk}).json()["id"]
    assert api.post(f"/contracts/{pk}/products", {"product_id": make_product(integration).pk}).status_code == 201
    assert api.post(f"/contracts/{pk}/activate").status_code == 200
    return pk


@pytest.mark.parametrize("role, can_write", [("administrador", True), ("operador", True),
                                             ("somente leitura", False), (None, False)])
def test_token_role_read_with_the_token_decides_as_the_groups_do(make_customer, role, can_write):
    user = get_user_model().objects.create_user(f"u-{role}", password="senha-de-teste-123")
    if role:
        assign_role(user, role)
    _, raw = ApiToken.issue(user=user, name="t")
    client = ApiClient(raw)
    customer = make_customer()
    read = client.get("/contracts")
    write = client.post("/contracts", {"customer_id": customer.pk})
    if role is None:
        assert read.status_code == 403 and write.status_code == 403
    else:
        assert read.status_code == 200
        assert write.status_code == (201 if can_write else 403)


def test_role_change_takes_effect_on_the_next_request(make_customer):
    user = get_user_model().objects.create_user("muda", password="senha-de-teste-123")
    assign_role(user, "somente leitura")
    _, raw = ApiToken.issue(user=user, name="t")
    client = ApiClient(raw)
    customer = make_customer()
    assert client.post("/contracts", {"customer_id": customer.pk}).status_code == 403
    assign_role(get_user_model().objects.get(pk=user.pk), "operador")
    assert client.post("/contracts", {"customer_id": customer.pk}).status_code == 201


def test_customer_search_matches_name_email_and_document_parts(api, make_customer):
    maria = make_customer(name="Maria Conceição Souza", email="maria.souza@example.com.br")
    joao = make_customer(name="João Pereira", email="jp@example.com.br")

    def found(q):
        return [c["id"] for c in api.get("/customers", {"q": q}).json()["items"]]

    doc = maria.document
    assert found(f"{doc[:3]}.{doc[3:6]}.{doc[6:9]}-{doc[9:]}") == [maria.pk]
    assert found(doc) == [maria.pk]
    assert maria.pk in found(doc[2:9])
    assert found("conceição") == [maria.pk]
    assert found("SOUZA@EXAMPLE") == [maria.pk]
    assert found("pereira") == [joao.pk]
    assert found("example.com.br") == [maria.pk, joao.pk]
    assert found("ninguém") == []


def test_customer_search_uses_the_trigram_indexes_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'customers_customer'")
        names = {row[0] for row in cursor.fetchall()}
    assert {"customers_customer_name_trgm", "customers_customer_email_trgm",
            "customers_customer_document_trgm"} <= names
