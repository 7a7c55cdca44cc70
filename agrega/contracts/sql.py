"""The contracts app's hand-written SQL, in one place: the set-based status write of
``contracts.transitions``.

Why SQL and not the ORM: the dunning sweep moves hundreds of thousands of contracts, and
each group of contracts that goes through the same steps is written by one statement
that re-checks the state the steps were computed from and returns the rows it changed
(``UPDATE … RETURNING``, which the ORM's ``update()`` cannot do). On PostgreSQL the same
statement also inserts the group's Histórico events from the rows the UPDATE returned
(a data-modifying CTE), so no contract passes through Python; a caller may add a
``Companion``, a statement of its own app fed by the same rows (the sweep's notices),
so the group is one round trip. Each function here has a
test comparing it with the ORM's answer on SQLite and PostgreSQL
(``tests/contracts/test_sql.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection

from agrega.core.bulk import insert_returning

from .models import Contract, ContractEvent

KEEP = object()  # a Change field left as it is
RETURNABLE = ("status", "access_status", "oldest_open_due", "dunning_level")
EVENT_FIELDS = ["contract", "action", "actor", "actor_label", "from_status", "to_status", "from_access_status",
                "to_access_status", "detail", "created_at"]
INSERT_CHUNK = 5000


@dataclass(frozen=True)
class Expect:
    """The state the caller computed its change from, re-checked by the UPDATE itself
    (under READ COMMITTED on the row version a concurrent writer just committed), so a
    contract that moved meanwhile is skipped and not returned. ``None``: not checked."""

    status: str | None = None
    access_status: str | None = None
    dunning_level: int | None = None
    no_trust_release: bool = False  # trust_release_until IS NULL
    owing_by: date | None = None  # oldest_open_due <= this day
    policy_id: int | None = None  # dunning_policy_id = this …
    policy_or_default: bool = False  # … or NULL (the default régua)


@dataclass(frozen=True)
class Change:
    """What the write sets (``updated_at`` always). ``version`` is added to the row's
    version (0: not bumped); ``ended`` sets ``ended_at`` to the write's time."""

    status: str | None = None
    access_status: str | None = None
    dunning_level: int | None = None
    trust_release_until: object = KEEP  # a datetime, None, or KEEP
    version: int = 0
    ended: bool = False


