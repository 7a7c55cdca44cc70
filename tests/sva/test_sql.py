"""sva.sql (the worker's claim and write-back) against the ORM, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.core.bulk import db_datetime
from agrega.sva import sql
from agrega.sva.models import SvaCall, SvaPendingWork, SvaUser
from tests.fixtures import default_platform_only

sva_platform = default_platform_only()

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=dt_timezone.utc)
WRITTEN = ["confirmed_state", "confirmed_package", "confirmed_email", "confirmed_phone", "confirmed_document",
           "confirmed_name", "remote_id", "creation_attempted", "confirmed_at", "synced_version", "failures",
           "next_attempt_at", "last_attempt_at", "last_success_at", "last_error_code", "last_error_message",
           "claimed_until", "claimed_by"]


@pytest.fixture
def users(platform_integration, make_product, make_contract):
    product = make_product(platform_integration)
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


@pytest.mark.parametrize("confirmed_at", [NOW, None])  # None in every row: an array of NULLs
def test_write_converged_equals_the_orm_update(users, confirmed_at):
    by_sql, by_orm = users[:2], users[2:]
    SvaUser.objects.filter(pk__in=[u.pk for u in users]).update(confirmed_at=NOW - timedelta(days=1))
    for lost in (by_sql[1], by_orm[1]):  # another worker took these meanwhile
        SvaUser.objects.filter(pk=lost.pk).update(claimed_by="w2")
    adapt = db_datetime
    written = sql.write_converged([tuple(adapt(v) if isinstance(v, datetime) else v for v in _row(u, confirmed_at))
                                   for u in by_sql])
    assert written == [by_sql[0].pk]
    orm_written = []
    for user in by_orm:
        values = dict(zip([c for c, _ in sql.CONVERGED_COLUMNS], _row(user, confirmed_at)))
        user_id, worker = values.pop("id"), values.pop("claimed_by")
        confirmed_at = values.pop("confirmed_at")
        if SvaUser.objects.filter(pk=user_id, claimed_by=worker).update(
                **values, confirmed_at=Coalesce(Value(confirmed_at), F("confirmed_at")), failures=0,
                next_attempt_at=None, last_error_code="", last_error_message="", claimed_until=None, claimed_by=""):
            orm_written.append(user_id)
    assert orm_written == [by_orm[0].pk]
    assert _state([u.pk for u in by_sql]) == _state([u.pk for u in by_orm])
    assert sql.write_converged([]) == []


@pytest.mark.parametrize("answered", [True, False])  # False: no status code in any row (NULLs only)
def test_insert_calls_equals_orm_creates(users, answered):
    a, b = users[0], users[1]
    call = (NOW, "create", "POST", "/v1/users", 201, 12.5, {"login": "x", "n": [1, 2]}, {"id": "r1"}, "", "w1")
    if not answered:
        call = (*call[:4], None, 10000.0, {"nome": "Jo\u00e3o \"x\" {a,b}"}, {}, "timeout", "w1")
    sql.insert_calls([(a.pk, *call), (a.pk, *call[:4], None, 0.0, {}, {}, "timeout", "w1")])
    for row in [call, (*call[:4], None, 0.0, {}, {}, "timeout", "w1")]:
        SvaCall.objects.create(sva_user=b, **dict(zip([c for c, _ in sql.CALL_COLUMNS][1:], row)))
    fields = [c for c, _ in sql.CALL_COLUMNS][1:]
    assert list(SvaCall.objects.filter(sva_user=a).order_by("id").values_list(*fields)) == \
        list(SvaCall.objects.filter(sva_user=b).order_by("id").values_list(*fields))
    assert SvaCall.objects.filter(sva_user=a).count() == 2


def _orm_claimable(now, limit):
    """The worker's claim selection written with the ORM."""
    return list(SvaUser.objects.filter(pending_work__due_at__lte=now)
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
                .filter(integration__active=True)
                .filter(Q(integration__circuit_open_until__isnull=True) | Q(integration__circuit_open_until__lte=now))
                .order_by("pending_work__due_at", "pending_work__sva_user_id").values_list("id", flat=True)[:limit])


