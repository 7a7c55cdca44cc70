"""The SVA worker's hand-written SQL, next to the queue it serves (``sva.pending``):
claiming users, writing back those that converged, and their timeline rows.

Why SQL: the worker claims and writes back thousands of users per second in its main
thread, which shares the GIL with its HTTP threads; one statement per batch (on
PostgreSQL with each column bound as one array, in binary, so the statement is parsed
once) costs a fraction of the ORM's per-row work (bench/README.md, "sync_throughput").
Each function is compared with the ORM's answer on SQLite and PostgreSQL in
``tests/sva/test_sql.py``.
"""

from __future__ import annotations

import json

from django.db import connection

from agrega.core.bulk import db_datetime, pg_id_array, quote
from agrega.core.dbapi import raw_connection, server_cursor

from agrega.integrations.models import SvaIntegration

from .choices import SvaState
from .models import SvaCall, SvaPendingWork, SvaUser


def claim(*, now, lease, worker_id: str, limit: int) -> list[int]:
    """Lease to ``worker_id`` until ``lease`` at most ``limit`` users that are claimable
    at ``now``, in one statement (one round-trip, in autocommit); returns their ids.

    Claimable: due in the queue (``SvaPendingWork.due_at <= now``), lease free or
    expired, integration active and its circuit closed; the oldest due first (the
    queue's index on ``(due_at, sva_user_id)``). On PostgreSQL the selection is locked
    ``FOR UPDATE OF u SKIP LOCKED``, so workers never wait for each other; the UPDATE
    wraps exactly that selection and returns the ids (the ORM's ``update()`` returns a
    count: the ids would cost a second read, and the lease would no longer be taken in
    the same statement as the lock). ``tests/sva/test_sql.py`` compares it with the same
    selection written with the ORM, on SQLite and PostgreSQL.

    A row still holding an (expired) lease was never written back: its worker died or
    lost its database connection after calls the platform may have applied. What it
    last recorded is then not to be trusted: its state becomes unknown, so that the
    engine looks the user up first. Trusted, a block applied by a killed worker and then
    released by an operator was never undone (found by tests/faults)."""
    users, queue = quote(SvaUser._meta.db_table), quote(SvaPendingWork._meta.db_table)
    integrations = quote(SvaIntegration._meta.db_table)
    lock = " FOR UPDATE OF u SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = (f"UPDATE {users} SET claimed_until = %s, claimed_by = %s, confirmed_state = "
           f"CASE WHEN claimed_until IS NULL THEN confirmed_state ELSE %s END "
           f"WHERE id IN (SELECT u.id FROM {users} AS u "
           f"JOIN {queue} AS q ON q.sva_user_id = u.id JOIN {integrations} AS i ON i.id = u.integration_id "
           f"WHERE q.due_at <= %s AND (u.claimed_until IS NULL OR u.claimed_until < %s) AND i.active "
           f"AND (i.circuit_open_until IS NULL OR i.circuit_open_until <= %s) "
           f"ORDER BY q.due_at, q.sva_user_id LIMIT %s{lock}) RETURNING id")
    stamp = db_datetime(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [db_datetime(lease), worker_id, SvaState.UNKNOWN.value, stamp, stamp, stamp, limit])
        return [row[0] for row in cursor.fetchall()]


# What the worker reads of each claimed user (``claimed_rows``): its own columns, the
# contract, customer and product as they are now, and its queue row's ``bumps``.
CLAIMED_COLUMNS = (
    ("id", "u.id"), ("version", "u.version"), ("integration_id", "u.integration_id"),
    ("external_id", "u.external_id"), ("use_customer_data", "u.use_customer_data"), ("email", "u.email"),
    ("phone", "u.phone"), ("document", "u.document"), ("deleted_at", "u.deleted_at"),
    ("confirmed_state", "u.confirmed_state"), ("confirmed_package", "u.confirmed_package"),
    ("confirmed_email", "u.confirmed_email"), ("confirmed_phone", "u.confirmed_phone"),
    ("confirmed_document", "u.confirmed_document"), ("confirmed_name", "u.confirmed_name"),
    ("creation_attempted", "u.creation_attempted"), ("remote_id", "u.remote_id"),
    ("registration_problems", "u.registration_problems"), ("contract__status", "c.status"),
    ("contract__access_status", "c.access_status"), ("contract__customer__name", "cu.name"),
    ("contract__customer__email", "cu.email"), ("contract__customer__mobile_phone", "cu.mobile_phone"),
    ("contract__customer__document", "cu.document"), ("contract_product__removed_at", "cp.removed_at"),
    ("contract_product__product__sva_package_code", "p.sva_package_code"), ("pending_work__bumps", "q.bumps"),
)


