"""Set-based inserts for the jobs that write hundreds of thousands of rows (billing run,
imports): one statement per batch, conflicts skipped, the new rows' keys returned.

PostgreSQL takes the rows by COPY (into the table, or into a temporary table and then
``INSERT … SELECT``); SQLite takes a multi-row VALUES. Both use ``ON CONFLICT DO
NOTHING … RETURNING``, so a row that already exists is neither written again nor
returned — which is what makes a re-run create nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Sequence
from functools import cache

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction

from .dbapi import server_cursor

SQLITE_MAX_VARIABLES = 30000

_DATETIME = models.DateTimeField()
_DATE = models.DateField()


def quote(name: str) -> str:
    """A table or column name quoted for SQL: standard double quotes, which SQLite and
    PostgreSQL both read (what ``connection.ops.quote_name`` does, without reaching
    into the backend's operations)."""
    if name.startswith('"') and name.endswith('"'):
        return name
    return '"' + name.replace('"', '""') + '"'


def db_datetime(value):
    """A datetime as the database takes it as a parameter of hand-written SQL (on
    SQLite: naive UTC text; on PostgreSQL: unchanged), through the public field API
    (``Field.get_db_prep_value``) rather than the backend's operations."""
    return _DATETIME.get_db_prep_value(value, connection)


def db_date(value):
    """A date as the database takes it as a parameter of hand-written SQL."""
    return _DATE.get_db_prep_value(value, connection)


def _sqlite_adapter(field: models.Field):
    if isinstance(field, models.DateTimeField):
        return db_datetime
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
    columns = ", ".join(quote(f.column) for f in model_fields)
    returning_sql = ""
    if returning:
        returning_sql = " RETURNING " + ", ".join(
            quote(meta.get_field(n).column) for n in returning)
    table = quote(meta.db_table)
    on_conflict = ""
    if conflict:
        cols = ", ".join(quote(meta.get_field(n).column) for n in conflict)
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
        columns = ", ".join(quote(f.column) for f in model_fields)
        table = quote(meta.db_table)
        copied = rows
        for index, field in enumerate(model_fields[1:]):
            if isinstance(field, models.JSONField):  # COPY takes JSON as text, as _pg_insert does
                copied = _json_as_text(copied, index, field)
        try:
            with transaction.atomic(), server_cursor() as cursor:
                # the sequence looked up once (a MATERIALIZED CTE): written inside nextval() the
                # lookup ran for every row, 10 µs each, a tenth of the billing run's database CPU
                cursor.execute("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
                               "SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
                               [meta.db_table, meta.pk.column, len(rows)])
                ids = [row[0] for row in cursor.fetchall()]
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for pk, row in zip(ids, copied):
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
    staging = quote("_agrega_bulk_" + hashlib.md5(f"{table}({columns})".encode()).hexdigest()[:16])
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


def pg_id_array(ids) -> str:
    """PostgreSQL: integer ids as one array literal (``'{1,2,3}'``), for ``= ANY(%s::bigint[])``
    through Django's cursor. Django binds on the client side, where psycopg quotes a list
    element by element in Python — about half of the dunning sweep's Python CPU; joined
    here in C, and PostgreSQL parses the same text either way."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"


def _concrete(model: type[models.Model]) -> list[models.Field]:
    """The model's columns, as declared (public ``_meta`` API)."""
    return [f for f in model._meta.get_fields() if f.concrete and not f.many_to_many]


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
    for field in _concrete(model):
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


@cache
def model_columns(model: type[models.Model], alias: str) -> str:
    """The model's columns (``alias."column", …``) in the order ``ModelReader`` reads
    them: its concrete fields as declared (``_concrete``). Kept per process (the fields
    never change once the apps are loaded): the contract detail's three statements
    rebuilt it five times per request, about 0.15 ms (bench/README.md, "api_load")."""
    return ", ".join(f"{alias}.{quote(field.column)}" for field in _concrete(model))




def value_reader(field: models.Field):
    """What the ORM does to a column's value on its way out, for the fields the hot reads
    hold: an aware datetime (SQLite hands naive UTC ones), a bool (SQLite: 0/1), a decimal
    at the field's places (SQLite: a float), JSON decoded. None when nothing is needed."""
    import datetime as dt
    from decimal import Decimal

    if isinstance(field, models.DateTimeField):
        utc = dt.timezone.utc
        return lambda v: v.replace(tzinfo=utc) if v is not None and v.tzinfo is None else v
    if isinstance(field, models.BooleanField):
        return lambda v: v if v is None else bool(v)
    if isinstance(field, models.DecimalField):
        step = Decimal(1).scaleb(-field.decimal_places)
        return lambda v: v if v is None or isinstance(v, Decimal) else Decimal(str(v)).quantize(step)
    if isinstance(field, models.JSONField):
        return lambda v: field.from_db_value(v, None, connection) if isinstance(v, str) else v
    return None


class ModelReader:
    """Builds model instances from the columns ``model_columns`` selected, through the
    documented ``Model.from_db`` and with each value converted as the ORM converts it
    (``value_reader``): hand-written SQL answering what the ORM's queryset answers."""

    def __init__(self, model: type[models.Model]):
        fields = _concrete(model)
        self.model = model
        self.width = len(fields)
        self.names = [f.attname for f in fields]
        self.readers = [(i, r) for i, r in enumerate(map(value_reader, fields)) if r is not None]

    def values(self, row: Sequence) -> list:
        values = list(row[:self.width])
        for index, read in self.readers:
            values[index] = read(values[index])
        return values

    def build(self, row: Sequence) -> models.Model:
        """The instance of the first ``width`` values of ``row``."""
        return self.model.from_db(DEFAULT_DB_ALIAS, self.names, self.values(row))
