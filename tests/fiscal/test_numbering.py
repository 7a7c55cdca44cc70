"""Numbering under concurrent workers with a SIGKILL in the middle: four real
``agrega nfcom emit`` processes share one série; one is killed while working; a last
run finishes. Every título has exactly one NFCom, and the numbers are 1..N — no
duplicate, no gap — on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from agrega.fiscal.models import NFCom, Series

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def worker(log_dir, name):
    env = dict(os.environ, DATABASE_URL=database_url(), AGREGA_FISCAL_AUTO_EMIT="0")
    log = open(log_dir / f"{name}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "agrega.cli", "nfcom", "emit", "--period", "2026-12",
                             "--no-send", "--shuffle"], env=env, stdout=log, stderr=subprocess.STDOUT)


def test_four_workers_and_a_sigkill_leave_no_duplicate_and_no_gap(emitter, billed, tmp_path):
    invoices = billed(40)
    procs = [worker(tmp_path, f"w{i}") for i in range(4)]
    # kill one as soon as documents are being made (it is then inside or between
    # transactions that hold the série lock)
    deadline = time.monotonic() + 60
    while NFCom.objects.count() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    procs[0].send_signal(signal.SIGKILL)
    for p in procs:
        p.wait(timeout=300)
    assert procs[0].returncode == -signal.SIGKILL
    # a last run finishes what the killed one left
    last = worker(tmp_path, "last")
    assert last.wait(timeout=300) == 0, (tmp_path / "last.log").read_text()
    numbers = sorted(NFCom.objects.values_list("number", flat=True))
    assert numbers == list(range(1, len(invoices) + 1))  # no gap, no duplicate
    assert NFCom.objects.values("invoice_id").distinct().count() == len(invoices)
    assert Series.objects.get(serie=1).next_number == len(invoices) + 1
    assert NFCom.objects.values("key").distinct().count() == len(invoices)
