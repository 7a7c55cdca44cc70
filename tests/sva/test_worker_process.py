"""The real `agrega worker` process, outside any test transaction (as in production)."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.sva.controller.worker import SvaWorker
from agrega.sva.models import SvaPendingWork
from tests.faults.harness import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def wait_converged(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not SvaPendingWork.objects.exists():
            return True
        time.sleep(0.1)
    return False


def start_worker(*, concurrency: int, **env) -> subprocess.Popen:
    """A real `agrega worker` process on this test's database (output merged on stdout)."""
    env = {"DATABASE_URL": database_url(), "AGREGA_SVA_IDLE_POLL": "0.1", "AGREGA_LOG_LEVEL": "INFO", **env}
    agrega = os.path.join(os.path.dirname(sys.executable), "agrega")
    return subprocess.Popen([agrega, "worker", "--concurrency", str(concurrency)], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for_line(proc, text: str, seconds: float) -> None:
    """Read the process's output until a line contains ``text``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"worker did not print {text!r}")


@pytest.fixture
def activated(platform_integration, make_product, make_contract):
    product = make_product(platform_integration)
    contracts = []
    for _ in range(5):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
        contracts.append(contract)
    return contracts


def test_worker_loop_outside_a_transaction(activated, platform_account, fast_retries):
    worker = SvaWorker(concurrency=4)
    try:
        worker.run(until_idle=True, max_seconds=10)
    finally:
        worker.close()
    assert {u["status"] for u in platform_account.users()} == {"active"}
    assert len(platform_account.users()) == 5


def test_agrega_worker_command_converges_and_stops_on_sigterm(activated, platform_account):
    proc = start_worker(concurrency=4, AGREGA_LOG_LEVEL="WARNING")
    try:
        assert wait_converged(20), "the worker process did not converge the users"
        for contract in activated[:2]:
            contract_transition(contract=contract, action="block_manual")
        assert wait_converged(20)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, output
    statuses = sorted(u["status"] for u in platform_account.users())
    assert statuses == ["active"] * 3 + ["blocked"] * 2


def test_two_worker_processes_share_the_queue_without_doing_anything_twice(platform_integration, make_product,
                                                                           make_contract, platform_account,
                                                                           platform_admin):
    product = make_product(platform_integration)
    contracts = []
    for _ in range(30):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contracts.append(contract)
    platform_admin.set_faults(latency_ms=50)  # calls overlap, so both workers hold claims at once
    procs = [start_worker(concurrency=2, AGREGA_SVA_IDLE_POLL="0.05", AGREGA_SVA_BATCH="4") for _ in range(2)]
    try:
        for proc in procs:  # both workers up and polling before there is any work
            wait_for_line(proc, "started", 30)
        for contract in contracts:
            contract_transition(contract=contract, action="activate")
        assert wait_converged(30), "two workers did not converge the users"
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=20)[0].decode() for proc in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    users = platform_account.users()
    assert len(users) == 30 and len({u["external_id"] for u in users}) == 30
    from agrega.sva.models import SvaCall

    creates = SvaCall.objects.filter(operation="create_user")
    assert creates.count() == 30  # each user created exactly once, by one of the workers
    assert len(set(creates.values_list("worker", flat=True))) == 2, "both workers took part"


@pytest.mark.skipif("os.environ.get('DATABASE_URL', '').startswith('postgres') is False",
                    reason="SQLite has no server connection to drop")
def test_worker_survives_its_database_connection_being_dropped(activated, platform_account):
    proc = start_worker(concurrency=2)
    try:
        wait_for_line(proc, "started", 30)
        assert wait_converged(20)
        with connection.cursor() as cursor:  # the server drops every other session of this database
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            assert cursor.fetchone()[0] >= 1
        for contract in activated:
            contract_transition(contract=contract, action="block_manual")
        assert wait_converged(20), "the worker did not recover from the dropped connection"
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, output
    assert "database error" in output
    assert {u["status"] for u in platform_account.users()} == {"blocked"}
