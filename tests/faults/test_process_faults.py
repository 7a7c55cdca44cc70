"""The workers themselves fail, or there are several of them: a worker SIGKILLed in the
middle of a batch, two and four workers at once, the database connection dropped under
the workers (docs/faults.md)."""

import time
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from agrega.integrations.connectors.base import Capability
from agrega.integrations.connectors.registry import platform_allows
from agrega.sva.models import SvaCall, SvaUser

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

POSTGRES = connection.vendor == "postgresql"


def test_worker_killed_mid_batch(fault_run):
    """A worker dies (SIGKILL) with calls in flight and outcomes not yet written: the
    platform applied creations and blocks that Agrega never recorded. Its claims stay
    leased until they expire; meanwhile the operators release those contracts again. A
    restarted worker must not trust the state last recorded for them (the platform may
    hold what the dead worker sent): it looks them up first, then converges them."""
    lease = 3
    run = fault_run("worker SIGKILLed mid-batch", size=60, seed=51)
    lookup = platform_allows(run.integration.platform, Capability.LOOKUP_BY_EXTERNAL_ID)
    fresh, settled = run.fleet.contracts[:10], run.fleet.contracts[10:]
    [creator] = run.workers.start(1, concurrency=8, wait=False)
    for contract in settled:
        run.fleet.change(contract, "activate", count=False)
    assert run.converge(bound=30) is not None
    assert creator.stop() == 0
    # Work queues up while no worker runs: creations first (lowest ids), then blocks.
    for contract in fresh:
        run.fleet.change(contract, "activate")
    for contract in settled:
        run.fleet.change(contract, "block_manual")
    run.faults(latency_ms=150)  # every call takes a while: a batch is always in flight
    [victim] = run.workers.start(1, concurrency=8, AGREGA_SVA_LEASE_SECONDS=str(lease))
    deadline = time.monotonic() + 20
    while not (SvaCall.objects.filter(worker=victim.worker_id).exists()
               and SvaUser.objects.filter(claimed_by=victim.worker_id, claimed_until__gt=timezone.now()).exists()):
        assert time.monotonic() < deadline, "the worker wrote no batch"
        time.sleep(0.02)
    victim.kill()
    run.extra_faults["sigkill"] += 1
    leased = dict(SvaUser.objects.filter(claimed_by=victim.worker_id).values_list("id", "claimed_until"))
    assert leased, "the killed worker held claims"
    # Operators go on while nobody converges: the users the dead worker held are released.
    for contract in settled:
        if contract.sva_users.filter(id__in=leased).exists():
            run.fleet.change(contract, "release")
    run.fleet.run_program(1.0)
    [heir] = run.workers.start(1, concurrency=8, AGREGA_SVA_LEASE_SECONDS=str(lease))
    run.clear_faults()
    run.converge(bound=30)
    run.finish()

    assert {creator.worker_id, victim.worker_id, heir.worker_id} <= run.workers_in_timeline()
    for user_id, until in leased.items():
        taken = [c for c in run.calls.get(user_id, []) if c.worker == heir.worker_id]
        # The heir took a dead worker's user only once its lease had expired, and looked
        # it up first.
        assert not taken or min(c.created_at for c in taken) >= until, (user_id, until)
        first = next((c for c in taken if c.operation != "auth_token"), None)
        # without a lookup (the webhook), the whole state is sent again instead: a
        # creation that the platform applies as an update of the user it holds
        settling = ("get_user", "delete_user") if lookup else ("create_user", "delete_user")
        assert first is None or first.operation in settling, (user_id, first.operation)
    # The kill hit calls in flight: the platform saw calls the timelines never got.
    assert run.delta["requests"] > sum(len(c) for c in run.calls.values())
    assert run.refused_external_ids == 0, "a creation the dead worker sent was sent again"


@pytest.mark.parametrize("count", [2, 4])
def test_several_workers_at_once(fault_run, count):
    """Several worker processes share the queue while the platform is slow, fails now
    and then and loses some answers: each user is worked by one worker at a time, so
    none is created twice and no creation is sent again blindly."""
    if count > 2 and not POSTGRES:
        pytest.skip("four workers at once: PostgreSQL only (SQLite serialises every writer; "
                    "claims with SKIP LOCKED are what lets workers scale out)")
    size = {2: 120, 4: 160}[count] if POSTGRES else 100
    run = fault_run(f"{count} workers at once", size=size, seed=60 + count)
    started = run.workers.start(count, concurrency=4)  # all of them up before there is work
    run.faults(latency_ms=20, error_rate=0.1, lost_response_rate=0.03, hang_seconds=1.5, seed=60 + count)
    run.fleet.activate_all()
    run.fleet.run_program(3.0)
    run.clear_faults()
    run.converge(bound=40)
    run.finish()

    assert {w.worker_id for w in started} <= run.workers_in_timeline(), "every worker took part"
    for user_id, calls in run.calls.items():
        created = [c for c in calls if c.operation == "create_user" and c.status_code == 201]
        assert len(created) <= 1, f"user {user_id} created {len(created)} times"
    assert run.refused_external_ids == 0, "two workers worked on one user, or a creation was repeated"


def wait_for_connections(app: str, workers, seconds: float = 30.0) -> None:
    """Until every worker has a database connection again (they reconnect after 1 s)."""
    deadline = time.monotonic() + seconds
    while True:
        for worker in workers:
            assert worker.proc.poll() is None, f"{worker.name} died:\n{worker.output()[-3000:]}"
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app])
            if cursor.fetchone()[0] >= len(workers):
                return
        assert time.monotonic() < deadline, f"the workers did not reconnect within {seconds:.0f}s"
        time.sleep(0.05)


@pytest.mark.skipif(not POSTGRES, reason="SQLite has no server connection to drop")
def test_database_connection_dropped(fault_run):
    """The database server drops the workers' connections (a restart, a failover, an
    idle-session killer) several times while they work: each worker reconnects, and what
    it could not write is redone once its leases expire."""
    app = f"agrega-faults-{uuid.uuid4().hex[:8]}"  # libpq's application_name for the workers
    run = fault_run("database connection dropped", size=60, seed=71)
    started = run.workers.start(2, concurrency=4, wait=False, PGAPPNAME=app, AGREGA_SVA_LEASE_SECONDS="3")
    run.faults(latency_ms=30, error_rate=0.1, seed=71)
    run.fleet.activate_all()
    run.workers.wait_started()
    for _ in range(3):
        run.fleet.run_program(1.0)
        wait_for_connections(app, started)  # reconnected since the last drop
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE application_name = %s", [app])
            run.extra_faults["db_connection_dropped"] += cursor.fetchone()[0]
    run.clear_faults()
    run.converge(bound=30)
    run.finish()

    for worker in started:
        assert "database error" in worker.output(), f"{worker.name} never saw its connection drop"
    # What a worker could not write is looked up before anything is sent again.
    assert run.refused_external_ids == 0
