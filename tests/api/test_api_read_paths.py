"""The API's cheaper read paths answer exactly what the schemas would.

The contract list builds its page from column values without validating them through
the schema again, the token's role is read together with the token, and the customer
search is served by trigram indexes on PostgreSQL (bench/README.md, "api_load"). None of
that may change an answer: these tests hold each path to the plain one.
"""

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from ninja.responses import NinjaJSONEncoder

from agrega.contracts import selectors
from agrega.contracts.api import ContractOut
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role

from tests.fixtures import default_platform_only
from tests.fixtures_api import ApiClient

sva_platform = default_platform_only()

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
    # the page with the names; the token with its role was read by the first request and
    # is kept for API_TOKEN_CACHE_SECONDS (tests/api/test_api_token_cache.py)
    assert len(queries.captured_queries) == 1


def test_contract_detail_reads_sva_users_with_their_products_in_one_query(api, contract_with_sva_user):
    pk = contract_with_sva_user
    with CaptureQueriesContext(connection) as queries:
        body = api.get(f"/contracts/{pk}").json()
    assert body["sva_users"] and body["sva_users"][0]["desired_state"] == "active"
    # contract with customer; products; SVA users with product (the token with its role
    # is cached since the fixture's requests)
    assert len(queries.captured_queries) == 3


@pytest.fixture
def contract_with_sva_user(api, make_customer, make_product, platform_integration):
    customer = make_customer()
    pk = api.post("/contracts", {"customer_id": customer.pk}).json()["id"]
    assert api.post(f"/contracts/{pk}/products", {"product_id": make_product(platform_integration).pk}).status_code == 201
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


def test_customer_list_items_equal_the_schema_serialization(api, make_customer):
    from agrega.customers.api import CustomerOut
    from agrega.customers.models import Customer

    ana = make_customer(name="Ana Souza", email="ana@example.com.br")
    bia = make_customer(name="Bia Lima")
    Customer.objects.filter(pk=bia.pk).update(mobile_phone="", city="Niterói")
    expected = [json.loads(json.dumps(CustomerOut.from_orm(Customer.objects.get(pk=c.pk)).model_dump(),
                                      cls=NinjaJSONEncoder)) for c in (ana, bia)]
    assert api.get("/customers").json()["items"] == expected
    assert api.get("/customers", {"q": "souza"}).json()["items"] == expected[:1]


def test_customer_search_uses_the_trigram_indexes_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'customers_customer'")
        names = {row[0] for row in cursor.fetchall()}
    assert {"customers_customer_name_trgm", "customers_customer_email_trgm",
            "customers_customer_document_trgm"} <= names


# The two list pages are answered as plain values serialized at once (core.api.json_answer),
# not through a schema object per row: byte for byte what ninja renders when it validates
# the same objects through the route's schema (Page[…]) with the API's renderer.

def schema_page_bytes(schema, objects, next_cursor=None) -> bytes:
    from agrega.core.api import FastJSONRenderer, Page

    page = Page[schema](items=[schema.from_orm(o) for o in objects], next_cursor=next_cursor)
    return FastJSONRenderer().render(None, page.model_dump(), response_status=200)


def test_contract_list_page_is_the_schemas_bytes(api, make_customer):
    customers = [make_customer(name="José Conceição d'Ávila"), make_customer(name='Ana "Nena" 100%_\\ Lima')]
    ids = [api.post("/contracts", {"customer_id": customers[n % 2].pk, "description": ["", "Sítio — fundos"][n % 2]})
           .json()["id"] for n in range(5)]
    api.post(f"/contracts/{ids[1]}/activate")
    api.post(f"/contracts/{ids[2]}/activate")
    api.post(f"/contracts/{ids[2]}/deactivate")
    answer = api.get("/contracts", {"limit": 3})
    assert answer["Content-Type"] == "application/json; charset=utf-8"
    assert answer.content == schema_page_bytes(ContractOut, [selectors.contract_get(pk) for pk in ids[:3]], ids[2])
    last = api.get("/contracts", {"cursor": ids[2]})
    assert last.content == schema_page_bytes(ContractOut, [selectors.contract_get(pk) for pk in ids[3:]])


def test_customer_page_is_the_schemas_bytes(api, make_customer):
    from django.utils import timezone

    from agrega.customers.api import CustomerOut
    from agrega.customers.models import Customer

    made = [make_customer(name="Ana Souza", email="ana@example.com.br"), make_customer(name="Bia Souza"),
            make_customer(name="ÑANDÚ Souza", document="11222333000181", email="")]
    Customer.objects.filter(pk=made[1].pk).update(mobile_phone="", city="Niterói", anonymized_at=timezone.now())
    for params in ({}, {"q": "souza"}, {"q": "souza", "limit": 2}):
        answer = api.get("/customers", params)
        shown = [Customer.objects.get(pk=c.pk) for c in made][: params.get("limit", 3)]
        next_cursor = shown[-1].pk if params.get("limit") else None
        assert answer["Content-Type"] == "application/json; charset=utf-8"
        assert answer.content == schema_page_bytes(CustomerOut, shown, next_cursor), params


def test_contract_detail_is_the_schemas_bytes(api, make_customer, make_product, platform_integration):
    # the detail is answered as plain values too (contracts.api._detail): the schema's own
    # rendering of the same contract, with a removed product, a price of the contract's
    # own, an SVA user and a name that needs escaping
    from agrega.contracts.api import ContractDetailOut
    from agrega.core.api import FastJSONRenderer

    customer = make_customer(name='José "Zé" d\'Ávila \\ 100%')
    pk = api.post("/contracts", {"customer_id": customer.pk, "description": "Sítio — fundos"}).json()["id"]
    sva = api.post(f"/contracts/{pk}/products", {"product_id": make_product(platform_integration).pk}).json()["id"]
    extra = api.post(f"/contracts/{pk}/products", {"product_id": make_product().pk, "price": "12.34"}).json()["id"]
    assert api.post(f"/contracts/{pk}/activate").status_code == 200
    assert api.delete(f"/contracts/{pk}/products/{extra}").status_code in (200, 204)

    def schema_bytes():
        detail = ContractDetailOut.from_orm(selectors.contract_detail(pk)).model_dump()
        return FastJSONRenderer().render(None, detail, response_status=200)

    answer = api.get(f"/contracts/{pk}")
    assert answer["Content-Type"] == "application/json; charset=utf-8"
    body = answer.json()
    assert [p["removed"] for p in body["products"]] == [False, True] and body["products"][1]["price"] == "12.34"
    assert body["sva_users"][0]["contract_product_id"] == sva
    assert answer.content == schema_bytes()
    assert api.get("/contracts/999999").status_code == 404


@given(moment=st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-3)), None])))
@example(moment=datetime(2026, 12, 7, 10, 0, 0, 999, tzinfo=timezone.utc))
@example(moment=datetime(2026, 12, 7, 10, 0, 0, 0, tzinfo=timezone.utc))
@example(moment=datetime(999, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc))
def test_timestamps_are_written_as_djangos_encoder_writes_them(moment):
    # json_answer (core.api._datetime_text) writes every datetime as ninja's (Django's)
    # encoder does: milliseconds cut, not rounded; none when zero; Z for UTC
    from agrega.core.api import _datetime_text

    assert _datetime_text(moment) == NinjaJSONEncoder().default(moment)
