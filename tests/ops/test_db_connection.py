"""The web's database connection: kept for the process's life, and checked when a request
comes after an idle spell (AGREGA_DB_IDLE_CHECK_SECONDS, core/connections.py), so that one
the database dropped meanwhile (a restart, an idle-session killer) is opened again instead
of failing the request; AGREGA_DB_CONN_MAX_AGE refuses what is no duration."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.db import connection

from agrega.settings import _conn_max_age
from tests.faults.harness import database_url
from tests.web_process import ROOT, web_worker_env

POSTGRES = connection.vendor == "postgresql"

# Runs as a web worker does: agrega.wsgi's application, whose request signals keep or close
# the connection (Django's test client leaves them out), two GET /readyz with the
# connection killed from outside between them.
PROBE = """
import io, json, os, time
import psycopg
import agrega.wsgi
from django.db import connection

def get(path):
    seen = {}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(),
               "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO()}
    response = agrega.wsgi.application(environ, lambda status, headers: seen.setdefault("status", status))
    b"".join(response)
    response.close()  # as a WSGI server does: Django's request_finished
    return int(seen["status"].split()[0])

first = get("/readyz")
before = connection.connection.info.backend_pid
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as other:
    other.execute("SELECT pg_terminate_backend(%s)", [before])
time.sleep(float(os.environ["PROBE_PAUSE"]))
second = get("/readyz")
after = connection.connection.info.backend_pid if connection.connection is not None else None
print(json.dumps({"first": first, "second": second, "before": before, "after": after}))
"""


def run_probe(**settings_env) -> dict:
    env = web_worker_env(DATABASE_URL=database_url(), AGREGA_ALLOWED_HOSTS="127.0.0.1", AGREGA_LOG_LEVEL="CRITICAL")
    for name in ("AGREGA_DB_CONN_MAX_AGE", "AGREGA_DB_IDLE_CHECK_SECONDS"):
        env.pop(name, None)  # the defaults, unless the test sets them
    env.update(settings_env)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout[-1000:] + done.stderr[-3000:]
    return json.loads(lines[-1])


@pytest.mark.skipif(not POSTGRES, reason="SQLite opens its file per request (no server connection to drop)")
@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_while_idle_is_opened_again_before_the_request():
    seen = run_probe(AGREGA_DB_IDLE_CHECK_SECONDS="0.5", PROBE_PAUSE="0.8")
    assert seen["first"] == 200 and seen["second"] == 200
    assert seen["after"] != seen["before"]  # a new backend: the killed one was noticed and replaced


@pytest.mark.skipif(not POSTGRES, reason="SQLite opens its file per request (no server connection to drop)")
@pytest.mark.django_db(transaction=True)
def test_under_load_no_check_runs_and_a_dropped_connection_fails_its_request():
    """The other side of the bargain: requests close together are not checked (the check is a
    round trip), so a connection killed between two of them fails the second."""
    seen = run_probe(AGREGA_DB_IDLE_CHECK_SECONDS="3600", PROBE_PAUSE="0")
    assert seen["first"] == 200 and seen["second"] == 503


@pytest.mark.skipif(not POSTGRES, reason="SQLite opens its file per request (no server connection to drop)")
@pytest.mark.django_db(transaction=True)
def test_by_default_the_connection_is_kept():
    seen = run_probe(PROBE_PAUSE="0")
    assert seen["first"] == 200 and seen["second"] == 503  # the same connection, within 10 s: not renewed


@pytest.mark.parametrize("raw, seconds", [("", None), ("persistent", None), (" Persistent ", None), ("none", None),
                                          ("0", 0), ("60", 60), ("3600", 3600)])
def test_conn_max_age_values(raw, seconds):
    assert _conn_max_age(raw) == seconds


@pytest.mark.parametrize("raw", ["-1", "1.5", "sempre", "60s"])
def test_conn_max_age_refuses_what_is_no_duration(raw):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="AGREGA_DB_CONN_MAX_AGE"):
        _conn_max_age(raw)
