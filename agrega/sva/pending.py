"""The worker's queue of pending SVA users (``SvaPendingWork``), kept in step with
``SvaUser.version > synced_version``.

Three writers, one rule each:

* ``mark`` (bumps, creation, deletion, "sincronizar agora", reconciliation): the user's
  row is updated first, then its queue row upserted due now — or kept at its earlier
  due time, so a user changed twice keeps its place in line.
* ``settle`` (the worker, after writing outcomes back): drops the rows of users no
  longer pending, and moves those waiting for a retry to their retry time. The worker
  holds the lock of every user it settles (its write-back updated them in the same
  transaction), so no bump can slip between its check and its delete.
* ``repair`` (the worker, at start and every few minutes): what any other path left
  behind — rows of users no longer pending, and pending users without a row (data
  loaded with SQL, a restore) — locking the users it drops first, for the same reason.

Ordering matters for concurrency: every writer touches ``sva_svauser`` before this
table, so two transactions meet on the user's row lock and never here first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.utils import timezone

from .models import SvaPendingWork, SvaUser

SQLITE_CHUNK = 500  # ids per statement on SQLite (its limit on bound parameters)


def _tables() -> tuple[str, str]:
    quote = connection.ops.quote_name
    return quote(SvaUser._meta.db_table), quote(SvaPendingWork._meta.db_table)


def _upsert_sql() -> str:
    _, queue = _tables()
    earliest = "LEAST" if connection.vendor == "postgresql" else "MIN"
    return (f"ON CONFLICT (sva_user_id) DO UPDATE SET due_at = {earliest}({queue}.due_at, excluded.due_at)")


def mark(ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Queue the users (already updated by the caller, in this transaction) due now."""
    ids = list(ids)
    if not ids:
        return 0
    stamp = connection.ops.adapt_datetimefield_value(now or timezone.now())
    _, queue = _tables()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"INSERT INTO {queue} (sva_user_id, due_at) SELECT unnest(%s::bigint[]), %s "
                           f"{_upsert_sql()}", [ids, stamp])
        else:
            for start in range(0, len(ids), SQLITE_CHUNK):
                chunk = ids[start:start + SQLITE_CHUNK]
                values = ", ".join(["(%s, %s)"] * len(chunk))
                cursor.execute(f"INSERT INTO {queue} (sva_user_id, due_at) VALUES {values} {_upsert_sql()}",
                               [value for pk in chunk for value in (pk, stamp)])
    return len(ids)


def update_and_mark(ids_sql: str, ids_params: list, set_sql: str, set_params: list, *,
                    now: datetime | None = None) -> int:
    """``UPDATE sva_svauser SET <set_sql> WHERE id IN (<ids_sql>)`` and queue what it
    updated, in one statement on PostgreSQL (two on SQLite)."""
    now = now or timezone.now()
    users, queue = _tables()
    # PostgreSQL: the ids once (an InitPlan), then each user through the primary key; as
    # ``id IN (subquery)`` it planned a hash join reading the whole table per statement.
    where = f"id = ANY(ARRAY({ids_sql}))" if connection.vendor == "postgresql" else f"id IN ({ids_sql})"
    update = f"UPDATE {users} SET {set_sql} WHERE {where} RETURNING id"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            stamp = connection.ops.adapt_datetimefield_value(now)
            cursor.execute(f"WITH bumped AS ({update}) INSERT INTO {queue} (sva_user_id, due_at) "
                           f"SELECT id, %s FROM bumped {_upsert_sql()}", [*set_params, *ids_params, stamp])
            return cursor.rowcount
        cursor.execute(update, [*set_params, *ids_params])
        ids = [row[0] for row in cursor.fetchall()]
    return mark(ids, now=now)


def settle(ids: Iterable[int], *, now: datetime | None = None) -> None:
    """After the worker wrote these users back (it holds their row locks): drop the
    queue rows of those now converged or parked, and move those that wait for a retry
    to their retry time."""
    ids = list(ids)
    if not ids:
        return
    users, queue = _tables()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DELETE FROM {queue} AS q USING {users} AS u WHERE q.sva_user_id = u.id "
                           "AND q.sva_user_id = ANY(%s) AND u.version <= u.synced_version", [ids])
            cursor.execute(f"UPDATE {queue} AS q SET due_at = u.next_attempt_at FROM {users} AS u "
                           "WHERE q.sva_user_id = u.id AND q.sva_user_id = ANY(%s) "
                           "AND u.version > u.synced_version AND u.next_attempt_at IS NOT NULL "
                           "AND q.due_at <> u.next_attempt_at", [ids])
            return
        for start in range(0, len(ids), SQLITE_CHUNK):
            chunk = ids[start:start + SQLITE_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {queue} WHERE sva_user_id IN (SELECT id FROM {users} "
                           f"WHERE id IN ({marks}) AND version <= synced_version)", chunk)
            cursor.execute(f"UPDATE {queue} SET due_at = (SELECT next_attempt_at FROM {users} u "
                           f"WHERE u.id = sva_user_id) WHERE sva_user_id IN (SELECT id FROM {users} "
                           f"WHERE id IN ({marks}) AND version > synced_version AND next_attempt_at IS NOT NULL)",
                           chunk)


def repair(*, now: datetime | None = None) -> tuple[int, int]:
    """Bring the queue in step with the users: queue the pending users it lacks (due
    at their retry time, or when they changed), drop the rows of users not pending.
    Returns (queued, dropped). Reads the whole users table: for the worker's start
    and its occasional pass, not for every loop."""
    stamp = connection.ops.adapt_datetimefield_value(now or timezone.now())
    users, queue = _tables()
    lock = " FOR UPDATE OF u SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {queue} (sva_user_id, due_at) "
            f"SELECT u.id, COALESCE(u.next_attempt_at, u.changed_at, %s) FROM {users} AS u "
            f"WHERE u.version > u.synced_version "
            f"AND NOT EXISTS (SELECT 1 FROM {queue} AS q WHERE q.sva_user_id = u.id) "
            "ON CONFLICT (sva_user_id) DO NOTHING", [stamp])
        queued = cursor.rowcount
        # Lock the users first (skipping those a transaction holds): a bump committed
        # meanwhile is seen on the locked row, and its user kept.
        cursor.execute(
            f"DELETE FROM {queue} WHERE sva_user_id IN (SELECT u.id FROM {users} AS u "
            f"JOIN {queue} AS q ON q.sva_user_id = u.id WHERE u.version <= u.synced_version{lock})")
        dropped = cursor.rowcount
        # rows whose user is gone (deleted with SQL: there is no database constraint)
        cursor.execute(f"DELETE FROM {queue} WHERE NOT EXISTS "
                       f"(SELECT 1 FROM {users} AS u WHERE u.id = {queue}.sva_user_id)")
        dropped += cursor.rowcount
    return queued, dropped
