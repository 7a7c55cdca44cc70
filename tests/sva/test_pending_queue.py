"""The worker's queue of pending users (agrega/sva/pending.py): every write path queues
what it makes pending, the worker's write-back settles what it converged or must retry
later, and the repair queues users left out by anything else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.sva import pending
from agrega.sva.controller.worker import SvaWorker
from agrega.sva.models import SvaPendingWork, SvaUser
from agrega.sva.services import sva_user_delete, sva_user_request_sync
from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db
sva_platform = default_platform_only()  # Agrega's queue, not a platform's: the neutral fixtures

# Columns a bump or the worker's write-back change: no index or constraint of the users'
# table may name one, so those writes can be HOT updates on PostgreSQL.
WRITTEN = {"version", "synced_version", "changed_at", "next_attempt_at", "claimed_until", "claimed_by",
           "failures", "last_attempt_at", "last_success_at", "last_error_code", "last_error_message",
           "confirmed_state", "confirmed_package", "confirmed_email", "confirmed_phone", "confirmed_document",
           "confirmed_name", "confirmed_at", "creation_attempted", "remote_id", "registration_problems",
           "notified_state"}


@pytest.fixture
def users(platform_integration, make_product, make_contract):
    product = make_product(platform_integration)
    for _ in range(3):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
    return list(SvaUser.objects.order_by("id"))


def queued() -> dict[int, object]:
    return dict(SvaPendingWork.objects.values_list("sva_user_id", "due_at"))


def test_new_users_are_queued_and_the_worker_empties_the_queue(users, platform_account, converge):
    assert set(queued()) == {u.pk for u in users}
    converge()
    assert queued() == {}
    assert not SvaUser.objects.filter(version__gt=F("synced_version")).exists()


def test_every_write_path_queues_its_user(users, platform_account, converge):
    converge()
    first, second, third = users
    contract_transition(contract=first.contract, action="block_manual")  # contracts_changed → bump
    sva_user_request_sync(sva_user=second)
    sva_user_delete(sva_user=third)
    assert set(queued()) == {first.pk, second.pk, third.pk}
    converge()
    assert queued() == {}


def test_a_failed_call_waits_in_the_queue_until_its_retry_time(users, sandbox_kit, platform_admin,
                                                              platform_account, converge, settings):
    converge()
    settings.SVA_WORKER = {**settings.SVA_WORKER, "BACKOFF_BASE_SECONDS": 60, "BACKOFF_MAX_SECONDS": 60,
                           "CIRCUIT_FAILURE_THRESHOLD": 100}
    user = users[0]
    sandbox_kit.inject_fault(platform_admin, platform_account, "server_error")
    contract_transition(contract=user.contract, action="block_manual")
    worker = SvaWorker(concurrency=2)
    try:
        worker.run(until_idle=True, max_seconds=10)
    finally:
        worker.close()
    user.refresh_from_db()
    assert user.failures >= 1
    assert user.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert queued() == {user.pk: user.next_attempt_at}  # not claimed again before then
    platform_admin.clear_faults()
    sva_user_request_sync(sva_user=user)  # "sincronizar agora": due at once again
    assert queued()[user.pk] <= timezone.now()
    converge()
    assert queued() == {}


def test_settle_drops_the_converged_and_moves_a_retry_to_its_time(users):
    first, second, _ = users
    claimed = dict(SvaPendingWork.objects.values_list("sva_user_id", "bumps"))
    SvaUser.objects.filter(pk=first.pk).update(synced_version=F("version"))
    later = timezone.now() + timedelta(minutes=5)
    SvaUser.objects.filter(pk=second.pk).update(next_attempt_at=later)
    with transaction.atomic():
        pending.settle([(first.pk, claimed[first.pk]), (second.pk, claimed[second.pk])])
    rows = queued()
    assert first.pk not in rows
    assert rows[second.pk] == later


@pytest.mark.queue_out_of_step
def test_repair_queues_pending_users_without_a_row_and_drops_rows_without_a_user(users):
    first, second, third = users
    SvaPendingWork.objects.filter(sva_user__in=[first, second]).delete()  # e.g. loaded with SQL
    retry = timezone.now() + timedelta(minutes=3)
    SvaUser.objects.filter(pk=second.pk).update(next_attempt_at=retry)
    SvaPendingWork.objects.create(sva_user_id=third.pk + 1000, due_at=timezone.now())  # its user is gone
    assert pending.repair() == (2, 1)
    rows = queued()
    assert set(rows) == {first.pk, second.pk, third.pk}
    assert rows[second.pk] == retry  # due at its retry time
    assert pending.repair() == (0, 0)


def test_the_worker_repairs_the_queue_when_it_starts(users, platform_account, converge, settings):
    SvaPendingWork.objects.all().delete()
    settings.SVA_WORKER = {**settings.SVA_WORKER, "QUEUE_REPAIR_SECONDS": 600}
    converge()
    assert not SvaUser.objects.filter(version__gt=F("synced_version")).exists()


def test_a_contract_change_writes_the_queue_not_the_users(users):
    versions = dict(SvaUser.objects.values_list("pk", "version"))
    with connection.cursor() as cursor, transaction.atomic():
        def updates():
            if connection.vendor != "postgresql":
                return 0
            cursor.execute("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
                           [SvaUser._meta.db_table])
            return cursor.fetchone()[0]
        before = updates()
        contract_transition(contract=users[0].contract, action="block_manual")
        assert updates() == before
    assert dict(SvaUser.objects.values_list("pk", "version")) == versions
    assert SvaPendingWork.objects.get(sva_user=users[0]).bumps == 1


def test_no_index_of_the_users_table_names_a_column_that_bumps_or_the_worker_write():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, SvaUser._meta.db_table)
    for name, constraint in constraints.items():
        if constraint["index"] or constraint["unique"]:
            assert not set(constraint["columns"]) & WRITTEN, name
    for index in SvaUser._meta.indexes:
        assert index.condition is None or not ({c for c in WRITTEN if c in str(index.condition)}), index.name
