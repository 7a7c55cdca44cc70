"""The contracts app's hand-written SQL, in one place: the set-based status write of
``contracts.transitions``, and the billing run's lowering of ``oldest_open_due``
(``contracts.services.contracts_lower_open_due``: up to a million contracts, the ids
bound on PostgreSQL as one array in binary, which the ORM's ``pk__in`` cannot do).

Why SQL and not the ORM: the dunning sweep moves hundreds of thousands of contracts, and
each group of contracts that goes through the same steps is written by one statement
that re-checks the state the steps were computed from and returns the rows it changed
(``UPDATE … RETURNING``, which the ORM's ``update()`` cannot do). On PostgreSQL the same
statement also inserts the group's Histórico events from the rows the UPDATE returned
(a data-modifying CTE), so no contract passes through Python; a caller may add a
``Companion``, a statement of its own app fed by the same rows (the sweep's notices),
so the group is one round trip.

The API's hot reads are here too (``contract_summary_rows``, ``contract_detail``): the
ORM built and compiled their queries on every request, most of their CPU (decision 0009).

Each function here has a test comparing it with the ORM's answer on SQLite and PostgreSQL
(``tests/contracts/test_sql.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from datetime import date, datetime

from django.db import connection

from agrega.core.bulk import (ModelReader, db_date, db_datetime, insert_returning, model_columns, pg_id_array,
                              quote, value_reader)
from agrega.core.dbapi import read_cursor, server_cursor

from .models import Contract, ContractEvent, ContractProduct

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
    return quote(name)


def ids_condition(ids: Sequence[int], column: str = "id") -> tuple[str, list]:
    """``id = ANY(%s::bigint[])`` with one array literal on PostgreSQL, ``id IN (…)`` elsewhere."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [pg_id_array(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def update_statement(ids: Sequence[int], change: Change, expect: Expect | None, *, stamp,
                     returning: Sequence[str] = ()) -> tuple[str, list]:
    """The ``UPDATE … WHERE id IN ids AND <expect> RETURNING id, <returning>`` of one
    group, and its parameters (``stamp``: the write's time, adapted for the database)."""
    sets, params = [], []
    for column, value in (("status", change.status), ("access_status", change.access_status),
                          ("dunning_level", change.dunning_level)):
        if value is not None:
            sets.append(f"{column} = %s")
            params.append(value)
    if change.trust_release_until is not KEEP:
        sets.append("trust_release_until = %s")
        params.append(None if change.trust_release_until is None
                      else db_datetime(change.trust_release_until))
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
        params.append(db_date(expect.owing_by))
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


def lower_open_due(due: date, ids: Sequence[int]) -> None:
    """``oldest_open_due = min(oldest_open_due, due)`` for the contracts ``ids``; those
    that already owe something older are not written at all (no new row version). Under
    READ COMMITTED the WHERE is re-checked on the row a concurrent payment just
    committed, so a payment is never undone."""
    if not ids:
        return
    table = _q(Contract._meta.db_table)
    if connection.vendor == "postgresql":  # the ids as one array literal, joined in C (core.bulk.pg_id_array):
        # psycopg dumping a list of ints element by element was ~40 % of the billing run's
        # remaining Python CPU (bench/README.md, "billing_run")
        with server_cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET oldest_open_due = %s WHERE id = ANY(%s::bigint[]) "
                           f"AND (oldest_open_due IS NULL OR oldest_open_due > %s)", [due, pg_id_array(ids), due])
        return
    day = db_date(due)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 10000):
            chunk = list(ids[start:start + 10000])
            cursor.execute(f"UPDATE {table} SET oldest_open_due = %s WHERE id IN ({', '.join(['%s'] * len(chunk))}) "
                           f"AND (oldest_open_due IS NULL OR oldest_open_due > %s)", [day, *chunk, day])


# ---------------------------------------------------------------- the API's hot reads
#
# The contract list's unfiltered pages and the contract detail: the ORM built and compiled
# these queries on every request, most of their CPU (bench/README.md, "api_load"; decision
# 0009). Each answers what its ORM queryset answers (tests/contracts/test_sql.py).

SUMMARY_COLUMNS = ("id", "customer_id", "customer_name", "status", "access_status", "billing_day",
                   "description", "version", "activated_at", "ended_at", "created_at", "updated_at")


def _customer_model():
    return Contract._meta.get_field("customer").related_model


