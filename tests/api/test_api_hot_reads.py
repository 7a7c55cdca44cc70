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

from django.utils import timezone

from agrega.contracts import selectors, services
from agrega.contracts import sql as contract_sql
from agrega.contracts.api import ContractDetailOut, ContractOut
from agrega.contracts.models import Contract
from agrega.core.api import keyset_page
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from agrega.customers import selectors as customer_selectors
from agrega.customers import sql as customer_sql
from agrega.customers.models import Customer

from tests.fixtures import default_platform_only
from tests.fixtures_api import ApiClient, error

sva_platform = default_platform_only()

pytestmark = pytest.mark.django_db


def as_json(schema, obj) -> dict:
    return json.loads(json.dumps(schema.from_orm(obj).model_dump(), cls=NinjaJSONEncoder))


@pytest.fixture
def contracts(api, make_customer, make_product, platform_integration):
    """Three contracts: one active with an SVA user and a removed product, one blocked,
    one pré-contrato without products."""
    ana, bia = make_customer(name="Ana Souza"), make_customer(name="Bia Lima")
    first = api.post("/contracts", {"customer_id": ana.pk, "description": "Casa"}).json()["id"]
    sva = api.post(f"/contracts/{first}/products", {"product_id": make_product(platform_integration).pk}).json()["id"]
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


def test_revoked_token_and_inactive_user_are_refused_on_a_later_request(make_customer, settings):
    # the token query itself, every request (the cache's own tests: test_api_token_cache.py)
    settings.API_TOKEN_CACHE_SECONDS = 0
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


# ---------------------------------------------------------------- SQL path vs ORM path, byte for byte
#
# The four hot reads (list pages, detail, search by name, by CPF) are hand-written SQL
# (contracts/sql.py, customers/sql.py). Each answer is held to the bytes the API gives when
# the same rows are read through the ORM instead (the selectors' querysets, as before).

def _orm_summary_rows(after, count):
    queryset = selectors.contract_summaries().values(*contract_sql.SUMMARY_COLUMNS).order_by("pk")
    return list((queryset if after is None else queryset.filter(pk__gt=after))[:count])


def _orm_detail(pk):
    if not -2**63 <= pk < 2**63:
        return None
    found = list(selectors.contract_with_customer(pk))
    if not found:
        return None
    contract = found[0]
    contract.product_list = list(selectors.contract_products_of(pk))
    users = list(selectors.contract_sva_users_of(pk))
    for user in users:
        user.contract = contract
    contract.sva_user_list = users
    return contract


def _orm_customer_rows(terms, after, count):
    from agrega.customers import selectors as customer_selectors

    match = customer_selectors.search_match(**terms) if terms else None
    queryset = Customer.objects.all() if match is None else Customer.objects.filter(match)
    queryset = queryset if after is None else queryset.filter(pk__gt=after)
    return list(queryset.order_by("id").values(*customer_sql.customer_fields())[:count])


def both_paths(monkeypatch, client, path, params=None):
    """The raw bytes and status of one request through SQL, then through the ORM."""
    sql_answer = client.get(path, params)
    with monkeypatch.context() as patched:
        patched.setattr(contract_sql, "contract_summary_rows", _orm_summary_rows)
        patched.setattr(contract_sql, "contract_detail", _orm_detail)
        patched.setattr(customer_sql, "customer_rows", _orm_customer_rows)
        orm_answer = client.get(path, params)
    return (sql_answer.status_code, sql_answer.content), (orm_answer.status_code, orm_answer.content)


@pytest.fixture
def many_contracts(contracts, make_customer, make_contract):
    """The three of ``contracts`` and 40 more, of customers with accents and quotes in their names."""
    names = ["José Conceição d'Ávila", 'Ana "Nena" 100%_\\ Lima', "ÑANDÚ Comércio Ltda", "Maria Souza"]
    customers = [make_customer(name=name) for name in names]
    ids = list(contracts)
    for n in range(40):
        contract = make_contract(customer=customers[n % 4], description=["", "Sítio — fundos", "x" * 200][n % 3])
        if n % 3:
            services.contract_activate(contract=contract.pk)
        if n % 11 == 2 and n % 3:
            services.contract_deactivate(contract=contract.pk)
        ids.append(contract.pk)
    return ids