@dataclass(frozen=True)
class Companion:
    """PostgreSQL: a data-modifying statement of another app (it writes that app's own
    table, never contracts) that reads the contracts just written from the CTE ``w``
    (``id`` and the ``returning`` columns asked for), run as one more CTE of the same
    statement. Its text comes from the other app's ``sql.py``."""

    sql: str
    params: Sequence = ()


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def ids_condition(ids: Sequence[int], column: str = "id") -> tuple[str, list]:
    """``id = ANY(%s)`` with one array parameter on PostgreSQL, ``id IN (…)`` elsewhere."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def update_statement(ids: Sequence[int], change: Change, expect: Expect | None, *, stamp,
                     returning: Sequence[str] = ()) -> tuple[str, list]:
    """The ``UPDATE … WHERE id IN ids AND <expect> RETURNING id, <returning>`` of one
    group, and its parameters (``stamp``: the write's time, adapted for the database)."""
    ops = connection.ops
    sets, params = [], []
    for column, value in (("status", change.status), ("access_status", change.access_status),
                          ("dunning_level", change.dunning_level)):
        if value is not None:
            sets.append(f"{column} = %s")
            params.append(value)
    if change.trust_release_until is not KEEP:
        sets.append("trust_release_until = %s")
        params.append(None if change.trust_release_until is None
                      else ops.adapt_datetimefield_value(change.trust_release_until))
    if not sets:
        raise ValueError("a Change must set something")
    if change.version:
        sets.append("version = version + %s")
        params.append(change.version)
    sets.append("updated_at = %s")
    params.append(stamp)
    if change.ended:
        sets.append("ended_at = %s")
        params.append(stamp)
    ids_sql, ids_params = ids_condition(ids)
    where, params = [ids_sql], params + ids_params
    expect = expect or Expect()
    for column, value in (("status", expect.status), ("access_status", expect.access_status),
                          ("dunning_level", expect.dunning_level)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if expect.no_trust_release:
        where.append("trust_release_until IS NULL")
    if expect.owing_by is not None:
        where.append("oldest_open_due <= %s")
        params.append(ops.adapt_datefield_value(expect.owing_by))
    if expect.policy_id is not None:
        if expect.policy_or_default:
            where.append("(dunning_policy_id = %s OR dunning_policy_id IS NULL)")
        else:
            where.append("dunning_policy_id = %s")
        params.append(expect.policy_id)
    for name in returning:
        if name not in RETURNABLE:
            raise ValueError(f"not returnable: {name}")
    cols = ", ".join(["id", *returning])
    return (f"UPDATE {_q(Contract._meta.db_table)} SET {', '.join(sets)} WHERE {' AND '.join(where)} "
            f"RETURNING {cols}", params)


def update_returning(ids: Sequence[int], change: Change, expect: Expect | None, *, stamp,
                     returning: Sequence[str] = ()) -> list[tuple]:
    """Run ``update_statement``; the rows written, as (id, *returning), by id."""
    sql, params = update_statement(ids, change, expect, stamp=stamp, returning=returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(cursor.fetchall())


def update_with_events(ids: Sequence[int], change: Change, expect: Expect | None, steps: Sequence, *,
                       actor_id: int | None, actor_label: str, stamp,
                       returning: Sequence[str] = (), companion: Companion | None = None) -> list[tuple]:
    """PostgreSQL: the group's UPDATE, its Histórico events (one per step and contract
    written, in step order then contract id) and the ``companion`` if any, in one
    statement; returns the rows written as (id, *returning), by id. ``steps``: objects
    with ``action``, ``from_status``, ``to_status``, ``from_access``, ``to_access`` and
    ``detail``."""
    update, params = update_statement(ids, change, expect, stamp=stamp, returning=returning)
    if not steps and companion is None:
        with connection.cursor() as cursor:
            cursor.execute(update, params)
            return sorted(cursor.fetchall())
    sql = f"WITH w AS ({update})"
    if steps:
        values = ", ".join(["(%s::int, %s, %s, %s, %s, %s, %s::jsonb)"] * len(steps))
        sql += (f", ev AS (INSERT INTO {_q(ContractEvent._meta.db_table)} "
                "(contract_id, action, actor_id, actor_label, from_status, to_status, from_access_status, "
                "to_access_status, detail, created_at) "
                "SELECT w.id, s.action, %s, %s, s.fs, s.ts, s.fa, s.ta, s.detail, %s "
                f"FROM w CROSS JOIN (VALUES {values}) AS s(ord, action, fs, ts, fa, ta, detail) "
                "ORDER BY s.ord, w.id)")
        params += [actor_id, actor_label, stamp]
        for order, step in enumerate(steps):
            params += [order, str(step.action), step.from_status, step.to_status, step.from_access,
                       step.to_access, json.dumps(step.detail or {})]
    if companion is not None:
        sql += f", companion AS ({companion.sql})"
        params += list(companion.params)
    sql += f" SELECT {', '.join(['id', *returning])} FROM w"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(cursor.fetchall())


def insert_events(ids: Sequence[int], steps: Sequence, *, actor_id: int | None, actor_label: str,
                  now: datetime) -> None:
    """Any database: the events of ``steps`` for the contracts ``ids`` (in step order,
    then id), as multi-row INSERTs (COPY on PostgreSQL, ``core.bulk``)."""
    for step in steps:
        rows = [(cid, str(step.action), actor_id, actor_label, step.from_status, step.to_status, step.from_access,
                 step.to_access, step.detail or {}, now) for cid in ids]
        for start in range(0, len(rows), INSERT_CHUNK):
            insert_returning(ContractEvent, EVENT_FIELDS, rows[start:start + INSERT_CHUNK], returning=())
