"""customers.sql against the ORM: the customer list's pages and the search box's rule
(``selectors.search_match``) answer the same customers, with the same values, on SQLite
and on PostgreSQL (``DATABASE_URL``): words in any order, case and accents, LIKE's
wildcards typed as text, e-mails, CPF/CNPJ whole or in pieces, phones, edge cursors."""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

import pytest

from agrega.customers import selectors, sql
from agrega.customers.models import Customer

pytestmark = pytest.mark.django_db

QUERIES = [
    None, "", "   ", "maria", "MARIA", "conceição", "conceicao", "souza maria", "maria  souza  aparecida",
    "josé", "ÁVILA", "d'ávila", 'o "nena"', "100%", "%", "_", "a_b", "\\", "100%_\\", "ninguém",
    "@example", "SOUZA@EXAMPLE", "a_b@", "maria.souza@example.com.br", "52998224725", "529.982.247-25",
    "529.982", "98224", "11.222.333/0001-81", "(11) 98765-4321", "+55 11 98765-4321", "98765-4321",
    "um dois tres quatro cinco seis sete", "ñandú", "lima 100%",
]


@pytest.fixture
def people(make_customer):
    made = [
        make_customer(name="Maria Aparecida Conceição Souza", email="maria.souza@example.com.br",
                      document="52998224725", mobile_phone="(11) 98765-4321"),
        make_customer(name="José d'Ávila", email="jose@exemplo.com"),
        make_customer(name='Ana "Nena" 100%_\\ Lima', email="a_b@example.com.br"),
        make_customer(name="ÑANDÚ Comércio Ltda", document="11222333000181", email=""),
        make_customer(name="maria", email="MARIA@EXAMPLE.COM"),
        make_customer(name="Um Dois Tres Quatro Cinco Seis", email="seis@x.com"),
    ]
    Customer.objects.filter(pk=made[3].pk).update(mobile_phone="", street="", anonymized_at=datetime(
        2026, 12, 1, 10, 0, 0, 123456, tzinfo=dt_timezone.utc))
    return [c.pk for c in made]


def plain(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def orm_rows(q, after, count) -> list[dict]:
    match = selectors.customer_match(q)
    queryset = Customer.objects.all() if match is None else Customer.objects.filter(match)
    if after is not None:
        queryset = queryset.filter(pk__gt=after)
    return [plain(row) for row in queryset.order_by("id").values(*sql.customer_fields())[:count]]


def test_customer_rows_answer_what_the_orm_answers(people):
    edges = [None, 0, people[0] - 1, people[0], people[2], people[-1], people[-1] + 1, 2**63 - 1]
    found_any = set()
    for q in QUERIES:
        for after in edges:
            for count in (1, 2, 51):
                got = [plain(row) for row in sql.customer_rows(selectors.search_terms(q), after, count)]
                assert got == orm_rows(q, after, count), (q, after, count)
                found_any |= {row["id"] for row in got}
    assert found_any == set(people)
    # the rule, not only agreement: accents and case folded, wildcards taken as text
    ids = lambda q: [r["id"] for r in sql.customer_rows(selectors.search_terms(q), None, 51)]  # noqa: E731
    assert ids("conceicao") == [people[0]]
    assert ids("100%") == [people[2]] and ids("_") == [people[2]]
    assert ids("ñandú") == [people[3]] and ids("ninguém") == []
    assert ids("souza maria") == [people[0]]


def test_customer_rows_of_no_customers_is_empty():
    assert sql.customer_rows({}, None, 51) == [] == orm_rows(None, None, 51)
    assert sql.customer_rows(selectors.search_terms("maria"), None, 51) == []


def test_like_pattern_escapes_as_the_orm_does():
    assert sql.like_pattern("a_b%c\\d") == "%a\\_b\\%c\\\\d%"
