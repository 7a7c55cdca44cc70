"""Set-based inserts for the jobs that write hundreds of thousands of rows (billing run,
imports): one statement per batch, conflicts skipped, the new rows' keys returned.

PostgreSQL takes the rows by COPY (into the table, or into a temporary table and then
``INSERT … SELECT``); SQLite takes a multi-row VALUES. Both use ``ON CONFLICT DO
NOTHING … RETURNING``, so a row that already exists is neither written again nor
returned — which is what makes a re-run create nothing twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import threading
from collections.abc import Sequence

from django.db import IntegrityError, connection, connections, models, transaction

SQLITE_MAX_VARIABLES = 30000


def _sqlite_adapter(field: models.Field):
    if isinstance(field, models.DateTimeField):
        return lambda v: connection.ops.adapt_datetimefield_value(v)
    if isinstance(field, models.DateField):
        return lambda v: v if v is None or isinstance(v, str) else v.isoformat()
    if isinstance(field, models.DecimalField):
        return lambda v: None if v is None else str(v)
    if isinstance(field, models.JSONField):
        return lambda v: field.get_db_prep_value(v, connection)
    return None


def insert_returning(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence],
    *,
    conflict: Sequence[str] | None = None,
    returning: Sequence[str] = ("id",),
) -> list[tuple]:
    """Insert ``rows`` (tuples in the order of ``fields``); return ``returning`` of
    the rows actually inserted (nothing when ``returning`` is empty). With ``conflict``
    (the columns of a unique constraint), rows that collide are skipped silently."""
    if not rows:
        return []
    meta = model._meta
    model_fields = [meta.get_field(name) for name in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in model_fields)
    returning_sql = ""
    if returning:
        returning_sql = " RETURNING " + ", ".join(
            connection.ops.quote_name(meta.get_field(n).column) for n in returning)
    table = connection.ops.quote_name(meta.db_table)
    on_conflict = ""
    if conflict:
        cols = ", ".join(connection.ops.quote_name(meta.get_field(n).column) for n in conflict)
        on_conflict = f" ON CONFLICT ({cols}) DO NOTHING"
    out: list[tuple] = []
    if connection.vendor == "postgresql":
        return _pg_insert(table, columns, model_fields, rows, on_conflict, returning_sql)
    with connection.cursor() as cursor:
        adapters = [_sqlite_adapter(f) for f in model_fields]
        per_batch = max(1, SQLITE_MAX_VARIABLES // len(fields))
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(rows), per_batch):
            batch = rows[start:start + per_batch]
            params: list = []
            for row in batch:
                params.extend(a(v) if a else v for a, v in zip(adapters, row))
            sql = (f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(batch))}"
                   f"{on_conflict}{returning_sql}")
            cursor.execute(sql, params)
            if returning:
                out.extend(cursor.fetchall())
    return out


def insert_new(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence], *, conflict: Sequence[str], key: str
) -> list[tuple]:
    """``insert_returning(model, fields, rows, conflict=conflict, returning=("id", key))``
    for rows that are new but for a rare race (the billing run: its chunks hold only
    contracts not billed yet, unless a second run bills the same ones at this moment).

    On PostgreSQL the ids are taken from the table's sequence and the rows COPYed straight
    into the table, inside a savepoint: no staging table, no ``INSERT … SELECT``. If one
    of them collides after all, the savepoint is rolled back and the rows go the careful
    way (``ON CONFLICT DO NOTHING``), so what another run inserted is skipped, as before."""
    if not rows:
        return []
    meta = model._meta
    if connection.vendor == "postgresql":
        import psycopg

        key_at = list(fields).index(key)
        model_fields = [meta.pk] + [meta.get_field(name) for name in fields]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in model_fields)
        table = connection.ops.quote_name(meta.db_table)
        try:
            with transaction.atomic(), server_cursor() as cursor:
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                               [meta.db_table, meta.pk.column, len(rows)])
                ids = [row[0] for row in cursor.fetchall()]
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for pk, row in zip(ids, rows):
                        copy.write_row((pk, *row))
            return [(pk, row[key_at]) for pk, row in zip(ids, rows)]
        except IntegrityError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.UniqueViolation):
                raise
    return insert_returning(model, fields, rows, conflict=conflict, returning=(meta.pk.name, key))


def _pg_insert(table: str, columns: str, model_fields, rows, on_conflict: str, returning_sql: str) -> list[tuple]:
    """COPY the rows in (psycopg formats COPY rows in C; a Python list per column bound
    as an array is dumped item by item in Python, the billing run's largest CPU cost).
    Without conflicts or keys to return they go straight into the table; otherwise
    into a temporary table of the same columns, then one INSERT … SELECT … ON CONFLICT
    DO NOTHING RETURNING."""
    for index, field in enumerate(model_fields):
        if isinstance(field, models.JSONField):
            rows = _json_as_text(rows, index, field)
    if not on_conflict and not returning_sql:
        with server_cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return []
    staging = connection.ops.quote_name("_agrega_bulk_" + hashlib.md5(f"{table}({columns})".encode()).hexdigest()[:16])
    with transaction.atomic(savepoint=False), server_cursor() as cursor:
        # Session-local, emptied at every commit; created once per connection.
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
                       f"SELECT {columns} FROM {table} WITH NO DATA")
        with cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # in the order copied (RETURNING then follows the order of ``rows``, as callers expect)
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ORDER BY ctid"
                       f"{on_conflict}{returning_sql}")
        out = cursor.fetchall() if returning_sql else []
        cursor.execute(f"DELETE FROM {staging}")
    return out


def _json_as_text(rows, index: int, field: models.JSONField) -> list[tuple]:
    """Column ``index`` as JSON text, each distinct object encoded once (a job's rows
    often share one ``detail`` dict)."""
    encoded: dict[int, str] = {}

    def encode(value):
        if value is None:
            return None
        text = encoded.get(id(value))
        if text is None:
            text = encoded[id(value)] = json.dumps(value, cls=field.encoder)
        return text

    return [row[:index] + (encode(row[index]),) + tuple(row[index + 1:]) for row in rows]


def fetch_values(queryset) -> list[tuple]:
    """The rows of a ``values_list`` queryset (plain columns, no converters needed).
    On PostgreSQL they are read through a server-side-binding cursor in binary: parsing
    timestamps from text costs the billing run more CPU than the query itself."""
    if connection.vendor != "postgresql":
        return list(queryset)
    sql, params = queryset.query.sql_with_params()
    with server_cursor() as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


def in_threads(fn, items, workers: int):
    """``fn(item)`` for every item, by ``workers`` threads, each with its own database
    connection (closed when the thread ends); results are yielded as they come. At most
    ``workers`` items wait in the queue, so a producer reading from the database stays
    just ahead. The first exception stops the feed and is raised once the threads end
    (items already queued are still done: each is its own transaction)."""
    tasks: queue.Queue = queue.Queue(maxsize=workers)
    results: queue.Queue = queue.Queue()
    stop = object()

    def work():
        try:
            while (item := tasks.get()) is not stop:
                try:
                    results.put((True, fn(item)))
                except BaseException as exc:  # handed to the caller's thread
                    results.put((False, exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, name=f"agrega-bulk-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    pending = 0
    try:
        for item in items:
            tasks.put(item)
            pending += 1
            while pending and not results.empty():
                ok, value = results.get()
                pending -= 1
                if not ok:
                    raise value
                yield value
        while pending:
            ok, value = results.get()
            pending -= 1
            if not ok:
                raise value
            yield value
    finally:
        for _ in threads:
            tasks.put(stop)
        for thread in threads:
            thread.join()


@contextlib.contextmanager
def server_cursor():
    """A psycopg cursor with server-side binding on Django's own connection (same
    transaction): the arrays travel as parameters, in binary, instead of being quoted
    into the statement's text by Django's client-side binding (bench/README.md).

    Its errors are psycopg's own, so they are wrapped as Django's (``DatabaseError`` and
    its kinds), as every other cursor's are: unwrapped, a connection dropped while the
    SVA worker wrote a batch killed the worker process (found by tests/faults)."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def insert_dicts(model: type[models.Model], rows: list[dict], *, returning: tuple[str, ...] = ("id",)) -> list[tuple]:
    """``rows``: {field name: value} (a foreign key's value is the id); returns the
    ``returning`` columns of each row, in the order of ``rows``.

    Every concrete column is written: given values, ``auto_now``/``auto_now_add``
    columns set to now, and each other field's default (Django's ``get_default``: "" for
    a text column that is not NULL) — so a field another app adds later is filled here too (Django's ``bulk_create`` spends most of an
    import's time preparing each field of each model)."""
    if not rows:
        return []
    from django.utils import timezone

    now = timezone.now()
    fields, defaults = [], {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        fields.append(field.name)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            defaults[field.name] = now
        else:
            # Django's own rule: the declared default, else "" for a text field that
            # cannot be NULL (e.g. a CharField(blank=True) another app adds), else NULL
            defaults[field.name] = field.get_default()
    values = [tuple(row.get(name, defaults[name]) for name in fields) for row in rows]
    return insert_returning(model, fields, values, returning=returning)
