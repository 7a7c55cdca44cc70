"""bump: a change of a contract, customer or product queues its users for the worker
(sva/pending.py) without writing their rows: due now, or at the earlier time a user was
already queued for, one more change counted. The worker deletes a row only if no change
came since it claimed the user, so a change made during a convergence is never lost."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from agrega.contracts import services as contracts
from agrega.sva import pending
from agrega.sva.models import SvaPendingWork, SvaUser
from agrega.sva.services import bump

from tests.fixtures import default_platform_only

# the queue is Agrega's, not a platform's: once, on the default platform
sva_platform = default_platform_only()


def _four_users(integration, make_product, make_contract):
    """Four users, one per contract: converged (no queue row), queued, leased, waiting
    for a retry an hour from now."""
    product = make_product(integration)
    users = []
    for _ in range(4):
        contract = make_contract()
        contracts.contract_add_product(contract=contract, product_id=product.pk)
        contracts.contract_activate(contract=contract)
        users.append(SvaUser.objects.get(contract=contract))
    synced, queued, leased, retrying = users
    now = timezone.now()
    SvaUser.objects.filter(pk=synced.pk).update(synced_version=F("version"))
    SvaPendingWork.objects.filter(sva_user=synced).delete()  # as the worker's settle does
    SvaUser.objects.filter(pk=leased.pk).update(claimed_until=now + timedelta(minutes=1), claimed_by="w1")
    SvaUser.objects.filter(pk=retrying.pk).update(next_attempt_at=now + timedelta(hours=1))
    SvaPendingWork.objects.filter(sva_user=retrying).update(due_at=now + timedelta(hours=1))
    return users


def rows() -> dict[int, tuple]:
    return {r[0]: r[1:] for r in SvaPendingWork.objects.values_list("sva_user_id", "due_at", "bumps")}


@pytest.mark.django_db
def test_bump_queues_every_user_due_now_without_writing_it(platform_integration, make_product, make_contract):
    users = _four_users(platform_integration, make_product, make_contract)
    synced, queued, leased, retrying = users
    versions = dict(SvaUser.objects.values_list("pk", "version"))
    before = rows()
    started = timezone.now()
    with transaction.atomic():
        assert bump(SvaUser.objects.filter(pk__in=[u.pk for u in users])) == 4
    after = rows()
    assert dict(SvaUser.objects.values_list("pk", "version")) == versions  # the users' rows untouched
    assert started <= after[synced.pk][0] <= timezone.now() and after[synced.pk][1] == 0  # queued anew
    assert after[queued.pk] == (before[queued.pk][0], 1)  # keeps its place in line, one change more
    assert after[leased.pk][1] == 1
    assert after[retrying.pk][0] <= timezone.now()  # its retry wait is gone: due now
    assert bump(SvaUser.objects.none()) == 0
    assert bump(SvaUser.objects.filter(contract_id__in=[])) == 0


@pytest.mark.django_db
def test_settle_deletes_a_row_only_if_no_change_came_since_the_claim(platform_integration, make_product, make_contract):
    users = _four_users(platform_integration, make_product, make_contract)
    queued, other = users[1], users[2]
    claimed = rows()
    SvaUser.objects.filter(pk__in=[queued.pk, other.pk]).update(synced_version=F("version"),
                                                                claimed_until=None, claimed_by="")
    bump(SvaUser.objects.filter(pk=other.pk))  # a change while the worker held it
    with transaction.atomic():
        pending.settle([(queued.pk, claimed[queued.pk][1]), (other.pk, claimed[other.pk][1])])
    left = rows()
    assert queued.pk not in left
    assert other.pk in left and left[other.pk][1] == claimed[other.pk][1] + 1


@pytest.mark.django_db(transaction=True)
def test_a_change_committing_while_the_worker_settles_keeps_the_user_queued(
        platform_integration, make_product, make_contract):
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SQLite serialises writers: no settle can run beside the change")
    users = _four_users(platform_integration, make_product, make_contract)
    user = users[1]
    claimed = rows()[user.pk][1]
    SvaUser.objects.filter(pk=user.pk).update(synced_version=F("version"))

    def worker_settle():
        try:
            with transaction.atomic():
                pending.settle([(user.pk, claimed)])  # waits for the change's lock on the row
        finally:
            connections.close_all()

    with transaction.atomic():
        bump(SvaUser.objects.filter(pk=user.pk))
        thread = threading.Thread(target=worker_settle)
        thread.start()
        time.sleep(0.3)
    thread.join()
    assert rows()[user.pk][1] == claimed + 1  # re-checked on the committed row: kept
