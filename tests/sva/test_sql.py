"""sva.sql (the worker's claim and write-back) against the ORM, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.sva import sql
from agrega.sva.models import SvaCall, SvaUser

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=dt_timezone.utc)
WRITTEN = ["confirmed_state", "confirmed_package", "confirmed_email", "confirmed_phone", "confirmed_document",
           "confirmed_name", "remote_id", "creation_attempted", "confirmed_at", "synced_version", "failures",
           "next_attempt_at", "last_attempt_at", "last_success_at", "last_error_code", "last_error_message",
           "claimed_until", "claimed_by"]


@pytest.fixture
def users(integration, make_product, make_contract):
    product = make_product(integration)
    for _ in range(4):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
    users = list(SvaUser.objects.order_by("id"))
    SvaUser.objects.filter(pk__in=[u.pk for u in users]).update(
        claimed_by="w1", claimed_until=NOW + timedelta(minutes=1), failures=3, last_error_code="timeout",
        next_attempt_at=NOW)
    return users


def _row(user, confirmed_at):
    return ("active", "PKG", f"u{user.pk}@ex.com", "11999990000", "12345678909", "Nome", f"r{user.pk}", True,
            confirmed_at, user.version, NOW, NOW, user.pk, "w1")


def _state(ids):
    found = {r["id"]: r for r in SvaUser.objects.filter(pk__in=ids).values("id", *WRITTEN)}
    return [{k: v for k, v in found[pk].items() if k not in ("id", "confirmed_email", "remote_id")} for pk in ids]


def test_write_converged_equals_the_orm_update(users):
    by_sql, by_orm = users[:2], users[2:]
    for lost in (by_sql[1], by_orm[1]):  # another worker took these meanwhile
        SvaUser.objects.filter(pk=lost.pk).update(claimed_by="w2")
    adapt = connection.ops.adapt_datetimefield_value
    written = sql.write_converged([tuple(adapt(v) if isinstance(v, datetime) else v for v in _row(u, NOW))
                                   for u in by_sql])
    assert written == [by_sql[0].pk]
    orm_written = []
    for user in by_orm:
        values = dict(zip([c for c, _ in sql.CONVERGED_COLUMNS], _row(user, NOW)))
        user_id, worker = values.pop("id"), values.pop("claimed_by")
        confirmed_at = values.pop("confirmed_at")
        if SvaUser.objects.filter(pk=user_id, claimed_by=worker).update(
                **values, confirmed_at=Coalesce(Value(confirmed_at), F("confirmed_at")), failures=0,
                next_attempt_at=None, last_error_code="", last_error_message="", claimed_until=None, claimed_by=""):
            orm_written.append(user_id)
    assert orm_written == [by_orm[0].pk]
    assert _state([u.pk for u in by_sql]) == _state([u.pk for u in by_orm])
    assert sql.write_converged([]) == []


def test_insert_calls_equals_orm_creates(users):
    a, b = users[0], users[1]
    call = (NOW, "create", "POST", "/v1/users", 201, 12.5, {"login": "x", "n": [1, 2]}, {"id": "r1"}, "", "w1")
    sql.insert_calls([(a.pk, *call), (a.pk, *call[:4], None, 0.0, {}, {}, "timeout", "w1")])
    for row in [call, (*call[:4], None, 0.0, {}, {}, "timeout", "w1")]:
        SvaCall.objects.create(sva_user=b, **dict(zip([c for c, _ in sql.CALL_COLUMNS][1:], row)))
    fields = [c for c, _ in sql.CALL_COLUMNS][1:]
    assert list(SvaCall.objects.filter(sva_user=a).order_by("id").values_list(*fields)) == \
        list(SvaCall.objects.filter(sva_user=b).order_by("id").values_list(*fields))
    assert SvaCall.objects.filter(sva_user=a).count() == 2


def test_claim_leases_what_the_queryset_selects(users):
    SvaUser.objects.filter(pk=users[0].pk).update(claimed_until=None, claimed_by="", confirmed_state="active")
    SvaUser.objects.filter(pk=users[1].pk).update(confirmed_state="active")  # an expired lease: not trusted
    qs = SvaUser.objects.filter(pk__in=[u.pk for u in users[:3]]).order_by("id").values("id")[:2]
    expected = [row["id"] for row in qs]
    lease = NOW + timedelta(minutes=5)
    assert sorted(sql.claim(qs, lease=lease, worker_id="w9")) == expected == [users[0].pk, users[1].pk]
    got = {r[0]: r[1:] for r in SvaUser.objects.filter(pk__in=[u.pk for u in users])
           .values_list("pk", "claimed_by", "claimed_until", "confirmed_state")}
    assert got[users[0].pk] == ("w9", lease, "active")  # was not leased: its state is kept
    assert got[users[1].pk] == ("w9", lease, "unknown")  # held an old lease: looked up first
    assert got[users[2].pk][0] == "w1"  # not selected