def _claimed_sql() -> str:
    from agrega.catalog.models import Product
    from agrega.contracts.models import Contract, ContractProduct
    from agrega.customers.models import Customer

    users, queue = quote(SvaUser._meta.db_table), quote(SvaPendingWork._meta.db_table)
    contracts, customers = quote(Contract._meta.db_table), quote(Customer._meta.db_table)
    contract_products, products = quote(ContractProduct._meta.db_table), quote(Product._meta.db_table)
    return (
        f"SELECT {', '.join(column for _, column in CLAIMED_COLUMNS)} FROM {users} AS u "
        f"JOIN {contracts} AS c ON c.id = u.contract_id JOIN {customers} AS cu ON cu.id = c.customer_id "
        f"JOIN {contract_products} AS cp ON cp.id = u.contract_product_id JOIN {products} AS p ON p.id = cp.product_id "
        f"LEFT JOIN {queue} AS q ON q.sva_user_id = u.id "
    )


def claimed_rows(ids: list[int]) -> list[dict]:
    """The claimed users ``ids`` as the worker reads them (``CLAIMED_COLUMNS``' names
    as keys, as ``SvaUser.objects.values(...)`` gives them), in the order of their ids,
    in one statement: the ORM spent more Python compiling the 5-table query and
    converting its rows than the rest of the claim (bench/README.md,
    "sync_throughput"). ``tests/sva/test_sql.py`` compares it with the ORM."""
    if not ids:
        return []
    names = [name for name, _ in CLAIMED_COLUMNS]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{_claimed_sql()}WHERE u.id = ANY(%s::bigint[]) ORDER BY u.id", [pg_id_array(ids)])
            rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        else:
            rows = []
            for start in range(0, len(ids), 300):  # SQLite's limit on bound parameters
                chunk = ids[start:start + 300]
                cursor.execute(f"{_claimed_sql()}WHERE u.id IN ({', '.join(['%s'] * len(chunk))})", chunk)
                rows += [dict(zip(names, row)) for row in cursor.fetchall()]
            rows.sort(key=lambda row: row["id"])
    for row in rows:  # as the model's fields give them (SQLite: 0/1 and JSON text)
        row["use_customer_data"] = bool(row["use_customer_data"])
        row["creation_attempted"] = bool(row["creation_attempted"])
        problems = row["registration_problems"]
        row["registration_problems"] = json.loads(problems) if isinstance(problems, (str, bytes)) else problems
    return rows


# Columns of a converged user's row (``write_converged``), in order, with their
# PostgreSQL types for the arrays.
CONVERGED_COLUMNS = (
    ("confirmed_state", "text"), ("confirmed_package", "text"), ("confirmed_email", "text"),
    ("confirmed_phone", "text"), ("confirmed_document", "text"), ("confirmed_name", "text"),
    ("remote_id", "text"), ("creation_attempted", "boolean"), ("confirmed_at", "timestamptz"),
    ("synced_version", "bigint"), ("last_attempt_at", "timestamptz"), ("last_success_at", "timestamptz"),
    ("id", "bigint"), ("claimed_by", "text"),
)


def _converged_sql() -> str:
    table = quote(SvaUser._meta.db_table)
    return (
        f"UPDATE {table} SET confirmed_state = %s, confirmed_package = %s, confirmed_email = %s, "
        "confirmed_phone = %s, confirmed_document = %s, confirmed_name = %s, remote_id = %s, "
        "creation_attempted = %s, confirmed_at = COALESCE(%s, confirmed_at), synced_version = %s, "
        "failures = 0, next_attempt_at = NULL, last_attempt_at = %s, last_success_at = %s, "
        "last_error_code = '', last_error_message = '', claimed_until = NULL, claimed_by = '' "
        "WHERE id = %s AND claimed_by = %s"
    )


