"""A task that takes a while, for tests/core/test_worker_sigterm.py (importable by the
real task worker process: module level, no test fixtures)."""

from __future__ import annotations

import time
from pathlib import Path

from django_tasks import task


@task()
def note_slowly(path: str, seconds: float) -> str:
    """Writes "started", waits ``seconds``, appends "finished"."""
    Path(path).write_text("started\n")
    time.sleep(seconds)
    with open(path, "a") as out:
        out.write("finished\n")
    return "done"
