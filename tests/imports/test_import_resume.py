"""An import killed mid-way (SIGKILL: no chance to clean up) resumes where it stopped,
and every line ends up applied exactly once. Real `agrega` processes, outside any test
transaction, on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db.models import Count

from agrega.contracts.models import Contract, ContractEvent, ContractProduct
from agrega.customers.models import Customer
from agrega.imports.models import ExternalRef, ImportJob, ImportRow

from .helpers import csv_bytes, row
from tests.faults.harness import database_url

pytestmark = pytest.mark.django_db(transaction=True)
LINES = 1000


def agrega(*args) -> subprocess.Popen:
    exe = os.path.join(os.path.dirname(sys.executable), "agrega")
    env = {**os.environ, "DATABASE_URL": database_url(), "AGREGA_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([exe, "import", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def progress_of(line: str) -> int | None:
    if not line.startswith("progresso: "):
        return None
    return int(line.split()[1].split("/")[0].replace(".", ""))


def test_killed_import_resumes_and_applies_every_line_exactly_once(make_product, tmp_path):
    internet = make_product(name="Fibra 1 Giga", price="129.90", fiscal_class="SCM")
    path = tmp_path / "base-antiga.csv"
    path.write_bytes(csv_bytes([row(n, produtos=f"{internet.pk}=99,90") for n in range(1, LINES + 1)]))

    proc = agrega("customers-contracts", str(path), "--batch-size", "20")
    seen = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line and proc.poll() is not None:
                break
            done = progress_of(line)
            if done is not None:
                seen.append(done)
                if done >= 200:
                    proc.send_signal(signal.SIGKILL)  # mid-way, without any chance to clean up
                    break
    finally:
        proc.wait(timeout=20)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, seen)

    job = ImportJob.objects.get()
    assert job.status == "running"  # what a killed process leaves behind
    assert 200 <= job.next_index < LINES, job.next_index
    # what is committed is consistent: the resume point, the rows and the data agree
    assert ImportRow.objects.filter(job=job).count() == job.next_index == job.applied
    assert Contract.objects.count() == ExternalRef.objects.count() == job.applied
    assert Customer.objects.count() == job.applied

    resumed = agrega("customers-contracts", "--resume", str(job.pk), "--batch-size", "50")
    output = resumed.communicate(timeout=120)[0].decode()
    assert resumed.returncode == 0, output
    assert f"retomando da linha {job.next_index + 1}" in output

    job.refresh_from_db()
    assert job.status == "done" and job.next_index == LINES
    assert (job.applied, job.rejected, job.skipped_duplicate) == (LINES, 0, 0)
    assert ImportRow.objects.filter(job=job).count() == LINES
    assert sorted(ImportRow.objects.filter(job=job).values_list("index", flat=True)) == list(range(LINES))
    assert Contract.objects.count() == LINES and Customer.objects.count() == LINES
    assert ContractProduct.objects.count() == LINES
    assert ContractEvent.objects.filter(action="create").count() == LINES
    assert not ExternalRef.objects.values("ref").annotate(n=Count("pk")).filter(n__gt=1).exists()
    per_customer = Contract.objects.values("customer").annotate(n=Count("pk")).filter(n__gt=1)
    assert not per_customer.exists()

    # importing the whole file again afterwards applies nothing
    again = agrega("customers-contracts", str(path), "--json", "--quiet")
    out = again.communicate(timeout=120)[0].decode()
    assert again.returncode == 0, out
    assert Contract.objects.count() == LINES
    latest = ImportJob.objects.order_by("-pk").first()
    assert latest.skipped_duplicate == LINES and latest.applied == 0


def test_resume_refuses_a_job_held_by_a_live_process(make_product, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(csv_bytes([row(n) for n in range(1, 4)]))
    from agrega.imports.services import import_job_create

    job = import_job_create(file_name="c.csv", content=path.read_bytes())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        from django.utils import timezone

        import socket

        ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now(),
                                                   runner=f"{socket.gethostname()}:{sleeper.pid}:x")
        proc = agrega("customers-contracts", "--resume", str(job.pk))
        out = proc.communicate(timeout=60)[0].decode()
        assert proc.returncode == 2 and "import_running" in out
        sleeper.kill()
        sleeper.wait()
        proc = agrega("customers-contracts", "--resume", str(job.pk), str(path))
        out = proc.communicate(timeout=60)[0].decode()
        assert proc.returncode == 0, out
        assert ImportJob.objects.get(pk=job.pk).applied == 3
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
