"""The PIX app's hand-written SQL: the webhook's record of a callback and the batch
write of the cobv answers. Each function is compared with the ORM's answer on SQLite
and PostgreSQL in ``tests/pix/test_sql.py``.

Why SQL: the PSP waits for the webhook's answer, so recording a callback is one
statement (the account found by its secret inside it, the upsert of every Pix it names
and, on PostgreSQL, the ``NOTIFY`` that wakes the consumer) — one round trip; and the
cobv sync writes hundreds of PUT answers per batch, where an ORM ``CASE`` over the batch
cost more CPU than the PUTs themselves (bench/README.md, pix_cobv)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from agrega.core.bulk import db_datetime, quote
from agrega.core.dbapi import raw_connection

from .models import PixAccount, PixCharge, PixNotification


def record_notifications(*, secret: str, e2eids: Sequence[str], now=None, channel: str = "") -> int:
    """Record that a callback to the webhook URL of ``secret`` named these Pix: one
    ``PixNotification`` each, due now; a row already there counts one more delivery,
    has its attempts reset and becomes due again if it was done (a due row keeps its due
    time). **One statement** in autocommit; on PostgreSQL it also sends
    ``NOTIFY channel`` when ``channel`` is given. Returns the rows written: 0 when no
    active account has this secret."""
    if not e2eids or not secret:
        return 0
    stamp = db_datetime(now or timezone.now())
    table = quote(PixNotification._meta.db_table)
    accounts = quote(PixAccount._meta.db_table)
    named = " UNION ALL ".join(["SELECT %s AS e2eid"] * len(e2eids))
    insert = (f"INSERT INTO {table} (account_id, e2eid, received_at, deliveries, due_at, attempts, outcome, "
              f"last_error) SELECT a.id, n.e2eid, %s, 1, %s, 0, '', '' FROM {accounts} AS a, ({named}) AS n "
              f"WHERE a.webhook_secret = %s AND a.active "
              f"ON CONFLICT (account_id, e2eid) DO UPDATE SET deliveries = {table}.deliveries + 1, "
              f"due_at = COALESCE({table}.due_at, excluded.due_at), attempts = 0")
    params = [stamp, stamp, *e2eids, secret]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and channel:
            cursor.execute(f"WITH written AS ({insert} RETURNING 1) "
                           f"SELECT count(*), pg_notify(%s, '') FROM written", [*params, channel])
            return cursor.fetchone()[0]
        if connection.vendor == "sqlite":
            return _sqlite_write_promptly(cursor, insert, params)
        cursor.execute(insert, params)
        return cursor.rowcount


SQLITE_POLL_SECONDS = 0.002


def _sqlite_write_promptly(cursor, sql: str, params: list) -> int:
    """The statement on SQLite, taking the write lock **as soon as it is free**.

    Why: SQLite's own busy handler (the connection's ``timeout``) sleeps 1, 2, 5, … then
    100 ms between tries, so a writer that has waited a while looks again only every
    100 ms, and the worker's transactions (the inbox consumer's batches, the SVA
    worker's writes), which come back to back, take the lock in between: the PSP's
    callback waited 20 s and more under load, past the PSP's 5 s timeout, and the
    retries made it worse (bench/README.md, payment_to_access). Here the busy timeout is
    a few ms and the statement is tried again every ``SQLITE_POLL_SECONDS``, up to the
    connection's usual timeout; then the usual ``database is locked``. Nothing else
    changes: one statement in autocommit, committed before the view answers."""
    raw = raw_connection()  # sqlite3's own: the PRAGMAs are not statements of the request
    usual_ms = int(float(settings.DATABASES["default"].get("OPTIONS", {}).get("timeout", 5)) * 1000)
    deadline = time.monotonic() + usual_ms / 1000
    raw.execute("PRAGMA busy_timeout = 3")
    try:
        while True:
            try:
                cursor.execute(sql, params)
                return cursor.rowcount
            except (sqlite3.OperationalError, DatabaseError) as exc:  # Django wraps the former
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(SQLITE_POLL_SECONDS)
    finally:
        raw.execute(f"PRAGMA busy_timeout = {usual_ms}")


def write_charges(rows: Sequence[PixCharge], fields: Sequence[str]) -> None:
    """Write ``fields`` of each charge to its row, found by its txid (a row just
    inserted may not know its id): one prepared UPDATE run for every row
    (``executemany``), in one transaction. The values are prepared by each field
    (``Field.get_db_prep_save``), as ``save(update_fields=fields)`` would."""
    if not rows:
        return
    model_fields = [PixCharge._meta.get_field(name) for name in fields]
    sql = (f"UPDATE {quote(PixCharge._meta.db_table)} SET "
           + ", ".join(f"{quote(f.column)} = %s" for f in model_fields) + f" WHERE {quote('txid')} = %s")
    params = [[f.get_db_prep_save(getattr(c, f.attname), connection) for f in model_fields] + [c.txid]
              for c in rows]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, params)