def write_converged(rows: list[tuple]) -> list[int]:
    """Write back users that converged with nothing else to record (rows in the order
    of ``CONVERGED_COLUMNS``; datetimes already adapted for the database): confirmed
    state, synced version, failures cleared, lease released — only where the worker
    (``claimed_by``) still holds the claim. Returns the ids written."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        written = []
        with connection.cursor() as cursor:  # in-process for SQLite: cheap row by row
            sql = _converged_sql()
            for row in rows:
                cursor.execute(sql, row)
                if cursor.rowcount:
                    written.append(row[-2])
        return written
    # PostgreSQL: one statement of constant size for the whole batch, each column as
    # one array (unnest): psycopg parses it once and caches it. The arrays are bound
    # with %b (binary): with %s psycopg dumped them as text, quoting every element
    # through a regular expression in Python — half of the worker's write-back CPU
    # (bench/README.md, "sync_throughput"). A VALUES list of hundreds of placeholders
    # is re-parsed every time.
    table = quote(SvaUser._meta.db_table)
    names = [c for c, _ in CONVERGED_COLUMNS]
    arrays = ", ".join(f"%b::{t}[]" for _, t in CONVERGED_COLUMNS)
    sets = ", ".join(f"{c} = v.{c}" for c in names if c not in ("id", "claimed_by", "confirmed_at"))
    with server_cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS u SET {sets}, confirmed_at = COALESCE(v.confirmed_at, u.confirmed_at), "
            "failures = 0, next_attempt_at = NULL, last_error_code = '', last_error_message = '', "
            "claimed_until = NULL, claimed_by = '' "
            f"FROM unnest({arrays}) AS v({', '.join(names)}) "
            "WHERE u.id = v.id AND u.claimed_by = v.claimed_by RETURNING u.id",
            [list(column) for column in zip(*rows)],
        )
        return [row[0] for row in cursor.fetchall()]


# Columns of a timeline row (``insert_calls``), in order, with their PostgreSQL types.
CALL_COLUMNS = (
    ("sva_user_id", "bigint"), ("created_at", "timestamptz"), ("operation", "text"),
    ("method", "text"), ("path", "text"), ("status_code", "smallint"), ("duration_ms", "float8"),
    ("request", "jsonb"), ("response", "jsonb"), ("error_code", "text"), ("worker", "text"),
)


def insert_calls(calls: list[tuple]) -> None:
    """The timeline rows (``SvaCall``) of a batch in one INSERT (rows in the order of
    ``CALL_COLUMNS``; request and response as Python objects). On PostgreSQL the
    columns travel as binary arrays, as in ``write_converged``."""
    if not calls:
        return
    table = quote(SvaCall._meta.db_table)
    columns = ", ".join(c for c, _ in CALL_COLUMNS)
    rows = [(*c[:7], json.dumps(c[7]), json.dumps(c[8]), *c[9:]) for c in calls]
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{'text' if t == 'jsonb' else t}[]" for _, t in CALL_COLUMNS)
        select = ", ".join(f"{c}::jsonb" if t == "jsonb" else c for c, t in CALL_COLUMNS)
        with server_cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {select} FROM unnest({arrays}) AS v({columns})",
                           [list(column) for column in zip(*rows)])
        return
    placeholder = "(" + ", ".join(["%s"] * len(CALL_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES {placeholder}", rows)


def tune_session() -> None:
    """The worker's own bookkeeping need not wait for the WAL flush at each commit: a
    confirmation lost in a crash is redone (every platform call is safe to repeat).
    PostgreSQL only; once per connection."""
    if connection.vendor != "postgresql":
        return
    raw = raw_connection()
    if getattr(raw, "_agrega_tuned", False):
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    raw._agrega_tuned = True
