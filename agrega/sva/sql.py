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

from django.db import connection, transaction

from agrega.core.bulk import server_cursor

from .choices import SvaState
from .models import SvaCall, SvaUser


def claim(queryset, *, lease, worker_id: str) -> list[int]:
    """Lease the users ``queryset`` selects (``.values("id")``, limited and ordered; on
    PostgreSQL with ``select_for_update(skip_locked=True)``, so workers never wait for
    each other) to ``worker_id`` until ``lease``, in one statement (one round-trip, in
    autocommit); returns their ids.

    A row still holding an (expired) lease was never written back: its worker died or
    lost its database connection after calls the platform may have applied. What it
    last recorded is then not to be trusted: its state becomes unknown, so that the
    engine looks the user up first. Trusted, a block applied by a killed worker and then
    released by an operator was never undone (found by tests/faults).

    Why ``queryset.query.sql_with_params()`` (an undocumented method of Django's
    ``Query``) and not explicit SQL: the selection is the worker's, built with the ORM
    (``SvaWorker._claimable``: due in the queue, lease free or expired, integration
    active, circuit closed; ordered by the queue's index; ``FOR UPDATE OF self SKIP
    LOCKED`` where the database has it), and the UPDATE must wrap exactly that selection
    in one statement with ``RETURNING``, which the ORM's ``update()`` cannot give (it
    returns a count, so the ids would cost a second read, and the lease would no longer be
    taken in the same statement as the lock). Writing the selection again here in SQL
    would make two definitions of "claimable" to keep in step, on two databases; this
    method has kept its signature since Django 1.x and is what ``str(queryset.query)``
    itself calls. ``tests/sva/test_sql.py`` compares the claim with the queryset's own
    answer on SQLite and PostgreSQL, so a change in Django shows there first. The same
    reasoning holds for ``sva.pending.mark_matching``."""
    with transaction.atomic():  # Django compiles FOR UPDATE only inside a transaction
        subquery, params = queryset.query.sql_with_params()
    table = connection.ops.quote_name(SvaUser._meta.db_table)
    sql = (f"UPDATE {table} SET claimed_until = %s, claimed_by = %s, confirmed_state = "
           f"CASE WHEN claimed_until IS NULL THEN confirmed_state ELSE %s END "
           f"WHERE id IN (SELECT id FROM ({subquery}) AS claim) RETURNING id")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(lease), worker_id,
                             SvaState.UNKNOWN.value, *params])
        return [row[0] for row in cursor.fetchall()]


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
    table = connection.ops.quote_name(SvaUser._meta.db_table)
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
    # one array (unnest): psycopg parses it once and caches it, and sends the values
    # in binary. A VALUES list of hundreds of placeholders is re-parsed every time.
    table = connection.ops.quote_name(SvaUser._meta.db_table)
    names = [c for c, _ in CONVERGED_COLUMNS]
    arrays = ", ".join(f"%s::{t}[]" for _, t in CONVERGED_COLUMNS)
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
    ``CALL_COLUMNS``; request and response as Python objects)."""
    if not calls:
        return
    table = connection.ops.quote_name(SvaCall._meta.db_table)
    columns = ", ".join(c for c, _ in CALL_COLUMNS)
    rows = [(*c[:7], json.dumps(c[7]), json.dumps(c[8]), *c[9:]) for c in calls]
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{'text' if t == 'jsonb' else t}[]" for _, t in CALL_COLUMNS)
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
    connection.ensure_connection()
    raw = connection.connection
    if getattr(raw, "_agrega_tuned", False):
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    raw._agrega_tuned = True