def test_contract_list_sql_answers_the_orms_bytes(api, many_contracts, monkeypatch):
    ids = many_contracts
    cursors = [None, 0, ids[0] - 1, ids[0], ids[1], ids[20], ids[-2], ids[-1], ids[-1] + 1, 2**63 - 1]
    for cursor in cursors:
        for limit in (1, 2, 7, 50, 500):
            params = {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}
            sql_answer, orm_answer = both_paths(monkeypatch, api, "/contracts", params)
            assert sql_answer == orm_answer, params
            assert sql_answer[0] == 200
    assert b"Jos\xc3\xa9 Concei\xc3\xa7\xc3\xa3o d'\xc3\x81vila" in api.get("/contracts", {"limit": 500}).content
    # past the end: an empty page; a cursor out of range: the same 422 both ways
    assert api.get("/contracts", {"cursor": ids[-1]}).json() == {"items": [], "next_cursor": None}
    for bad in ({"cursor": -1}, {"cursor": 2**63}, {"limit": 0}, {"limit": 501}):
        sql_answer, orm_answer = both_paths(monkeypatch, api, "/contracts", bad)
        assert sql_answer == orm_answer and sql_answer[0] == 422


def test_contract_detail_sql_answers_the_orms_bytes(api, many_contracts, monkeypatch):
    for pk in many_contracts:
        sql_answer, orm_answer = both_paths(monkeypatch, api, f"/contracts/{pk}")
        assert sql_answer == orm_answer and sql_answer[0] == 200, pk
    first = api.get(f"/contracts/{many_contracts[0]}").json()
    assert first["sva_users"] and [p["removed"] for p in first["products"]] == [False, True]
    for missing in (max(many_contracts) + 1, 999_999_999, 2**63 - 1):
        sql_answer, orm_answer = both_paths(monkeypatch, api, f"/contracts/{missing}")
        assert sql_answer == orm_answer and sql_answer[0] == 404


@pytest.fixture
def searched(make_customer):
    made = [make_customer(name=f"Maria {n} Conceição", email=f"maria{n}@example.com.br") for n in range(12)]
    made.append(make_customer(name="Ana 100%_\\ Lima", email="a_b@example.com.br", document="52998224725"))
    made.append(make_customer(name="ÑANDÚ Ltda", document="11222333000181", email=""))
    Customer.objects.filter(pk=made[3].pk).update(mobile_phone="", city="Niterói", anonymized_at=timezone.now())
    return made


@pytest.mark.parametrize("q", [None, "maria", "MARIA 1", "conceicao maria", "ção", "100%", "_", "\\",
                               "529.982.247-25", "52998224725", "529982", "11.222.333/0001-81",
                               "@example", "A_B@EXAMPLE", "ninguém", "ñandú"])
def test_customer_search_sql_answers_the_orms_bytes(api, searched, monkeypatch, q):
    ids = [c.pk for c in searched]
    for cursor in (None, 0, ids[0], ids[5], ids[-1], 2**63 - 1):
        for limit in (1, 3, 50):
            params = {"limit": limit} | ({} if q is None else {"q": q}) | ({} if cursor is None else {"cursor": cursor})
            sql_answer, orm_answer = both_paths(monkeypatch, api, "/customers", params)
            assert sql_answer == orm_answer and sql_answer[0] == 200, params
    # and the ORM's schema path (validated from the model) gives the same items
    from agrega.customers.api import CustomerOut

    listed = api.walk("/customers", {} if q is None else {"q": q}, limit=2)
    match = customer_selectors.customer_match(q)
    expected = Customer.objects.all() if match is None else Customer.objects.filter(match)
    assert listed == [as_json(CustomerOut, c) for c in expected.order_by("id")]


@pytest.mark.parametrize("path", ["/contracts", "/contracts/{pk}", "/customers?q=maria", "/customers?q=52998224725"])
def test_hot_reads_keep_the_role_checks(make_customer, contracts, path, settings):
    settings.API_TOKEN_CACHE_SECONDS = 0
    path = path.format(pk=contracts[0])
    path, _, query = path.partition("?")
    params = dict([query.split("=")]) if query else None
    nobody = get_user_model().objects.create_user("sem-papel", password="senha-de-teste-123")
    reader = get_user_model().objects.create_user("leitor", password="senha-de-teste-123")
    assign_role(reader, "somente leitura")
    no_role = ApiClient(ApiToken.issue(user=nobody, name="t")[1])
    token, raw = ApiToken.issue(user=reader, name="t")
    read_only = ApiClient(raw)
    assert error(no_role.get(path, params), 403)["code"] == "forbidden"
    assert error(ApiClient(None).get(path, params), 401)["code"] == "not_authenticated"
    assert read_only.get(path, params).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    assert error(read_only.get(path, params), 401)["code"] == "not_authenticated"
