"""The billing app's hand-written SQL, in one place.

Why SQL: the billing run reads a million contracts and their products in chunks; on
PostgreSQL the rows come in binary through a server-side binding cursor, which psycopg
parses in C (parsing timestamps from text cost the run more CPU than the queries).
It also asks which of up to a million contracts already have a
título of the period; on PostgreSQL the ids go as one array parameter bound in binary
(a server-side binding cursor), which the ORM's ``pk__in`` (one parameter per id)
cannot do. Compared with the ORM's answer on SQLite and PostgreSQL in
``tests/billing/test_sql.py``. (Lowering ``Contract.oldest_open_due`` is the contracts
app's write: ``contracts.services.contracts_lower_open_due``.)

The billing run's chunk (``bill_chunk``): on PostgreSQL the títulos, lines and credit
entries of 5,000 contracts are computed and written by one statement, instead of read
into Python, computed there and COPYed back; compared with the Python rows
(``services._bill_chunk_rows``, which SQLite uses) in the same test module.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Exists, OuterRef, Q

from agrega.contracts.choices import ContractStatus
from agrega.contracts.models import Contract, ContractProduct
from agrega.core.bulk import quote
from agrega.core.dbapi import server_cursor

from .models import Invoice


def contracts_billed(ids: Sequence[int]) -> set[int]:
    """Those of the contracts ``ids`` that have at least one título (the billing run
    asks it for the contracts whose due date comes soon, ~20 % of a run). On PostgreSQL
    the ids go as one array bound in binary: the ORM's ``pk__in`` compiles and binds one
    parameter per id, which cost the run more than the query."""
    if not ids:
        return set()
    if connection.vendor == "postgresql":
        invoices = quote(Invoice._meta.db_table)
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


# ---------------------------------------------------------------- the billing run's chunk

def contracts_to_bill_orm(period, after: int, activated_before):
    """``contracts_to_bill`` as the ORM's queryset (SQLite; the reference of the test)."""
    from agrega.contracts.choices import ContractStatus

    already = Invoice.objects.filter(contract=OuterRef("pk"), period=period)
    return (Contract.objects.filter(status=ContractStatus.ACTIVE, pk__gt=after, activated_at__lt=activated_before)
            .filter(~Exists(already)).order_by("pk")
            .values_list("pk", "customer_id", "billing_day", "activated_at"))


def contracts_to_bill(*, period, after: int, activated_before, limit: int) -> list[tuple]:
    """The next ``limit`` contracts (id above ``after``) the run bills for ``period``:
    active, activated before ``activated_before``, with no título of the period — as
    ``(id, customer id, billing day, activated at)``, by id. What the ORM's queryset
    ``contracts_to_bill_orm`` reads (tests/billing/test_sql.py).

    On PostgreSQL each contract reads the periods of its títulos from the unique
    ``(contract, period)`` index (an ``ARRAY`` subquery: always a per-row probe, and by
    the contract alone, so no other index can serve it). Written as ``NOT EXISTS (…
    period = …)`` the planner went through the ``(period, status)`` index instead — as an
    anti-join it read and sorted every título of the period already written, once per
    chunk, quadratic in the run (21 of the 58 s of PostgreSQL CPU at 1,000,000
    contracts, bench/README.md); as a per-row ``EXISTS`` with the period's statistics
    still empty, it scanned them once per contract."""
    from agrega.contracts.choices import ContractStatus

    if connection.vendor != "postgresql":
        return list(contracts_to_bill_orm(period, after, activated_before)[:limit])
    with server_cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.customer_id, c.billing_day, c.activated_at FROM {quote(Contract._meta.db_table)} AS c "
            f"WHERE c.status = %(active)s AND c.id > %(after)s AND c.activated_at < %(before)s "
            f"AND NOT %(period)s::date = ANY(ARRAY(SELECT u.period FROM {quote(Invoice._meta.db_table)} AS u "
            f"WHERE u.contract_id = c.id)) "
            f"ORDER BY c.id LIMIT %(limit)s",
            {"active": ContractStatus.ACTIVE.value, "after": after, "before": activated_before, "period": period,
             "limit": limit}, binary=True)
        return cursor.fetchall()


