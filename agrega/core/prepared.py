"""Reads compiled to SQL once per database connection and run with each request's
values (``PreparedQuery``): the API's token check, contract detail and list, customer
search, the row every contract action locks and the products an activation gives SVA
users. Here, not in ``core.api``, so that services can use it without importing the API
layer."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, ValuesIterable, get_related_populators


class PreparedQuery:
    """A read that every request makes, compiled to SQL once per database connection and
    then run with each request's values.

    Building and compiling an ORM query costs 0.4–2.5 ms of CPU (the token's, with its
    three EXISTS, the most), running it 0.1–0.2 ms (bench/README.md, "api_load"). So
    ``build(*values)`` is called once, with stand-in values, and the SQL it compiles to is
    kept, with the positions of the stand-ins among its parameters; each call then sends
    that SQL with the real values and builds the rows as the ORM would (model instances
    with their ``select_related`` objects and annotations, or dicts for ``values()``),
    through the same cursor (so query counting, wrappers and converters still apply).

    ``build`` must compile to the same SQL whatever the values: no branching on them, each
    used as it is (exact, gt, lt …) or as a LIKE pattern (contains, icontains, iexact on
    SQLite …, escaped again for each value as the ORM escapes it), no ``prefetch_related``.
    A value the ORM would treat specially (an integer beyond 64 bits, which it answers
    with no rows) goes through the ORM as before."""

    _INT_LIMIT = 2**63

    def __init__(self, build: Callable[..., QuerySet], *kinds: type, binary: bool = False,
                 prepare: bool = True):
        self.build = build
        self.kinds = kinds  # int or str, one per value
        # prepare=False: compiled once all the same, but planned by PostgreSQL for each
        # call, for a join whose best plan depends on its values. PostgreSQL keeps a
        # prepared statement's generic plan for the life of the connection; made while
        # the tables were small (an import into an empty database), the plan for the
        # products an activation gives SVA users went through every contract product of
        # the SVA product instead of the contract's own: linear in the table, per
        # activation (bench/README.md, "import_customers").
        self.prepare = prepare
        # binary: PostgreSQL sends the rows in binary, which psycopg reads in C (its text
        # datetime loader, which Django installs, is Python: 4 µs a timestamp). Not for
        # JSON columns, which Django decodes from text itself.
        self.binary = binary

    def _stand_ins(self) -> list:
        # values no request sends, within every integer range; the "_" shows whether a
        # LIKE lookup escaped the string
        return [7_310_000_000_000_000_000 + 1_000_003 * i if kind is int else f"\x01prepared_{i}\x01"
                for i, kind in enumerate(self.kinds)]

    def _compile(self, connection):
        stand_ins = self._stand_ins()
        queryset = self.build(*stand_ins)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        params = list(params)
        positions = []  # per value: (index in params, None) or (index, (before, after)) for LIKE
        for stand_in in stand_ins:
            found = []
            escaped = connection.ops.prep_for_like_query(stand_in) if isinstance(stand_in, str) else None
            for i, param in enumerate(params):
                if type(param) is type(stand_in) and param == stand_in:
                    found.append((i, None))
                elif escaped is not None and isinstance(param, str) and escaped in param:
                    before, _, after = param.partition(escaped)
                    found.append((i, (before, after)))
                elif isinstance(param, str) and isinstance(stand_in, str) and stand_in in param:
                    raise ImproperlyConfigured(f"PreparedQuery: value {stand_in!r} rewritten in {sql}")
            if not found:
                raise ImproperlyConfigured(f"PreparedQuery: value {stand_in!r} not among the parameters of {sql}")
            positions.append(found)
        fields = [s[0] for s in compiler.select[: compiler.col_count]]
        if self.binary and any(getattr(f, "output_field", None) is not None
                               and f.output_field.get_internal_type() == "JSONField" for f in fields):
            raise ImproperlyConfigured("PreparedQuery: binary rows with a JSON column")
        entry = {"sql": sql, "params": params, "positions": positions, "compiler": compiler,
                 "converters": compiler.get_converters(fields), "width": compiler.col_count,
                 # a LIKE pattern is left to a plan made for it (a generic plan could not
                 # pick the trigram index for a pattern it does not know)
                 "prepare": self.prepare and not any(like for found in positions for _, like in found)}
        if queryset._iterable_class is ModelIterable:
            klass_info, select = compiler.klass_info, compiler.select
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            entry.update(kind="model", model=klass_info["model"], start=start, end=end,
                         init_list=[f[0].target.attname for f in select[start:end]],
                         populators=get_related_populators(klass_info, select, connection.alias),
                         annotations=dict(compiler.annotation_col_map or {}))
        elif queryset._iterable_class is ValuesIterable:
            query = queryset.query
            names = list(query.selected) if query.selected else [
                *query.extra_select, *query.values_select, *query.annotation_select]
            entry.update(kind="values", names=names)
        else:
            raise ImproperlyConfigured("PreparedQuery: model instances or values() only")
        return entry

    def fetch(self, *values, using: str = "default") -> list:
        if any(type(v) is int and not -self._INT_LIMIT <= v < self._INT_LIMIT for v in values):
            return list(self.build(*values))
        connection = connections[using]
        # kept on the connection (one per thread), so it goes when the connection goes
        compiled = connection.__dict__.setdefault("_agrega_prepared_queries", {})
        entry = compiled.get(self)
        if entry is None:
            entry = compiled[self] = self._compile(connection)
        params = list(entry["params"])
        for found, value in zip(entry["positions"], values, strict=True):
            for position, like in found:
                params[position] = value if like is None else (
                    like[0] + connection.ops.prep_for_like_query(value) + like[1])
        with _cursor(connection, binary=self.binary, prepare=entry["prepare"]) as cursor:
            cursor.execute(entry["sql"], params)
            rows = cursor.fetchall()
        width = entry["width"]
        rows = [row[:width] for row in rows] if rows and len(rows[0]) > width else rows
        if entry["converters"]:
            rows = list(entry["compiler"].apply_converters(rows, entry["converters"]))
        if entry["kind"] == "values":
            names = entry["names"]
            return [dict(zip(names, row)) for row in rows]
        model, init_list, start, end = entry["model"], entry["init_list"], entry["start"], entry["end"]
        objects = []
        for row in rows:
            obj = model.from_db(connection.alias, init_list, row[start:end])
            for populator in entry["populators"]:
                populator.populate(row, obj)
            for name, position in entry["annotations"].items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


def _cursor(connection, *, binary: bool = False, prepare: bool = True):
    """``connection.cursor()``, but on PostgreSQL one that binds its parameters on the
    server. Django's psycopg cursors interpolate them into the SQL text, so PostgreSQL
    parses and plans every statement again; bound on the server, each statement is
    prepared once per connection and then only its values are sent.
    Wrapped like Django's own cursors: queries are logged, counted and wrapped alike."""
    if connection.vendor != "postgresql" or not prepare:
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django sets None (no prepared statements at all, for transaction-mode poolers);
        # a threshold never reached keeps every other statement unprepared, as before
        raw.prepare_threshold = 2**31 - 1
    with connection.wrap_database_errors:
        cursor = _preparing_cursor_class()(raw)
        cursor.binary_rows = binary
        return connection._prepare_cursor(cursor)


@cache
def _preparing_cursor_class():
    import psycopg

    class PreparingCursor(psycopg.Cursor):
        """Prepares its statement on first use: these few are run on every request."""

        binary_rows = False

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True if prepare is None else prepare,
                                   binary=self.binary_rows if binary is None else binary)

    return PreparingCursor
