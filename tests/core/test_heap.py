"""A command run from the command line freezes its start-up heap once
(agrega/core/heap.py); call_command, as the tests use it, does not."""

import gc
import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("frozen", gc.get_freeze_count(), file=sys.stderr))
from agrega import cli
from agrega.core.heap import freeze_startup_heap
try:
    cli.main(["tasks", "--help"])
finally:
    frozen = gc.get_freeze_count()
    freeze_startup_heap()  # a second call: nothing more
    assert gc.get_freeze_count() == frozen
"""


def test_a_command_from_the_command_line_freezes_the_start_up_heap():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "agrega.settings"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    frozen = [line for line in done.stderr.splitlines() if line.startswith("frozen ")]
    assert frozen, done.stderr[-2000:]
    # Django's setup alone leaves tens of thousands of objects; at least thousands are frozen
    assert int(frozen[-1].split()[1]) > 5000


def test_call_command_does_not_freeze(db):
    before = gc.get_freeze_count()
    call_command("tasks", "list")
    assert gc.get_freeze_count() == before
