"""bump: what it marks for convergence. Every user gets a new version, loses its retry
wait and is queued for the worker (sva/pending.py) due now — a user already queued
earlier keeps its place. Its row is written first, so no worker claims it before the
change that bumped it commits."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from agrega.contracts import services as contracts
from agrega.sva.models import SvaPendingWork, SvaUser
from agrega.sva.services import bump


def _four_users(integration, make_product, make_contract):
    """Four users, one per contract: synced, pending and free, leased, waiting a retry."""
    product = make_product(integration)
    users = []
    for _ in range(4):
        contract = make_contract()
        contracts.contract_add_product(contract=contract, product_id=product.pk)
        contracts.contract_activate(contract=contract)
        users.append(SvaUser.objects.get(contract=contract))
    synced, free, leased, retrying = users
    now = timezone.now()
    SvaUser.objects.filter(pk=synced.pk).update(synced_version=F("version"))
    SvaPendingWork.objects.filter(sva_user=synced).delete()  # as the worker's settle does
    SvaUser.objects.filter(pk=leased.pk).update(claimed_until=now + timedelta(minutes=1), claimed_by="w1")
    SvaUser.objects.filter(pk=retrying.pk).update(next_attempt_at=now + timedelta(hours=1))
    return {u.pk: SvaUser.objects.values_list("version", flat=True).get(pk=u.pk) for u in users}, users


@pytest.mark.django_db
def test_bump_gives_every_user_a_new_version_and_a_queue_row_due_now(integration, make_product, make_contract):
    before, (synced, free, leased, retrying) = _four_users(integration, make_product, make_contract)
    changed_at = SvaUser.objects.values_list("changed_at", flat=True).get(pk=free.pk)
    due_free = SvaPendingWork.objects.get(sva_user=free).due_at
    SvaPendingWork.objects.filter(sva_user=retrying).update(due_at=timezone.now() + timedelta(hours=1))
    started = timezone.now()
    with transaction.atomic():
        assert bump(SvaUser.objects.filter(pk__in=before)) == 4
    after = dict(SvaUser.objects.filter(pk__in=before).values_list("pk", "version"))
    assert after == {pk: version + 1 for pk, version in before.items()}
    assert SvaUser.objects.values_list("changed_at", flat=True).get(pk=free.pk) == changed_at  # pending since
    assert SvaUser.objects.values_list("changed_at", flat=True).get(pk=synced.pk) >= started
    assert SvaUser.objects.get(pk=retrying.pk).next_attempt_at is None
    assert SvaUser.objects.filter(pk__in=before, version__gt=F("synced_version")).count() == 4  # all pending
    due = dict(SvaPendingWork.objects.filter(sva_user__in=before).values_list("sva_user_id", "due_at"))
    assert set(due) == set(before)
    assert due[free.pk] == due_free  # queued earlier: keeps its place in line
    assert started <= due[synced.pk] <= timezone.now()
    assert due[retrying.pk] <= timezone.now()  # its retry wait is gone here too


@pytest.mark.django_db(transaction=True)
def test_a_user_kept_pending_cannot_be_claimed_until_the_bump_commits(integration, make_product, make_contract):
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SQLite serialises writers: no claim can run beside the bump")
    before, (_, free, _, _) = _four_users(integration, make_product, make_contract)
    seen = {}

    def worker_claim(key):
        try:  # what the worker's claim does: FOR UPDATE SKIP LOCKED
            with transaction.atomic():
                seen[key] = list(SvaUser.objects.select_for_update(skip_locked=True)
                                 .filter(pk=free.pk).values_list("pk", flat=True))
        finally:
            connections.close_all()

    with transaction.atomic():
        bump(SvaUser.objects.filter(pk__in=before))
        thread = threading.Thread(target=worker_claim, args=("during",))
        thread.start()
        thread.join()
    thread = threading.Thread(target=worker_claim, args=("after",))
    thread.start()
    thread.join()
    assert seen == {"during": [], "after": [free.pk]}
