"""A background task killed mid-way (SIGKILL of its worker: no chance to clean up) is
taken up again and finishes with nothing done twice and nothing left out. Real
``agrega tasks worker`` processes on the test database, outside any test transaction.

django-tasks-db alone leaves the killed task RUNNING forever; the heartbeat and reclaim
of agrega/core/tasks.py put it back in the queue (decision 0008)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum

from agrega.billing import services
from agrega.billing.models import BillingRun, Invoice, InvoiceLine
from agrega.contracts.choices import AccessStatus, ContractStatus, ProductKind
from agrega.contracts.models import Contract, ContractProduct
from agrega.core.models import TaskWorkerBeat
from agrega.core.tasks import reclaim_orphans
from django_tasks_db.models import DBTaskResult
from tests.billing.fixtures_billing import at, months_ago

pytestmark = pytest.mark.django_db(transaction=True)
CONTRACTS = 3000
CHUNK = 20


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return (f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}")


def task_worker(log_path) -> subprocess.Popen:
    exe = os.path.join(os.path.dirname(sys.executable), "agrega")
    env = {**os.environ, "DATABASE_URL": database_url(), "AGREGA_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
           "AGREGA_BILLING_RUN_CHUNK": str(CHUNK), "AGREGA_TASK_HEARTBEAT": "0.5", "AGREGA_TASK_LEASE": "3",
           "AGREGA_TASK_POLL": "0.1"}
    # the scheduler off: only the task under test runs
    return subprocess.Popen([exe, "tasks", "worker", "--no-scheduler"], env=env, stdout=log_path.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def many_active_contracts(make_contract, make_product, n: int) -> list[int]:
    internet = make_product(name="Internet 500 Mega", price="99.90", fiscal_class="SCM")
    first = make_contract()
    start = at(months_ago(6))
    contracts = Contract.objects.bulk_create([
        Contract(customer_id=first.customer_id, status=ContractStatus.ACTIVE, access_status=AccessStatus.ACTIVE,
                 billing_day=1 + i % 28, activated_at=start) for i in range(n)])
    ContractProduct.objects.bulk_create([
        ContractProduct(contract=c, product=internet, kind=ProductKind.OTHER)
        for c in contracts])
    ContractProduct.objects.filter(contract__in=contracts).update(added_at=start)
    return [c.pk for c in contracts]


def wait(condition, seconds: float = 60.0, step: float = 0.02, what: str = "the condition"):
    """Polls until ``condition()`` is true. The condition must stay true once it is (a
    window such as "between 0 and half done" can be missed by a test process the machine
    starves, and then waits for ever); the deadline only bounds a broken worker."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def test_billing_run_task_killed_mid_way_is_taken_up_again_and_bills_each_contract_once(
        make_contract, make_product, tmp_path):
    ids = many_active_contracts(make_contract, make_product, CONTRACTS)
    run = services.billing_run_queue(period=months_ago(1), actor=None)
    log = tmp_path / "worker.log"

    first = task_worker(log)
    try:
        # mid-way: killed as soon as a chunk is committed (150 chunks: far from the end,
        # however slowly this process sees it); checked below from what was committed
        wait(lambda: BillingRun.objects.get(pk=run.pk).contracts_seen > 0, what="a first committed chunk")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=20)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    task = DBTaskResult.objects.get(pk=run.task_id)
    assert task.status == "RUNNING"  # what django-tasks-db leaves behind a dead worker
    killed = BillingRun.objects.get(pk=run.pk)
    assert killed.finished_at is None and 0 < killed.invoices_created < CONTRACTS
    # what is committed agrees with the run's counts
    assert Invoice.objects.filter(billing_run=run).count() == killed.invoices_created == killed.contracts_seen

    # within its lease (here the default 30 s) a silent worker's task is left alone: asked
    # as of a moment inside the lease, not of the wall clock (a slow machine could pass it)
    last_beat = TaskWorkerBeat.objects.get(worker_id=task.worker_ids[0]).beat_at
    inside = last_beat + timedelta(seconds=settings.TASK_LEASE_SECONDS - 1)
    assert reclaim_orphans(now=inside) == {"requeued": [], "failed": []}
    second = task_worker(log)
    try:
        wait(lambda: DBTaskResult.objects.get(pk=run.task_id).status in ("SUCCESSFUL", "FAILED"), seconds=300,
             step=0.2, what="the task to end on the second worker")
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            second.wait()
    task = DBTaskResult.objects.get(pk=run.task_id)
    assert task.status == "SUCCESSFUL", (task.traceback, log.read_text()[-3000:])
    assert len(task.worker_ids) == 2  # claimed by the killed worker, then by the second

    done = BillingRun.objects.get(pk=run.pk)
    period = months_ago(1)
    invoices = Invoice.objects.filter(contract_id__in=ids, period=period)
    # 0 lost, 0 duplicates
    assert invoices.count() == CONTRACTS
    assert not invoices.values("contract_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert InvoiceLine.objects.filter(invoice__in=invoices).count() == CONTRACTS
    # the run's counts are exact across the kill
    assert done.finished_at is not None
    assert done.invoices_created == done.contracts_seen == done.lines_created == CONTRACTS
    assert done.total_amount == Decimal("99.90") * CONTRACTS == round(invoices.aggregate(s=Sum("amount"))["s"], 2)
    assert task.return_value["invoices"] == CONTRACTS
    # the second worker left cleanly; the killed one's last beat stays until it is a day old
    assert list(TaskWorkerBeat.objects.values_list("worker_id", flat=True)) == task.worker_ids[:1]
