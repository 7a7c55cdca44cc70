"""agrega/core/bulk.py (the shared set-based insert and read) against the ORM's answer,
on SQLite and PostgreSQL: what is stored, what is skipped, what is returned."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest

from agrega.core import bulk
from agrega.core.models import ScheduledJob

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=dt_timezone.utc)
# every column without a database default (the inserts write the columns they are given)
FIELDS = ("name", "next_run_at", "locked_until", "locked_by", "runs", "failures", "last_duration_ms", "last_ok",
          "last_result", "last_error")


def _rows(prefix: str) -> list[tuple]:
    """Rows in FIELDS order; the second collides with a job already there."""
    return [(f"{prefix}-a", NOW, None, "", 1, 0, 2.5, True, {"ok": 1, "nested": [1, "é"]}, ""),
            (f"{prefix}-old", NOW, NOW, "w", 9, 1, None, None, {}, "x"),
            (f"{prefix}-b", NOW + timedelta(seconds=1), NOW, "w2", 0, 2, 0.0, False, {"é": None}, "erro")]


def _stored(prefix: str) -> list[tuple]:
    return [(name[len(prefix):], *rest) for name, *rest in ScheduledJob.objects.filter(
        name__startswith=prefix).order_by("name").values_list(*FIELDS)]


def _existing(prefix: str) -> None:
    ScheduledJob.objects.create(name=f"{prefix}-old", next_run_at=NOW - timedelta(days=1), runs=3)


def _orm(prefix: str) -> list[tuple]:
    """The ORM's bulk_create with conflicts ignored, and the ids of the rows it added."""
    before = set(ScheduledJob.objects.values_list("pk", flat=True))
    ScheduledJob.objects.bulk_create([ScheduledJob(**dict(zip(FIELDS, row))) for row in _rows(prefix)],
                                     ignore_conflicts=True)
    return list(ScheduledJob.objects.exclude(pk__in=before).order_by("pk").values_list("pk", "name"))


@pytest.mark.parametrize("insert", ["insert_returning", "insert_new"])
def test_inserts_equal_bulk_create_ignoring_conflicts(insert):
    _existing("s")
    _existing("o")
    rows = _rows("s")
    if insert == "insert_returning":
        got = bulk.insert_returning(ScheduledJob, FIELDS, rows, conflict=("name",), returning=("id", "name"))
    else:
        got = bulk.insert_new(ScheduledJob, FIELDS, rows, conflict=("name",), key="name")
    orm = _orm("o")
    assert _stored("s") == _stored("o")
    # only the rows inserted come back, in the order given
    assert [name for _, name in got] == ["s-a", "s-b"] and [name[1:] for _, name in orm] == ["-a", "-b"]
    assert {pk for pk, _ in got} == set(ScheduledJob.objects.filter(name__in=["s-a", "s-b"]).values_list(
        "pk", flat=True))
    assert bulk.insert_returning(ScheduledJob, FIELDS, [], conflict=("name",)) == []


def test_insert_returning_without_conflict_or_keys_writes_every_row():
    bulk.insert_returning(ScheduledJob, FIELDS, [r for r in _rows("s") if not r[0].endswith("old")], returning=())
    ScheduledJob.objects.bulk_create([ScheduledJob(**dict(zip(FIELDS, r))) for r in _rows("o")
                                      if not r[0].endswith("old")])
    assert _stored("s") == _stored("o") and len(_stored("s")) == 2


def test_insert_dicts_equals_create_with_defaults():
    given = [{"name": "-x", "next_run_at": NOW}, {"name": "-y", "next_run_at": NOW, "runs": 4,
                                                  "last_result": {"a": [1]}}]
    returned = bulk.insert_dicts(ScheduledJob, [{**r, "name": "s" + r["name"]} for r in given],
                                 returning=("id", "name"))
    for row in given:
        ScheduledJob.objects.create(**{**row, "name": "o" + row["name"]})
    assert _stored("s") == _stored("o")
    assert [name for _, name in returned] == ["s-x", "s-y"]