def test_claim_leases_what_the_orm_selects(users):
    ids = [u.pk for u in users]
    SvaUser.objects.filter(pk=users[0].pk).update(claimed_until=None, claimed_by="", confirmed_state="active")
    SvaUser.objects.filter(pk=users[1].pk).update(claimed_until=NOW - timedelta(seconds=1),
                                                  confirmed_state="active")  # an expired lease: not trusted
    SvaUser.objects.filter(pk=users[3].pk).update(claimed_until=None, claimed_by="")
    # users[1] due first, then users[0]; users[2] holds a lease; users[3] is due later
    for user, due in zip(users, (NOW - timedelta(minutes=1), NOW - timedelta(minutes=2), NOW, NOW + timedelta(1))):
        SvaPendingWork.objects.filter(sva_user=user).update(due_at=due)
    for limit in (1, 2, 10):
        expected = _orm_claimable(NOW, limit)
        with transaction.atomic():
            got = sql.claim(now=NOW, lease=NOW + timedelta(minutes=5), worker_id="w9", limit=limit)
            assert sorted(got) == sorted(expected)  # RETURNING keeps no order
            transaction.set_rollback(True)
    assert _orm_claimable(NOW, 10) == [users[1].pk, users[0].pk]
    lease = NOW + timedelta(minutes=5)
    assert sorted(sql.claim(now=NOW, lease=lease, worker_id="w9", limit=10)) == sorted([users[0].pk, users[1].pk])
    got = {r[0]: r[1:] for r in SvaUser.objects.filter(pk__in=ids)
           .values_list("pk", "claimed_by", "claimed_until", "confirmed_state")}
    assert got[users[0].pk] == ("w9", lease, "active")  # was not leased: its state is kept
    assert got[users[1].pk] == ("w9", lease, "unknown")  # held an old lease: looked up first
    assert got[users[2].pk][0] == "w1" and got[users[3].pk][0] == ""  # not selected
    assert sql.claim(now=NOW, lease=lease, worker_id="w8", limit=10) == _orm_claimable(NOW, 10) == []


def test_claim_skips_an_inactive_integration_or_an_open_circuit(users, platform_integration):
    SvaUser.objects.update(claimed_until=None, claimed_by="")
    SvaPendingWork.objects.update(due_at=NOW)
    for change in ({"circuit_open_until": NOW + timedelta(seconds=1)}, {"active": False}):
        type(platform_integration).objects.filter(pk=platform_integration.pk).update(**change)
        assert _orm_claimable(NOW, 10) == [] == sql.claim(now=NOW, lease=NOW, worker_id="w9", limit=10)
        type(platform_integration).objects.filter(pk=platform_integration.pk).update(
            circuit_open_until=NOW, active=True)  # a circuit that closes now is closed
    expected = _orm_claimable(NOW, 10)
    assert len(expected) == 4 and sorted(sql.claim(now=NOW, lease=NOW, worker_id="w9", limit=10)) == sorted(expected)


def test_claimed_rows_equal_the_orm_values(users):
    SvaUser.objects.filter(pk=users[1].pk).update(
        use_customer_data=False, email="own@ex.com", creation_attempted=True, deleted_at=NOW,
        registration_problems=[{"field": "consent", "message": "Aguardando"}])
    SvaPendingWork.objects.filter(sva_user=users[2]).delete()  # no queue row: bumps None
    SvaUser.objects.filter(pk=users[2].pk).update(synced_version=F("version"))  # (nothing pending)
    ids = [users[3].pk, users[1].pk, users[2].pk]
    names = [name for name, _ in sql.CLAIMED_COLUMNS]

    def seen(rows):  # the worker only asks whether a deletion or removal happened
        return [{**r, "deleted_at": r["deleted_at"] is not None,
                 "contract_product__removed_at": r["contract_product__removed_at"] is not None} for r in rows]

    assert seen(sql.claimed_rows(ids)) == seen(SvaUser.objects.filter(pk__in=ids).order_by("id").values(*names))
    assert sql.claimed_rows(ids)[0]["registration_problems"] == [{"field": "consent", "message": "Aguardando"}]
    assert sql.claimed_rows([]) == []
