"""``agrega worker`` stopped with SIGTERM to its process group (a supervisor, ``kill --
-PGID``, the benches) while its task worker child runs a task: the child gets one
SIGTERM, finishes the task, and the task is SUCCESSFUL — not abandoned and FAILED
because a second SIGTERM (the group's, then the parent's own stop) forced it out.
A real ``agrega worker`` process on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django_tasks_db.models import DBTaskResult

from tests.core.slow_task import note_slowly
from tests.core.test_task_kill import database_url, wait

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_task_in_hand_when_agrega_worker_gets_sigterm_finishes(tmp_path):
    marker = tmp_path / "task.txt"
    result = note_slowly.enqueue(path=str(marker), seconds=3.0)
    log = tmp_path / "worker.log"
    exe = os.path.join(os.path.dirname(sys.executable), "agrega")
    env = {**os.environ, "DATABASE_URL": database_url(), "AGREGA_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
           "AGREGA_TASK_POLL": "0.1", "PYTHONPATH": os.getcwd()}
    worker = subprocess.Popen([exe, "worker", "--no-jobs"], env=env, stdout=log.open("ab"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait(lambda: marker.exists(), seconds=120, step=0.05, what="the task to start")
        os.killpg(worker.pid, signal.SIGTERM)  # the whole group, as a supervisor does
        worker.wait(timeout=90)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    output = log.read_text()
    row = DBTaskResult.objects.get(pk=result.id)
    assert row.status == "SUCCESSFUL", (row.status, output[-3000:])
    assert marker.read_text() == "started\nfinished\n"
    assert output.count("Received Terminated") == 1, output[-3000:]
    assert "terminating current task" not in output
