"""Search that finds people (issue 20, item 6): one rule (customers.selectors.search_terms
/ search_match) for the Clientes page, the lupa, the API, the CLI, and the customer
filter of Contratos and Títulos — accent- and case-insensitive, words in any order and
not adjacent, phone numbers typed any way. Real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import pytest
from django.test import Client

from agrega.customers import selectors


@pytest.fixture
def people(make_customer):
    return {
        "maria": make_customer(name="Maria Aparecida Souza", mobile_phone="(11) 98765-4321",
                               email="maria.ap@example.com.br"),
        "jose": make_customer(name="José da Conceição", mobile_phone="(21) 99876-1234"),
        "joao": make_customer(name="JOÃO SOUZA LTDA", document="12ABC34501DE35", mobile_phone="(31) 91234-5678"),
        "mario": make_customer(name="Mário Souza", mobile_phone="(11) 97777-0000"),
    }


def _found(q):
    return {c.name for c in selectors.customer_search(q=q)}


@pytest.mark.parametrize("q, expected", [
    ("maria souza", {"Maria Aparecida Souza"}),
    ("souza maria", {"Maria Aparecida Souza"}),
    ("MARIA   aparecida", {"Maria Aparecida Souza"}),
    ("jose conceicao", {"José da Conceição"}),
    ("JOSÉ CONCEIÇÃO", {"José da Conceição"}),
    ("joao", {"JOÃO SOUZA LTDA"}),
    ("mario", {"Mário Souza"}),
    ("souza", {"Maria Aparecida Souza", "JOÃO SOUZA LTDA", "Mário Souza"}),
    ("maria.ap@", {"Maria Aparecida Souza"}),
    ("ninguém assim", set()),
])
def test_names_by_words_any_case_and_accents(people, q, expected):
    assert _found(q) == expected


@pytest.mark.parametrize("q", [
    "(11) 98765-4321", "11987654321", "98765-4321", "987654321", "+55 11 98765-4321", "011 98765-4321",
    "11 98765 4321",
])
def test_phone_typed_any_way(people, q):
    assert _found(q) == {"Maria Aparecida Souza"}


def test_documents_still_found(people):
    assert _found("12.abc.345/01de-35") == {"JOÃO SOUZA LTDA"}
    assert _found(people["jose"].document) == {"José da Conceição"}
    assert _found(people["jose"].document[:6]) >= {"José da Conceição"}


def test_page_api_cli_contracts_and_titulos_use_the_same_search(people, role_user, make_contract):
    from tests.cli.helpers import ok

    maria = people["maria"]
    contract = make_contract(customer=maria)
    make_contract(customer=people["mario"])
    client = Client()
    client.force_login(role_user("busca-admin", "administrador"))

    page = client.get("/clientes/", {"q": "SOUZA maria"}).content.decode()
    assert "Maria Aparecida Souza" in page and "Mário Souza" not in page
    picker = client.get("/clientes/lupa/", {"q": "98765-4321"}).content.decode()
    assert "Maria Aparecida Souza" in picker and "Mário Souza" not in picker
    api = client.get("/api/customers", {"q": "maria souza"}).json()
    assert [c["id"] for c in api["items"]] == [maria.pk]
    api = client.get("/api/customers", {"q": "(11) 98765-4321"}).json()
    assert [c["id"] for c in api["items"]] == [maria.pk]
    contracts = client.get("/contratos/", {"q": "maria souza"}).content.decode()
    assert f'/contratos/{contract.pk}/"' in contracts and "Mário Souza" not in contracts
    contracts = client.get("/contratos/", {"q": "11987654321"}).content.decode()
    assert f'/contratos/{contract.pk}/"' in contracts

    data = ok("customer", "list", "--q", "maria souza", "--json").json
    assert [c["id"] for c in data] == [maria.pk]
    data = ok("customer", "list", "--q", "98765-4321", "--json").json
    assert [c["id"] for c in data] == [maria.pk]


def test_postgresql_serves_the_search_from_trigram_indexes(people):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's indexes; SQLite scans")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'customers_customer'")
        names = {row[0] for row in cursor.fetchall()}
        # a 4-row table: ask whether a bitmap scan of an index can serve it at all
        cursor.execute("SET enable_seqscan = off; SET enable_indexscan = off")
        try:
            plan = selectors.customer_search(q="maria souza").explain()
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_indexscan")
    assert {"customers_customer_name_fold_trgm", "customers_customer_mobile_trgm"} <= names
    assert "customers_customer_name_fold_trgm" in plan
