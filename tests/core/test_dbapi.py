"""agrega/core/dbapi.py (the driver under Django's connection), on SQLite and PostgreSQL:
the same connection and transaction as Django's, the rows the ORM answers, Django's errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from agrega.core.bulk import quote
from agrega.core.dbapi import raw_connection, read_cursor, server_cursor
from agrega.core.models import ScheduledJob

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 9, 30, 15, 123456, tzinfo=dt_timezone.utc)
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's cursors")


def _jobs():
    ScheduledJob.objects.create(name="a", next_run_at=NOW, locked_until=NOW + timedelta(minutes=1), runs=2)
    ScheduledJob.objects.create(name="b", next_run_at=NOW - timedelta(days=400), runs=0, last_ok=True)
    return ScheduledJob.objects.order_by("name").values_list("name", "next_run_at", "locked_until", "runs", "last_ok")


def test_raw_connection_is_djangos_in_the_same_transaction():
    ScheduledJob.objects.create(name="uncommitted", next_run_at=NOW)  # inside the test's transaction
    cursor = raw_connection().cursor()
    cursor.execute(f"SELECT count(*) FROM {quote(ScheduledJob._meta.db_table)} WHERE name = 'uncommitted'")
    assert cursor.fetchone()[0] == 1
    cursor.close()


def test_read_cursor_answers_the_orm_and_is_logged():
    expected = list(_jobs())
    with CaptureQueriesContext(connection) as queries, read_cursor() as cursor:
        cursor.execute(f"SELECT name, next_run_at, locked_until, runs, last_ok FROM "
                       f"{quote(ScheduledJob._meta.db_table)} ORDER BY name")
        rows = [tuple(row) for row in cursor.fetchall()]
    if connection.vendor == "postgresql":  # SQLite hands naive text; its readers are core.bulk.value_reader
        assert rows == expected
        assert all(value.tzinfo is dt_timezone.utc for row in rows for value in row[1:3] if value is not None)
    assert len(queries) == 1 and "ORDER BY name" in queries[0]["sql"]


@postgres_only
def test_read_cursor_leaves_djangos_other_cursors_alone():
    _jobs()
    with read_cursor():
        pass
    assert list(ScheduledJob.objects.order_by("name").values_list("next_run_at", flat=True))[0] == NOW


@postgres_only
def test_server_cursor_binds_arrays_reads_binary_and_raises_djangos_errors():
    import psycopg

    expected = list(_jobs())
    with server_cursor() as cursor:
        cursor.execute(f"SELECT name, next_run_at, locked_until, runs, last_ok FROM "
                       f"{quote(ScheduledJob._meta.db_table)} WHERE name = ANY(%s) ORDER BY name", [["a", "b"]],
                       binary=True)
        assert [tuple(row) for row in cursor.fetchall()] == expected
    with pytest.raises(IntegrityError) as raised, transaction.atomic(), server_cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(ScheduledJob._meta.db_table)} (name, next_run_at, runs, failures, "
                       "locked_by, last_result, last_error) VALUES ('a', now(), 0, 0, '', '{}', '')")
    assert isinstance(raised.value.__cause__, psycopg.errors.UniqueViolation)  # the driver's, as Django's
    with pytest.raises(DatabaseError) as raised, transaction.atomic(), server_cursor() as cursor:
        cursor.execute("SELECT no_such_column")
    assert type(raised.value).__module__.startswith("django.db")
