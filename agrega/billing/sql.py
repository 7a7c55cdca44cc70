"""The billing app's hand-written SQL, in one place.

Why SQL: the billing run lowers ``Contract.oldest_open_due`` for up to a million
contracts; on PostgreSQL the ids go as one array parameter bound in binary (a
server-side binding cursor), which the ORM's ``pk__in`` (one parameter per id) cannot
do. Compared with the ORM's answer on SQLite and PostgreSQL in
``tests/billing/test_sql.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db import connection

from django.db.models import Exists, OuterRef

from agrega.contracts.models import Contract
from agrega.core.bulk import server_cursor

from .models import Invoice


def lower_open_due(due: date, ids: Sequence[int]) -> None:
    """``oldest_open_due = min(oldest_open_due, due)`` for the contracts ``ids``; those
    that already owe something older are not written at all (no new row version). Under
    READ COMMITTED the WHERE is re-checked on the row a concurrent payment just
    committed, so a payment is never undone."""
    if not ids:
        return
    table = connection.ops.quote_name(Contract._meta.db_table)
    if connection.vendor == "postgresql":  # the ids bound as one array, in binary
        with server_cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET oldest_open_due = %s WHERE id = ANY(%s) "
                           f"AND (oldest_open_due IS NULL OR oldest_open_due > %s)", [due, list(ids), due])
        return
    day = connection.ops.adapt_datefield_value(due)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 10000):
            chunk = list(ids[start:start + 10000])
            cursor.execute(f"UPDATE {table} SET oldest_open_due = %s WHERE id IN ({', '.join(['%s'] * len(chunk))}) "
                           f"AND (oldest_open_due IS NULL OR oldest_open_due > %s)", [day, *chunk, day])


def contracts_billed(ids: Sequence[int]) -> set[int]:
    """Those of the contracts ``ids`` that have at least one título (the billing run
    asks it for the contracts whose due date comes soon, ~20 % of a run). On PostgreSQL
    the ids go as one array bound in binary: the ORM's ``pk__in`` compiles and binds one
    parameter per id, which cost the run more than the query."""
    if not ids:
        return set()
    if connection.vendor == "postgresql":
        invoices = connection.ops.quote_name(Invoice._meta.db_table)
        with server_cursor() as cursor:
            cursor.execute(f"SELECT c.id FROM unnest(%s::bigint[]) AS c(id) WHERE EXISTS "
                           f"(SELECT 1 FROM {invoices} AS i WHERE i.contract_id = c.id)", [list(ids)], binary=True)
            return {row[0] for row in cursor.fetchall()}
    billed = set()
    for start in range(0, len(ids), 10000):
        billed.update(Contract.objects.filter(pk__in=ids[start:start + 10000])
                      .filter(Exists(Invoice.objects.filter(contract=OuterRef("pk"))))
                      .values_list("pk", flat=True))
    return billed