# One statement per chunk (PostgreSQL): the títulos, their lines and the credit taken off,
# computed and written by the database from the contracts' rows. Python formatted every
# row for COPY and ran the per-contract loop: half the run's CPU (bench/README.md,
# "billing_run", fourth cuts). The rules are ``services._bill_chunk_rows``'s, line by line:
#  - a product is billed from the later of (period start, activation, added) to the
#    earlier of (next period, removal), local dates; a whole month is exactly the price,
#    a part is price × days ÷ days, half up to the cent, named "(proporcional d/t dias)";
#  - the credit balance (if positive) is taken off, never below zero; nothing left to
#    pay makes the título paid on the day it is issued;
#  - due on the contract's billing day (``%(dues)s``, indexed by it), or at the earliest
#    ``%(earliest)s`` for a contract's first título (with ``%(first_only)s``) or for every
#    título (a catch-up run, issued after its period ended).
_BILL_CHUNK = """
WITH c AS (
    SELECT c.id, c.customer_id, c.billing_day, c.activated_at
    FROM {contracts} AS c WHERE c.id = ANY(%(ids)s::bigint[])
),
billed AS (  -- of those due before the earliest date, the contracts billed before (one index probe each)
    SELECT c.id FROM c
    WHERE %(first_only)s AND (%(dues)s::date[])[c.billing_day] < %(earliest)s::date
      AND EXISTS (SELECT 1 FROM {invoices} AS e WHERE e.contract_id = c.id LIMIT 1)
),
item AS (
    SELECT cp.contract_id, cp.id AS cp_id, cp.product_id, left(pr.name, 250) AS name, pr.fiscal_class,
           coalesce(cp.price, pr.price) AS unit,
           CASE WHEN (c.activated_at IS NULL OR c.activated_at < %(second_day)s) AND cp.added_at < %(second_day)s
                     AND (cp.removed_at IS NULL OR cp.removed_at >= %(ends)s) THEN %(total)s::int
                ELSE greatest(least(%(next)s::date,
                                    coalesce((cp.removed_at AT TIME ZONE %(tz)s)::date, %(next)s::date))
                              - greatest(%(period)s::date, (c.activated_at AT TIME ZONE %(tz)s)::date,
                                         (cp.added_at AT TIME ZONE %(tz)s)::date), 0) END AS days
    FROM c JOIN {contract_products} AS cp ON cp.contract_id = c.id
    JOIN {products} AS pr ON pr.id = cp.product_id
    WHERE cp.contract_id BETWEEN %(first)s AND %(last)s  -- one range of the index, not from its start
      AND cp.added_at < %(ends)s AND (cp.removed_at IS NULL OR cp.removed_at >= %(begins)s)
),
line AS (
    SELECT contract_id, cp_id, product_id, fiscal_class, unit, least(days, %(total)s::int) AS days,
           CASE WHEN days >= %(total)s::int THEN name
                ELSE left(name || ' (proporcional ' || days || '/' || %(total)s::int || ' dias)', 250) END
               AS description,
           CASE WHEN days >= %(total)s::int THEN unit ELSE round(unit * days / %(total)s::int, 2) END AS amount
    FROM item WHERE days > 0
),
gross AS (
    SELECT contract_id, sum(amount) AS gross FROM line GROUP BY contract_id
),
credit AS (
    SELECT contract_id, sum(amount) AS balance FROM {credits}
    WHERE contract_id BETWEEN %(first)s AND %(last)s AND contract_id = ANY(%(ids)s::bigint[])
    GROUP BY contract_id HAVING sum(amount) > 0
),
draft AS (
    SELECT c.id AS contract_id, c.customer_id, g.gross, least(coalesce(cr.balance, 0), g.gross) AS credit,
           CASE WHEN (%(dues)s::date[])[c.billing_day] < %(earliest)s::date AND b.id IS NULL
                THEN %(earliest)s::date ELSE (%(dues)s::date[])[c.billing_day] END AS due
    FROM c JOIN gross AS g ON g.contract_id = c.id LEFT JOIN credit AS cr ON cr.contract_id = c.id
    LEFT JOIN billed AS b ON b.id = c.id
),
new AS (
    INSERT INTO {invoices} (contract_id, customer_id, period, issued_on, due_date, amount, credit_applied,
                            paid_amount, status, paid_at, cancel_reason, billing_run_id, created_at)
    SELECT contract_id, customer_id, %(period)s::date, %(today)s::date, due, gross - credit, credit, 0,
           CASE WHEN gross - credit > 0 THEN %(open)s ELSE %(paid)s END,
           CASE WHEN gross - credit > 0 THEN NULL ELSE %(today)s::date END, '', %(run)s::bigint, %(now)s
    FROM draft ORDER BY contract_id
    {on_conflict}
    RETURNING id, contract_id, due_date, status, amount, credit_applied
),
new_line AS (
    INSERT INTO {lines} (invoice_id, contract_product_id, product_id, description, fiscal_class, unit_price,
                         days, days_in_period, amount)
    SELECT new.id, line.cp_id, line.product_id, line.description, line.fiscal_class, line.unit, line.days,
           %(total)s::int, line.amount
    FROM new JOIN line ON line.contract_id = new.contract_id ORDER BY new.id, line.cp_id
    RETURNING 1
),
new_credit AS (
    INSERT INTO {credits} (contract_id, amount, invoice_id, description, created_at)
    SELECT contract_id, -credit_applied, id, %(credit_description)s, %(now)s
    FROM new WHERE credit_applied > 0 ORDER BY id
)
SELECT id, contract_id, due_date, status = %(open)s, amount, (SELECT count(*) FROM new_line)
FROM new ORDER BY id
"""


