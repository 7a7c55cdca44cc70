"""The dunning app's hand-written SQL, in one place: which contracts the sweep looks at
(grouped by the state it decides from, or one by one when it reads moved ones again),
and the notices of a group of contracts it just moved.

Why SQL: the sweep reads up to hundreds of thousands of (id, stage, access, due date)
rows per policy; a plain cursor returns them as tuples without building a queryset or
model instances, and the statement reaches them through the open títulos' index
(billing's ``invoice_open_by_due``). Compared with the ORM's answer on SQLite and
PostgreSQL in ``tests/dunning/test_sql.py``. Writes to contracts are not here: they go
through ``contracts.transitions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db import connection

from agrega.billing.models import Invoice, InvoiceStatus
from agrega.contracts.choices import ContractStatus
from agrega.contracts.models import Contract
from agrega.contracts.transitions import Companion
from agrega.core.bulk import db_date, db_datetime, pg_id_array, quote

from .models import DunningNotice


def sweep_candidates(*, policy_id: int, default: bool, first_cutoff: date, below_level: int,
                     ids: Sequence[int] | None = None) -> list[tuple]:
    """The active contracts of the policy (or, for the default policy, of no policy)
    that owe a título due by ``first_cutoff`` (the first stage's day), are below stage
    ``below_level`` and have no trust release: (id, dunning_level, access_status,
    oldest_open_due) sorted by id; only those of ``ids`` when given (the sweep reads
    again the contracts that moved while it wrote). ``oldest_open_due`` may come as an
    ISO string on SQLite."""
    table = quote(Contract._meta.db_table)
    invoices = quote(Invoice._meta.db_table)
    policy_sql = "(dunning_policy_id = %s OR dunning_policy_id IS NULL)" if default else "dunning_policy_id = %s"
    cutoff = db_date(first_cutoff)
    sql = (f"SELECT id, dunning_level, access_status, oldest_open_due FROM {table} "
           f"WHERE status = %s AND oldest_open_due <= %s AND dunning_level < %s "
           f"AND trust_release_until IS NULL AND {policy_sql} "
           f"AND id IN (SELECT contract_id FROM {invoices} WHERE status = %s AND due_date <= %s)")
    params = [ContractStatus.ACTIVE, cutoff, below_level, policy_id, InvoiceStatus.OPEN, cutoff]
    if ids is not None:
        if not ids:
            return []
        if connection.vendor == "postgresql":
            sql += " AND id = ANY(%s::bigint[])"
            params.append(pg_id_array(ids))
        else:
            sql += f" AND id IN ({', '.join(['%s'] * len(ids))})"
            params += list(ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(cursor.fetchall())  # here, not in a sort that spills to disk at 100,000 rows


def sweep_candidate_states(*, policy_id: int, default: bool, first_cutoff: date,
                           below_level: int) -> list[tuple]:
    """The contracts ``sweep_candidates`` names, grouped by the state the sweep decides
    from: (dunning_level, access_status, oldest_open_due, [ids]) — the ids in no order.
    The sweep plans per state (a few hundred at most: stages × access statuses × due
    dates), so its contracts never pass through Python one by one. ``oldest_open_due``
    may come as an ISO string on SQLite."""
    table = quote(Contract._meta.db_table)
    invoices = quote(Invoice._meta.db_table)
    policy_sql = "(dunning_policy_id = %s OR dunning_policy_id IS NULL)" if default else "dunning_policy_id = %s"
    cutoff = db_date(first_cutoff)
    postgres = connection.vendor == "postgresql"
    ids = "array_agg(id)" if postgres else "group_concat(id)"
    sql = (f"SELECT dunning_level, access_status, oldest_open_due, {ids} FROM {table} "
           f"WHERE status = %s AND oldest_open_due <= %s AND dunning_level < %s "
           f"AND trust_release_until IS NULL AND {policy_sql} "
           f"AND id IN (SELECT contract_id FROM {invoices} WHERE status = %s AND due_date <= %s) "
           f"GROUP BY dunning_level, access_status, oldest_open_due")
    params = [ContractStatus.ACTIVE, cutoff, below_level, policy_id, InvoiceStatus.OPEN, cutoff]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if postgres:
        return rows
    return [(level, access, due, [int(pk) for pk in str(ids).split(",")]) for level, access, due, ids in rows]


def insert_notices(ids: Sequence[int], levels: Sequence[int], *, now) -> int:
    """One notice per contract of ``ids`` and level of ``levels``, each naming the
    contract's ``oldest_open_due`` as it is now (the sweep calls this in the transaction
    that moved them), in one ``INSERT … SELECT``: the rows never pass through Python.
    Returns how many were inserted."""
    if not ids or not levels:
        return 0
    table = quote(Contract._meta.db_table)
    notices = quote(DunningNotice._meta.db_table)
    if connection.vendor == "postgresql":
        ids_sql, ids_params = "c.id = ANY(%s::bigint[])", [pg_id_array(ids)]
        level = "%s::smallint"
    else:
        ids_sql, ids_params = f"c.id IN ({', '.join(['%s'] * len(ids))})", list(ids)
        level = "%s"
    # the levels as a UNION ALL (SQLite names no VALUES columns)
    levels_sql = " UNION ALL ".join([f"SELECT {level} AS level"] * len(levels))
    sql = (f"INSERT INTO {notices} (contract_id, level, oldest_due, created_at, send_error) "
           f"SELECT c.id, n.level, c.oldest_open_due, %s, '' FROM {table} AS c "
           f"CROSS JOIN ({levels_sql}) AS n WHERE {ids_sql} ORDER BY n.level, c.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [db_datetime(now), *levels, *ids_params])
        return cursor.rowcount


def notices_companion(levels: Sequence[int], *, now) -> Companion:
    """PostgreSQL: ``insert_notices`` as a companion of the contracts app's group write
    (``contracts.transitions.transition_many(…, returning=("oldest_open_due",),
    companion=…)``): one notice per contract written (the CTE ``w``) and level, in the
    same statement as the write, so a group costs one round trip and no second read of
    its contracts."""
    notices = quote(DunningNotice._meta.db_table)
    levels_sql = ", ".join(["(%s::smallint)"] * len(levels))
    return Companion(
        f"INSERT INTO {notices} (contract_id, level, oldest_due, created_at, send_error) "
        f"SELECT w.id, n.level, w.oldest_open_due, %s, '' FROM w CROSS JOIN (VALUES {levels_sql}) AS n(level) "
        "ORDER BY n.level, w.id",
        [db_datetime(now), *levels])
