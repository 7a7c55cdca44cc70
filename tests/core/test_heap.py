"""A command run from the command line freezes its start-up heap once
(agrega/core/heap.py), and so does a web worker (agrega/wsgi.py); call_command, as the
tests use it, does not."""

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.web_process import web_worker_env

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("frozen", gc.get_freeze_count(), file=sys.stderr))
from agrega import cli
from agrega.core.heap import freeze_startup_heap
try:
    cli.main(sys.argv[1:])
finally:
    frozen = gc.get_freeze_count()
    freeze_startup_heap()  # a second call: nothing more
    assert gc.get_freeze_count() == frozen
"""


@pytest.mark.parametrize("command", [["tasks", "--help"], ["worker", "--help"]], ids=["tasks", "worker"])
def test_a_command_from_the_command_line_freezes_the_start_up_heap(command):
    """Every command, ``agrega worker`` included (the SVA loop: a full collection there
    holds the interpreter lock its HTTP threads need)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "agrega.settings"}
    done = subprocess.run([sys.executable, "-c", PROBE, *command], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    frozen = [line for line in done.stderr.splitlines() if line.startswith("frozen ")]
    assert frozen, done.stderr[-2000:]
    # Django's setup alone leaves tens of thousands of objects; at least thousands are frozen
    assert int(frozen[-1].split()[1]) > 5000


def test_call_command_does_not_freeze(db):
    before = gc.get_freeze_count()
    call_command("tasks", "list")
    # not one more: a freeze would add tens of thousands (a frozen object freed meanwhile, such
    # as a closed connection's, takes one away)
    assert gc.get_freeze_count() <= before


def test_the_web_app_freezes_its_start_up_heap_with_the_url_configuration_in_it():
    """A web worker freezes what its start-up left, URL configuration and views included
    (agrega/wsgi.py): a full collection then walks only what requests made since."""
    probe = (
        "import gc\n"
        "import agrega.wsgi\n"  # what gunicorn imports in each web worker
        "from django.urls import get_resolver\n"
        "tracked = {id(o) for o in gc.get_objects()}\n"  # the frozen objects are no longer tracked there
        "patterns = get_resolver().url_patterns\n"
        "print('frozen', gc.get_freeze_count())\n"
        "print('patterns_frozen', id(patterns) not in tracked)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=web_worker_env(), capture_output=True,
                          text=True, timeout=120)
    lines = dict(line.split()[:2] for line in done.stdout.splitlines()
                 if line.split()[:1] in (["frozen"], ["patterns_frozen"]))
    assert len(lines) == 2, done.stdout[-1000:] + done.stderr[-2000:]
    assert int(lines["frozen"]) > 50_000  # Django, the apps and the API: tens of thousands of objects
    assert lines["patterns_frozen"] == "True"  # the URL configuration was loaded before the freeze
