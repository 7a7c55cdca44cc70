"""The customers app's hand-written SQL: the API's hot reads of the customer list — its
unfiltered keyset pages and the search box (``q``: a CPF/CNPJ or a piece of one, a phone
number, an e-mail, words of the name).

Why SQL and not the ORM: the ORM built and compiled the search's query on every request,
more CPU than PostgreSQL spent answering it (bench/README.md, "api_load"; decision 0009).
The statement is the one the ORM writes for ``selectors.search_match`` — on PostgreSQL
the same expressions (``agrega_fold(name)::text LIKE``, ``UPPER(email::text) LIKE
UPPER(…)``, ``document::text LIKE``), so the trigram indexes of customers 0003/0004 serve
it; on SQLite Django's ``LIKE … ESCAPE '\\'``. Each function here has a test comparing it
with the ORM's answer on SQLite and PostgreSQL (``tests/customers/test_sql.py``).
"""

from __future__ import annotations

from functools import cache

from django.db import connection

from agrega.core.bulk import ModelReader, model_columns, quote
from agrega.core.dbapi import read_cursor

from .models import Customer


@cache
def _reader() -> ModelReader:
    return ModelReader(Customer)


def customer_fields() -> list[str]:
    """The names of the columns ``customer_rows`` answers (every field of the model)."""
    return _reader().names


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards and the escape character escaped, as Django's
    ``contains`` lookups bind it."""
    return "%" + text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


def search_condition(terms: dict[str, str]) -> tuple[str, list]:
    """The WHERE of ``selectors.search_match(**terms)`` (no prefix) and its parameters;
    ``("", [])`` for no terms."""
    postgres = connection.vendor == "postgresql"

    def contains(column: str) -> str:
        return f"{column}::text LIKE %s" if postgres else f"{column} LIKE %s ESCAPE '\\'"

    def icontains(column: str) -> str:
        return f"UPPER({column}::text) LIKE UPPER(%s)" if postgres else f"{column} LIKE %s ESCAPE '\\'"

    def fold_contains(column: str) -> str:
        return f"agrega_fold({column})::text LIKE %s" if postgres else f"agrega_fold({column}) LIKE %s ESCAPE '\\'"

    name, email, document, phone = (f"c.{quote(n)}" for n in ("name", "email", "document", "mobile_phone"))
    parts, params = [], []
    if "q_document_exact" in terms:
        parts.append(f"{document} = %s")
        params.append(terms["q_document_exact"])
    if "q_document" in terms:
        parts.append(contains(document))
        params.append(like_pattern(terms["q_document"]))
    if "q_phone" in terms:
        parts.append(contains(phone))
        params.append(like_pattern(terms["q_phone"]))
    if parts:
        return "(" + " OR ".join(parts) + ")", params
    if "q_email" in terms:
        return icontains(email), [like_pattern(terms["q_email"])]
    words = [value for key, value in sorted(terms.items()) if key.startswith("q_word")]
    for word in words:
        parts.append(f"({fold_contains(name)} OR {icontains(email)})")
        params += [like_pattern(word), like_pattern(word)]
    return " AND ".join(parts), params


def customer_rows(terms: dict[str, str], after: int | None, count: int) -> list[dict]:
    """Up to ``count`` customers with id > ``after`` (all when None) that the search
    ``terms`` (``selectors.search_terms``; empty: every customer) select, by id, as dicts
    of the model's fields: what ``Customer.objects.filter(search_match(**terms))``
    ordered by id answers through ``.values()``."""
    reader = _reader()
    where, params = search_condition(terms)
    sql = (f"SELECT {model_columns(Customer, 'c')} FROM {quote(Customer._meta.db_table)} c "
           f"WHERE {where + ' AND ' if where else ''}c.id > %s ORDER BY c.id LIMIT %s")
    with read_cursor() as cursor:
        cursor.execute(sql, [*params, 0 if after is None else after, count])
        rows = cursor.fetchall()
    return [dict(zip(reader.names, reader.values(row))) for row in rows]