def bill_chunk(*, ids: Sequence[int], period, today, now, run_id: int, total_days: int, next_period,
               begins, second_day, ends, zone: str, dues: list, earliest, first_only: bool,
               open_status: str, paid_status: str, credit_description: str,
               on_conflict: bool = False) -> tuple[list[tuple], int]:
    """PostgreSQL only: bill the contracts ``ids`` (one chunk of the run) in one statement.
    Returns the títulos created — (id, contract id, due date, open?, amount), by id — and
    the number of lines written. ``on_conflict``: skip a contract another run has just
    billed (``ON CONFLICT DO NOTHING``) instead of failing on it. What
    ``services._bill_chunk_rows`` and ``core.bulk`` write for the same chunk
    (tests/billing/test_sql.py)."""
    from agrega.contracts.models import ContractProduct
    from agrega.catalog.models import Product
    from agrega.core.bulk import pg_id_array

    from .models import CreditEntry, InvoiceLine

    statement = _BILL_CHUNK.format(
        contracts=quote(Contract._meta.db_table), contract_products=quote(ContractProduct._meta.db_table),
        products=quote(Product._meta.db_table), credits=quote(CreditEntry._meta.db_table),
        invoices=quote(Invoice._meta.db_table), lines=quote(InvoiceLine._meta.db_table),
        on_conflict="ON CONFLICT (contract_id, period) DO NOTHING" if on_conflict else "")
    params = {"ids": pg_id_array(ids), "first": min(ids), "last": max(ids), "period": period, "today": today, "now": now, "run": run_id,
              "total": total_days, "next": next_period, "begins": begins, "second_day": second_day, "ends": ends,
              "tz": zone, "dues": dues, "earliest": earliest, "first_only": first_only,
              "open": open_status, "paid": paid_status, "credit_description": credit_description}
    with server_cursor() as cursor:
        # no JIT for the chunk's transaction: the plan's cost is above jit_above_cost, and
        # compiling it took ~0.18 s of the backend's CPU per chunk of 5,000, more than a
        # third of the statement (EXPLAIN ANALYZE)
        cursor.execute("SELECT set_config('jit', 'off', true)")
        cursor.execute(statement, params, binary=True)
        rows = cursor.fetchall()
    if not rows:
        return [], 0
    return [row[:5] for row in rows], rows[0][5]


def _in_ids(ids: Sequence[int]) -> bool:
    """Whether the chunk's contracts (ids ascending) are looked up by id rather than by
    their id range: the range when they are most of it (two parameters instead of
    thousands), else the ids (a re-run that bills a few late contracts spread over the
    whole table)."""
    return not (len(ids) > 1 and ids[-1] - ids[0] < 2 * len(ids))


def chunk_condition(ids: Sequence[int]) -> Q:
    """The chunk's contracts (ids ascending) as an ORM condition on ``contract_id``."""
    if _in_ids(ids):
        return Q(contract_id__in=ids)
    return Q(contract_id__gte=ids[0], contract_id__lte=ids[-1])


def contract_items(ids: Sequence[int], *, period_begins, period_ends) -> list[tuple]:
    """The products of the contracts ``ids`` (ascending; a contract of their id range
    that is not one of them may come too) added before ``period_ends`` and not removed
    before ``period_begins``, by id. Rows: ``(contract_id, id, product_id, price,
    added_at, removed_at)``."""
    if not ids:
        return []
    if connection.vendor != "postgresql":
        return list(ContractProduct.objects.filter(chunk_condition(ids), added_at__lt=period_ends)
                    .exclude(removed_at__lt=period_begins).order_by("id")
                    .values_list("contract_id", "id", "product_id", "price", "added_at", "removed_at"))
    if _in_ids(ids):
        which, params = "cp.contract_id = ANY(%s::bigint[])", [list(ids)]
    else:
        which, params = "cp.contract_id >= %s AND cp.contract_id <= %s", [ids[0], ids[-1]]
    items = quote(ContractProduct._meta.db_table)
    with server_cursor() as cursor:
        cursor.execute(f"SELECT cp.contract_id, cp.id, cp.product_id, cp.price, cp.added_at, cp.removed_at "
                       f"FROM {items} AS cp WHERE {which} AND cp.added_at < %s "
                       "AND (cp.removed_at IS NULL OR cp.removed_at >= %s) ORDER BY cp.id",
                       [*params, period_ends, period_begins], binary=True)
        return cursor.fetchall()
