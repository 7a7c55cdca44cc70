"""Agrega's access to the driver under Django's connection, in one place
(docs/decisions/0013-database-internals.md).

Everything here goes through Django's documented API (``connection.cursor()``, a DB-API
cursor) and the drivers' public API (PEP 249's ``Cursor.connection``, psycopg's
``Cursor``, ``Cursor.adapters``), with one exception, kept to one line and named in
the decision record: ``server_cursor`` raises the driver's errors as Django's through
``connection.wrap_database_errors``, for which Django documents no equivalent.
``tests/test_architecture.py`` fails if a Django internal is used anywhere else.
"""

from __future__ import annotations

import contextlib
import functools

from django.db import connection as default_connection


def raw_connection(connection=None):
    """The DB-API connection (psycopg's or sqlite3's) under Django's ``connection``
    (default: the default database's), opened if need be: PEP 249's
    ``Cursor.connection`` of a cursor Django opens (``connection.cursor()`` also
    checks the connection belongs to this thread). It is the one Django's cursors
    use, in the same transaction."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        return cursor.connection


@contextlib.contextmanager
def server_cursor():
    """PostgreSQL: a psycopg cursor with server-side binding on Django's own connection
    (same transaction): arrays travel as parameters, in binary, instead of being quoted
    into the statement's text by Django's client-side binding, and ``execute(...,
    binary=True)`` reads rows in binary (bench/README.md).

    Its errors are psycopg's own, so they are raised as Django's (``DatabaseError`` and
    its kinds), as every other cursor's are — through ``connection.wrap_database_errors``,
    the one Django internal Agrega keeps (decision 0013): it also marks the connection
    for Django's check at the end of a request, which closes it if it became unusable.
    Unwrapped, a connection dropped while the SVA worker wrote a batch killed the worker
    process (found by tests/faults)."""
    import psycopg

    raw = raw_connection()
    with default_connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        yield cursor


@contextlib.contextmanager
def read_cursor():
    """A cursor for the API's hot reads: Django's own (``connection.cursor()``: the
    statement is logged, counted and its errors wrapped like any other). On PostgreSQL
    its timestamps are read by psycopg's own loader, which psycopg runs in C, instead of
    the one Django installs (a Python subclass: ~3 µs a timestamp, most of a list page's
    reading); registered on this cursor only (psycopg's ``Cursor.adapters``), with the
    session's time zone, which Django sets to UTC — the same aware datetimes.
    Not prepared (decision 0009)."""
    with default_connection.cursor() as cursor:
        if default_connection.vendor == "postgresql":
            cursor.adapters.register_loader("timestamptz", _timestamptz_loader())
        yield cursor


@functools.cache
def _timestamptz_loader():
    from psycopg.types.datetime import TimestamptzLoader

    return TimestamptzLoader
