"""The real `agrega worker` process, outside any test transaction (as in production)."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.db.models import F

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.sva.controller.worker import SvaWorker
from agrega.sva.models import SvaUser

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return (f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}")


def wait_converged(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not SvaUser.objects.filter(version__gt=F("synced_version")).exists():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def activated(integration, make_product, make_contract):
    product = make_product(integration)
    contracts = []
    for _ in range(5):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
        contracts.append(contract)
    return contracts


def test_worker_loop_outside_a_transaction(activated, exa_account, fast_retries):
    worker = SvaWorker(concurrency=4)
    try:
        worker.run(until_idle=True, max_seconds=10)
    finally:
        worker.close()
    assert {u["status"] for u in exa_account.users()} == {"active"}
    assert len(exa_account.users()) == 5


def test_agrega_worker_command_converges_and_stops_on_sigterm(activated, exa_account):
    env = dict(os.environ, DATABASE_URL=database_url(), AGREGA_SVA_IDLE_POLL="0.1", AGREGA_LOG_LEVEL="WARNING")
    agrega = os.path.join(os.path.dirname(sys.executable), "agrega")
    proc = subprocess.Popen([agrega, "worker", "--concurrency", "4"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_converged(20), "the worker process did not converge the users"
        for contract in activated[:2]:
            contract_transition(contract=contract, action="block_manual")
        assert wait_converged(20)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, output
    statuses = sorted(u["status"] for u in exa_account.users())
    assert statuses == ["active"] * 3 + ["blocked"] * 2
