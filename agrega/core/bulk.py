"""Set-based inserts for the jobs that write hundreds of thousands of rows (billing run,
imports): one statement per batch, conflicts skipped, the new rows' keys returned.

PostgreSQL binds one array per column and inserts ``FROM unnest(…)`` (the statement's
size does not grow with the batch); SQLite takes a multi-row VALUES. Both accept
``ON CONFLICT DO NOTHING … RETURNING``, so a row that already exists is neither
written again nor returned — which is what makes a re-run create nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

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
    the rows actually inserted. With ``conflict`` (the columns of a unique
    constraint), rows that collide are skipped silently."""
    if not rows:
        return []
    meta = model._meta
    model_fields = [meta.get_field(name) for name in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in model_fields)
    returning_sql = ", ".join(connection.ops.quote_name(meta.get_field(n).column) for n in returning)
    table = connection.ops.quote_name(meta.db_table)
    on_conflict = ""
    if conflict:
        cols = ", ".join(connection.ops.quote_name(meta.get_field(n).column) for n in conflict)
        on_conflict = f" ON CONFLICT ({cols}) DO NOTHING"
    out: list[tuple] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            casts = ", ".join(f"%s::{_pg_array_type(f)}" for f in model_fields)
            sql = f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({casts}){on_conflict} RETURNING {returning_sql}"
            arrays = [list(col) for col in zip(*rows)]
            for index, f in enumerate(model_fields):
                if isinstance(f, models.JSONField):
                    from psycopg.types.json import Jsonb

                    arrays[index] = [None if v is None else Jsonb(v) for v in arrays[index]]
            cursor.execute(sql, arrays)
            out.extend(cursor.fetchall())
            return out
        adapters = [_sqlite_adapter(f) for f in model_fields]
        per_batch = max(1, SQLITE_MAX_VARIABLES // len(fields))
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(rows), per_batch):
            batch = rows[start:start + per_batch]
            params: list = []
            for row in batch:
                params.extend(a(v) if a else v for a, v in zip(adapters, row))
            sql = (f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(batch))}"
                   f"{on_conflict} RETURNING {returning_sql}")
            cursor.execute(sql, params)
            out.extend(cursor.fetchall())
    return out


def _pg_array_type(field: models.Field) -> str:
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    db_type = field.db_type(connection) or "text"
    if isinstance(field, (models.AutoField, models.BigAutoField)):
        db_type = "bigint"
    # varchar(n)/numeric(p,s) arrays: the plain type is enough for unnest
    return db_type.split("(")[0].strip() + "[]"
