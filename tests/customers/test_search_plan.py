"""customers 0006 on PostgreSQL: what the planner is told about the search's expressions.

At 100,000 customers a rare name fragment ("sintético 3288") was estimated at "under 1 %"
of the table, so the search walked the primary key folding every name (0.4–0.6 s) instead
of using the trigram index (2 ms): bench/README.md, "customer_search", "Rare name fragments
walked the primary key". The estimate that misled it depends on which names ANALYZE's sample
put in the histogram, so it cannot be reproduced at will on a small table: these tests hold
the two settings the migration gives the planner, and that its estimates stay sane with them."""

from __future__ import annotations

import json

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

CUSTOMERS = 5000


def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")


def _fill(count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO customers_customer (name, person_type, document, email, mobile_phone, street, number,
                   district, city, state, zip_code, created_at, updated_at, ibge_code, ie, ind_ie_dest)
               SELECT 'Cliente Sintético ' || n, 'F', lpad(n::text, 11, '0'), 'cliente' || n || '@bench.example.com',
                      '', '', '', '', '', '', '', now(), now(), '', '', ''
                 FROM generate_series(1, %s) AS n""", [count])
        cursor.execute("ANALYZE customers_customer")


def _estimated_rows(where: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT c.id FROM customers_customer c WHERE {where}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]["Plan Rows"]


def test_with_more_statistics_a_rare_fragment_is_rare_and_a_common_word_common():
    """'%3721%' matches 1 name in 5,000 here (3721), '%sintetico%' every one: the planner's
    estimates with the migration's 1,000 histogram entries say so."""
    _postgres_only()
    _fill(CUSTOMERS)
    rare = _estimated_rows("agrega_fold(c.name)::text LIKE '%3721%'")
    rare_email = _estimated_rows("UPPER(c.email::text) LIKE UPPER('%3721%')")
    everyone = _estimated_rows("agrega_fold(c.name)::text LIKE '%sintetico%'")
    assert rare <= CUSTOMERS * 0.002, rare
    assert rare_email <= CUSTOMERS * 0.002, rare_email
    assert everyone >= CUSTOMERS * 0.9, everyone  # and a common word is still common


def test_folding_a_name_is_priced_as_a_dictionary_lookup():
    _postgres_only()
    with connection.cursor() as cursor:
        cursor.execute("SELECT procost FROM pg_proc WHERE proname = 'agrega_fold'")
        assert [row[0] for row in cursor.fetchall()] == [1000]
        cursor.execute("""SELECT c.relname, a.attstattarget FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                          WHERE c.relname IN ('customers_customer_name_fold_trgm', 'customers_customer_email_trgm')
                            AND a.attnum = 1 ORDER BY c.relname""")
        assert cursor.fetchall() == [("customers_customer_email_trgm", 1000), ("customers_customer_name_fold_trgm", 1000)]
