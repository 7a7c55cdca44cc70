"""sva.pending's hand-written SQL against the ORM, on SQLite and PostgreSQL.

Each test runs a pending.py function and a plain-ORM version of the same rule on the same
starting rows (each in a savepoint rolled back afterwards) and compares the queue table
they leave and what they return."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import transaction
from django.db.models import F

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.sva import pending
from agrega.sva.models import SvaPendingWork, SvaUser
from tests.fixtures import default_platform_only

sva_platform = default_platform_only()

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=dt_timezone.utc)
EARLY, LATE = NOW - timedelta(hours=1), NOW + timedelta(hours=1)


@pytest.fixture
def users(platform_integration, make_product, make_contract):
    """Three users, one per contract, all converged (not pending: the suite checks that
    every pending user has a row after each test), and an empty queue: each test writes
    its own rows."""
    product = make_product(platform_integration)
    for _ in range(3):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
    SvaUser.objects.update(synced_version=F("version"))
    found = list(SvaUser.objects.order_by("id"))
    SvaPendingWork.objects.all().delete()
    return found


def _queue() -> dict[int, tuple]:
    return {r[0]: r[1:] for r in SvaPendingWork.objects.values_list("sva_user_id", "due_at", "queued_at", "bumps")}


def _outcome(fn):
    """What ``fn`` returns and leaves in the queue, undone afterwards."""
    with transaction.atomic():
        answer = fn()
        left = _queue()
        transaction.set_rollback(True)
    return answer, left


def _orm_mark(ids, now):
    for pk in ids:
        row = SvaPendingWork.objects.filter(sva_user_id=pk).first()
        if row is None:
            SvaPendingWork.objects.create(sva_user_id=pk, due_at=now, queued_at=now, bumps=0)
        else:
            SvaPendingWork.objects.filter(sva_user_id=pk).update(due_at=min(row.due_at, now), bumps=row.bumps + 1)
    return len(ids)


def _seed(users):
    SvaPendingWork.objects.create(sva_user=users[0], due_at=EARLY, queued_at=EARLY, bumps=2)
    SvaPendingWork.objects.create(sva_user=users[1], due_at=LATE, queued_at=EARLY, bumps=0)


def test_mark_equals_the_orm(users):
    _seed(users)
    ids = [u.pk for u in users]
    assert _outcome(lambda: pending.mark(ids, now=NOW)) == _outcome(lambda: _orm_mark(ids, NOW))
    assert _outcome(lambda: pending.mark([], now=NOW)) == _outcome(lambda: _orm_mark([], NOW))


def test_mark_matching_equals_the_orm(users):
    _seed(users)
    for queryset in (SvaUser.objects.filter(pk__in=[users[0].pk, users[2].pk]), SvaUser.objects.all(),
                     SvaUser.objects.filter(contract_id__in=[]), SvaUser.objects.filter(external_id="nobody")):
        ids = list(queryset.values_list("pk", flat=True))
        assert _outcome(lambda: pending.mark_matching(queryset, now=NOW)) == _outcome(lambda: _orm_mark(ids, NOW))


def test_mark_contracts_equals_the_orm(users, monkeypatch):
    _seed(users)
    SvaUser.objects.filter(pk=users[2].pk).update(deleted_at=NOW)  # a deleted user is not queued
    contracts = sorted({u.contract_id for u in users})
    for monkey in (False, True):
        if monkey:
            monkeypatch.setattr(pending, "SQLITE_CHUNK", 1)  # several statements on SQLite
        for wanted in (contracts, contracts[:1], [contracts[-1], 10**9], []):
            ids = list(SvaUser.objects.filter(contract_id__in=wanted, deleted_at__isnull=True)
                       .values_list("pk", flat=True))
            assert _outcome(lambda: pending.mark_contracts(wanted, now=NOW)) == _outcome(lambda: _orm_mark(ids, NOW))


def _orm_settle(claims):
    for pk, bumps in claims:
        if bumps is None:
            continue
        row = SvaPendingWork.objects.filter(sva_user_id=pk, bumps=bumps).first()
        user = SvaUser.objects.filter(pk=pk).first()
        if row is None or user is None:
            continue
        if user.version <= user.synced_version and user.next_attempt_at is None:
            row.delete()
        elif user.next_attempt_at is not None and row.due_at != user.next_attempt_at:
            SvaPendingWork.objects.filter(sva_user_id=pk).update(due_at=user.next_attempt_at)


def test_settle_equals_the_orm(users):
    for user, bumps in zip(users, (0, 1, 2)):
        SvaPendingWork.objects.create(sva_user=user, due_at=EARLY, queued_at=EARLY, bumps=bumps)
    SvaUser.objects.filter(pk=users[0].pk).update(synced_version=10**6, next_attempt_at=None)  # converged
    SvaUser.objects.filter(pk=users[1].pk).update(next_attempt_at=LATE)  # waits for a retry
    SvaUser.objects.filter(pk=users[2].pk).update(synced_version=10**6, next_attempt_at=None)  # converged
    for claims in ([(users[0].pk, 0), (users[1].pk, 1), (users[2].pk, 2)],
                   [(users[0].pk, 5), (users[1].pk, 0), (users[2].pk, 2)],  # changed since the claim: kept
                   [(users[0].pk, None), (10**9, 0)], []):
        assert _outcome(lambda: pending.settle(claims)) == _outcome(lambda: _orm_settle(claims))
    first = [(users[0].pk, 0), (users[1].pk, 1), (users[2].pk, 2)]
    assert _outcome(lambda: pending.settle(first))[1] == {users[1].pk: (LATE, EARLY, 1)}  # the test can fail


def _orm_repair(now):
    queued = 0
    for user in SvaUser.objects.all():
        if user.version > user.synced_version and not SvaPendingWork.objects.filter(sva_user_id=user.pk).exists():
            SvaPendingWork.objects.create(sva_user_id=user.pk, due_at=user.next_attempt_at or now,
                                          queued_at=user.changed_at or now, bumps=0)
            queued += 1
    live = set(SvaUser.objects.values_list("pk", flat=True))
    gone = [pk for pk in SvaPendingWork.objects.values_list("sva_user_id", flat=True) if pk not in live]
    SvaPendingWork.objects.filter(sva_user_id__in=gone).delete()
    return queued, len(gone)


def test_repair_equals_the_orm(users):
    SvaUser.objects.filter(pk=users[0].pk).update(version=F("version") + 1, next_attempt_at=LATE,
                                                   changed_at=EARLY)  # pending, no row
    SvaUser.objects.filter(pk=users[1].pk).update(version=F("version") + 1)  # pending, no row, due now
    SvaPendingWork.objects.create(sva_user=users[2], due_at=EARLY, queued_at=EARLY, bumps=4)  # kept as is
    SvaPendingWork.objects.create(sva_user_id=10**9, due_at=EARLY, queued_at=EARLY, bumps=0)  # user gone
    by_sql = _outcome(lambda: pending.repair(now=NOW))
    assert by_sql == _outcome(lambda: _orm_repair(NOW))
    assert by_sql[0] == (2, 1) and 10**9 not in by_sql[1] and by_sql[1][users[2].pk] == (EARLY, EARLY, 4)
    assert by_sql[1][users[0].pk] == (LATE, EARLY, 0)
    pending.repair(now=NOW)  # leave no pending user out of the queue (the suite checks it)
