"""Reconciliation as separate processes, outside any test transaction (as in production):
two runs of one integration at once (one is refused), and a run while a real
``agrega worker`` process converges the same users."""

from __future__ import annotations

import json
import signal

import pytest

from agrega.contracts.services import contract_transition
from agrega.core.errors import Conflict
from agrega.integrations.services import integration_update
from agrega.sva.models import ReconciliationRun, SvaCall, SvaUser
from agrega.sva.reconcile.services import reconcile_integration
from agrega.sva.selectors import desired_for
from tests.fixtures import default_platform_only

from .conftest import agrega_process, pending_count, spec, wait_until

sva_platform = default_platform_only()

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_second_run_of_the_same_integration_is_refused(platform_integration, synced_users, platform_admin):
    synced_users(8)
    integration_update(integration=platform_integration, timeout_seconds=10)
    args = ("reconcile", "--integration", str(platform_integration.pk), "--page-size", "1", "--json")
    # A slow platform and one user per page: the first run lasts as long as the test needs.
    platform_admin.set_faults(latency_ms=3000, prefix=platform_integration.prefix)
    first = agrega_process(*args)
    try:
        wait_until(lambda: ReconciliationRun.objects.filter(integration=platform_integration, status="running").exists()
                   or first.poll() is not None, 90, "the first run to start")
        assert first.poll() is None
        # Another machine…
        second = agrega_process(*args)
        refused_out, refused_err = second.communicate(timeout=120)
        assert first.poll() is None, "the first run ended before the second was refused: too fast a platform?"
        # …and this process, while it runs.
        with pytest.raises(Conflict) as refused:
            reconcile_integration(platform_integration, runner="test")
        assert refused.value.code == "reconcile_running"
        assert "já em execução" in refused.value.message
    finally:
        platform_admin.clear_faults()  # let the first run finish quickly
        done_out, done_err = first.communicate(timeout=120)
    assert second.returncode == 2, (refused_out, refused_err)
    assert json.loads(refused_out)["error"]["code"] == "reconcile_running"
    assert "já em execução" in refused_err.decode()
    assert first.returncode == 0, done_err.decode()
    [run] = json.loads(done_out)["runs"]
    assert run["status"] == "done" and run["counts"]["remote_users"] == 8 and run["counts"]["pages"] == 8
    assert list(ReconciliationRun.objects.values_list("status", flat=True)) == ["done"]
    # Once it is over, the next run goes.
    assert reconcile_integration(platform_integration, runner="test").status == "done"


def test_reconcile_while_a_worker_process_runs(platform_integration, synced_users, platform, platform_account,
                                               platform_admin, converge):
    users = synced_users(20)
    deleted, blocked, edited = users[:5], users[5:10], users[10:13]
    for user in deleted:
        platform.delete_user(user.external_id)
    for user in blocked:
        platform.block_user(user.external_id)
    for user in edited:
        remote = platform.get_user(user.external_id)
        platform.update_user(spec(user.external_id, name=remote.name, email="trocado-" + remote.email,
                                  phone=remote.phone, document=remote.document))
    stranger = platform.create_user(spec())
    creates_before = SvaCall.objects.filter(operation="create_user", status_code=201).count()
    assert creates_before == 20

    platform_admin.set_faults(latency_ms=60, prefix=platform_integration.prefix)
    worker = agrega_process("worker", "--no-jobs", "--concurrency", "4", AGREGA_SVA_IDLE_POLL="0.05",
                            AGREGA_SVA_BACKOFF_BASE="0.1", AGREGA_SVA_BACKOFF_MAX="0.5",
                            AGREGA_LOG_LEVEL="WARNING")
    try:
        reconcile = agrega_process("reconcile", "--integration", str(platform_integration.pk), "--page-size", "3",
                                   "--json")
        wait_until(lambda: ReconciliationRun.objects.filter(status="running").exists() or reconcile.poll() is not None,
                   90, "the run to start")
        # Operators keep working while it runs: the worker has pending users of its own,
        # some of them drifted too (blocked or deleted on the platform).
        for user in (deleted[0], blocked[0], users[15], users[16]):
            contract_transition(contract=user.contract, action="block_manual")
        out, err = reconcile.communicate(timeout=120)
        assert reconcile.returncode == 0, err.decode()
        wait_until(lambda: pending_count() == 0, 60, "the worker to converge every user")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker_out, worker_err = worker.communicate(timeout=30)
    assert worker.returncode == 0, worker_err.decode()
    platform_admin.clear_faults()

    [run] = json.loads(out)["runs"]
    assert run["status"] == "done"
    kinds = {(i["external_id"], i["kind"]) for i in run["items"]}
    assert (stranger.external_id, "unknown_on_platform") in kinds
    for user in deleted[1:]:
        assert (user.external_id, "missing_on_platform") in kinds
    for user in blocked[1:]:
        assert (user.external_id, "state_differs") in kinds
    for user in edited:
        assert (user.external_id, "data_differs") in kinds

    # The end: no duplicate on the platform, every user as Agrega wants it, and each
    # missing user created exactly once (by one hand: reconciliation only marks).
    remote = {u["external_id"]: u for u in platform_account.users()}
    assert len(remote) == len(platform_account.users()) == 21
    for user in SvaUser.objects.filter(integration=platform_integration):
        desired = desired_for(user)
        assert remote[user.external_id]["status"] == desired.state, user
        assert remote[user.external_id]["email"] == desired.email
    assert SvaCall.objects.filter(operation="create_user", status_code=201).count() == creates_before + 5
    assert not SvaCall.objects.filter(error_code="duplicate_external_id").exists()
    final = reconcile_integration(platform_integration, runner="test")
    assert final.counts["differences"] == 1  # only the stranger, reported
    assert [i.kind for i in final.items.all()] == ["unknown_on_platform"]
