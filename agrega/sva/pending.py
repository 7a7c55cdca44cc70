"""The worker's queue of pending SVA users (``SvaPendingWork``): a user is pending —
its platform account may differ from what Agrega wants now — exactly while it has a row.

Writers, one rule each:

* ``mark`` / ``mark_matching`` (changes): upsert the row due now. A row already there
  keeps its earlier due time (its place in line) and counts one more change
  (``bumps``). A change of the contract, customer or product only writes this row;
  a change of the user itself (creation, deletion, "sincronizar agora",
  reconciliation) also moves the user's ``version``, before its row.
* ``settle`` (the worker, after writing outcomes back): deletes the row of each user
  converged or parked *if its ``bumps`` is still the one the worker claimed*: a change
  that committed meanwhile changed it, so the user stays queued and is converged again
  from its new state. A user that must retry is due at its retry time (same check).
  A concurrent change and the settle meet on the row's lock; PostgreSQL re-checks the
  settle's condition on the row the change committed.
* ``repair`` (each worker at start and every few minutes): queues users whose
  ``version`` is ahead of their ``synced_version`` without a row (loaded with SQL,
  restored from an old backup) and drops rows whose user is gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from agrega.core.bulk import db_datetime, pg_id_array, quote

from .models import SvaPendingWork, SvaUser

SQLITE_CHUNK = 300  # rows per statement on SQLite (its limit on bound parameters)


def _tables() -> tuple[str, str]:
    return quote(SvaUser._meta.db_table), quote(SvaPendingWork._meta.db_table)


def _insert_sql() -> str:
    return f"INSERT INTO {_tables()[1]} (sva_user_id, due_at, queued_at, bumps)"


def _upsert_sql() -> str:
    _, queue = _tables()
    earliest = "LEAST" if connection.vendor == "postgresql" else "MIN"
    return (f"ON CONFLICT (sva_user_id) DO UPDATE SET due_at = {earliest}({queue}.due_at, excluded.due_at), "
            f"bumps = {queue}.bumps + 1")


def mark(ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Queue these users due now (their own row already written in this transaction)."""
    ids = list(ids)
    if not ids:
        return 0
    stamp = db_datetime(now or timezone.now())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{_insert_sql()} SELECT unnest(%s::bigint[]), %s, %s, 0 "
                           f"{_upsert_sql()}", [ids, stamp, stamp])
            return len(ids)
        for start in range(0, len(ids), SQLITE_CHUNK):
            chunk = ids[start:start + SQLITE_CHUNK]
            values = ", ".join(["(%s, %s, %s, 0)"] * len(chunk))
            cursor.execute(f"{_insert_sql()} VALUES {values} {_upsert_sql()}",
                           [value for pk in chunk for value in (pk, stamp, stamp)])
    return len(ids)


def mark_matching(queryset: QuerySet[SvaUser], *, now: datetime | None = None) -> int:
    """Queue the users of ``queryset`` due now, without writing their rows: their ids
    read in one query, then ``mark`` (one statement on PostgreSQL). Returns how many."""
    return mark(queryset.order_by().values_list("pk", flat=True), now=now)


def mark_contracts(contract_ids: list[int], *, now: datetime | None = None) -> int:
    """``mark_matching`` for the live users of these contracts, in hand-written SQL:
    every contract action runs it, and building the ORM query cost more than running it."""
    if not contract_ids:
        return 0
    stamp = db_datetime(now or timezone.now())
    users, _ = _tables()
    insert = f"{_insert_sql()} SELECT u.id, %s, %s, 0 FROM {users} AS u "
    marked = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{insert} WHERE u.contract_id = ANY(%s::bigint[]) AND u.deleted_at IS NULL "
                           f"{_upsert_sql()}", [stamp, stamp, pg_id_array(contract_ids)])
            return cursor.rowcount
        step = 3 * SQLITE_CHUNK  # one bound parameter per id here
        for start in range(0, len(contract_ids), step):
            chunk = contract_ids[start:start + step]
            cursor.execute(f"{insert} WHERE u.contract_id IN ({', '.join(['%s'] * len(chunk))}) "
                           f"AND u.deleted_at IS NULL {_upsert_sql()}", [stamp, stamp, *chunk])
            marked += cursor.rowcount
    return marked


def settle(claims: Iterable[tuple[int, int]]) -> None:
    """After the worker wrote these users back (``claims``: (user id, ``bumps`` read
    at the claim)): delete the rows of users converged or parked, move those that wait
    for a retry to their retry time — each only if no change came since the claim."""
    claims = [(pk, bumps) for pk, bumps in claims if bumps is not None]
    if not claims:
        return
    users, queue = _tables()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            claimed = "unnest(%s::bigint[], %s::bigint[]) AS c(id, bumps)"
            # as array literals joined in C: psycopg's client-side binding quoted a list
            # element by element in Python (a third of settle's time in a py-spy profile
            # of the worker, settle 13 % of its main thread: bench/README.md)
            params = [pg_id_array(pk for pk, _ in claims), pg_id_array(bumps for _, bumps in claims)]
            cursor.execute(f"DELETE FROM {queue} AS q USING {claimed}, {users} AS u "
                           "WHERE q.sva_user_id = c.id AND q.bumps = c.bumps AND u.id = c.id "
                           "AND u.version <= u.synced_version AND u.next_attempt_at IS NULL", params)
            cursor.execute(f"UPDATE {queue} AS q SET due_at = u.next_attempt_at FROM {claimed}, {users} AS u "
                           "WHERE q.sva_user_id = c.id AND q.bumps = c.bumps AND u.id = c.id "
                           "AND u.next_attempt_at IS NOT NULL AND q.due_at <> u.next_attempt_at", params)
            return
        cursor.executemany(
            f"DELETE FROM {queue} WHERE sva_user_id = %s AND bumps = %s AND EXISTS (SELECT 1 FROM {users} AS u "
            f"WHERE u.id = {queue}.sva_user_id AND u.version <= u.synced_version AND u.next_attempt_at IS NULL)",
            claims)
        cursor.executemany(
            f"UPDATE {queue} SET due_at = (SELECT u.next_attempt_at FROM {users} AS u WHERE u.id = sva_user_id) "
            f"WHERE sva_user_id = %s AND bumps = %s AND EXISTS (SELECT 1 FROM {users} AS u "
            f"WHERE u.id = {queue}.sva_user_id AND u.next_attempt_at IS NOT NULL)", claims)


def repair(*, now: datetime | None = None) -> tuple[int, int]:
    """Queue the users whose ``version`` is ahead of their ``synced_version`` and have
    no row (due at their retry time, or now); drop rows whose user is gone. Returns
    (queued, dropped). Reads the whole users table: for the worker's start and its
    occasional pass, not for every loop."""
    stamp = db_datetime(now or timezone.now())
    users, queue = _tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"{_insert_sql()} "
            f"SELECT u.id, COALESCE(u.next_attempt_at, %s), COALESCE(u.changed_at, %s), 0 FROM {users} AS u "
            f"WHERE u.version > u.synced_version "
            f"AND NOT EXISTS (SELECT 1 FROM {queue} AS q WHERE q.sva_user_id = u.id) "
            "ON CONFLICT (sva_user_id) DO NOTHING", [stamp, stamp])
        queued = cursor.rowcount
        # rows whose user is gone (deleted with SQL: there is no database constraint)
        cursor.execute(f"DELETE FROM {queue} WHERE NOT EXISTS "
                       f"(SELECT 1 FROM {users} AS u WHERE u.id = {queue}.sva_user_id)")
        dropped = cursor.rowcount
    return queued, dropped