def _summary_sql() -> str:
    contract, customer = quote(Contract._meta.db_table), quote(_customer_model()._meta.db_table)
    columns = ", ".join("cu.name" if name == "customer_name" else f"c.{quote(name)}" for name in SUMMARY_COLUMNS)
    return (f"SELECT {columns} FROM {contract} c INNER JOIN {customer} cu ON c.customer_id = cu.id "
            "WHERE c.id > %s ORDER BY c.id LIMIT %s")


@cache
def _summary_readers() -> list:
    """(position, converter) of the summary's columns that need one (the timestamps)."""
    readers = [(i, value_reader(Contract._meta.get_field(name))) for i, name in enumerate(SUMMARY_COLUMNS)
               if name != "customer_name"]
    return [(i, read) for i, read in readers if read is not None]


def contract_summary_rows(after: int | None, count: int) -> list[dict]:
    """Up to ``count`` contracts with id > ``after`` (all when None), by id, as dicts of
    ``SUMMARY_COLUMNS`` (``customer_name``: the customer's name): what
    ``selectors.contract_summaries().values(*SUMMARY_COLUMNS)`` ordered by id answers,
    unfiltered."""
    readers = _summary_readers()
    with read_cursor() as cursor:
        cursor.execute(_summary_sql(), [0 if after is None else after, count])
        rows = cursor.fetchall()
    out = []
    for row in rows:
        row = list(row)
        for index, read in readers:
            row[index] = read(row[index])
        out.append(dict(zip(SUMMARY_COLUMNS, row)))
    return out


@cache
def _detail_readers() -> tuple[ModelReader, ...]:
    product_model = ContractProduct._meta.get_field("product").related_model
    user_model = Contract._meta.get_field("sva_users").related_model
    return tuple(map(ModelReader, (Contract, _customer_model(), ContractProduct, product_model, user_model)))


def contract_detail(pk: int) -> Contract | None:
    """The contract with its customer, ``product_list`` (every product it ever held, by
    id, each with its product) and ``sva_user_list`` (its SVA users by id, each with its
    contract, its contract product and ``pending``: whether it waits in the worker's
    queue), in three statements: what ``selectors.contract_with_customer``,
    ``contract_products_of`` and ``contract_sva_users_of`` read. None: no such contract."""
    customer_model = _customer_model()
    product_model = ContractProduct._meta.get_field("product").related_model
    user_model = Contract._meta.get_field("sva_users").related_model
    queue = user_model._meta.get_field("pending_work").related_model
    if not -2**63 <= pk < 2**63:  # beyond any id (the ORM answers an empty queryset)
        return None
    contract_reader, customer_reader, item_reader, product_reader, user_reader = _detail_readers()
    with read_cursor() as cursor:
        cursor.execute(f"SELECT {model_columns(Contract, 'c')}, {model_columns(customer_model, 'cu')} "
                       f"FROM {quote(Contract._meta.db_table)} c INNER JOIN {quote(customer_model._meta.db_table)} cu "
                       "ON c.customer_id = cu.id WHERE c.id = %s", [pk])
        row = cursor.fetchone()
        if row is None:
            return None
        contract = contract_reader.build(row)
        contract.customer = customer_reader.build(row[contract_reader.width:])
        cursor.execute(f"SELECT {model_columns(ContractProduct, 'cp')}, {model_columns(product_model, 'p')} "
                       f"FROM {quote(ContractProduct._meta.db_table)} cp INNER JOIN "
                       f"{quote(product_model._meta.db_table)} p ON cp.product_id = p.id "
                       "WHERE cp.contract_id = %s ORDER BY cp.id", [pk])
        items = []
        for row in cursor.fetchall():
            item = item_reader.build(row)
            item.product = product_reader.build(row[item_reader.width:])
            items.append(item)
        queue_column = quote(queue._meta.get_field("sva_user").column)
        cursor.execute(f"SELECT {model_columns(user_model, 'u')}, EXISTS(SELECT 1 FROM "
                       f"{quote(queue._meta.db_table)} q WHERE q.{queue_column} = u.id) "
                       f"FROM {quote(user_model._meta.db_table)} u WHERE u.contract_id = %s ORDER BY u.id", [pk])
        user_rows = cursor.fetchall()
    by_id = {item.pk: item for item in items}
    users = []
    for row in user_rows:
        user = user_reader.build(row)
        user.contract = contract  # as prefetch_related sets the reverse side
        if user.contract_product_id in by_id:  # else read when asked, as any relation
            user.contract_product = by_id[user.contract_product_id]
        user.pending = bool(row[user_reader.width])
        users.append(user)
    contract.product_list = items
    contract.sva_user_list = users
    return contract
