"""The web's kept database connection, checked when the process comes back from idle.

Web processes keep their connection (``AGREGA_DB_CONN_MAX_AGE``, settings): renewing it every
minute put a worker's first queries on a cold backend and stalled the requests queued behind
it (bench/README.md, "api_load", eighth session). A kept connection can still die while
nobody uses it — a database restart, a firewall's or a pooler's idle timeout — and the first
request afterwards would fail. Django's ``CONN_HEALTH_CHECKS`` pings before every request: a
round trip that cost 0.05–0.13 ms of CPU per API read in the same bench. A connection that
answered a moment ago is alive for all practical purposes, so the ping runs only when this
thread served no request for ``AGREGA_DB_IDLE_CHECK_SECONDS``; a connection that dies while
requests flow fails the next request on it (decision 0017)."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections

logger = logging.getLogger(__name__)

_last_request = threading.local()  # Django's connections are per thread, and so is their idleness


def check_after_idle(**kwargs) -> None:
    """``request_started``: after an idle spell, each kept connection answers a ``SELECT 1``
    (Django's ``is_usable()``, what its own ``CONN_HEALTH_CHECKS`` runs: on the driver's
    cursor, so it is never counted among the request's queries); one that does not is
    closed, and the request's first query opens a new one. (Two of Django's internals, named
    in tests/test_architecture.py: ``connection.connection``, the driver's connection or None
    when closed, and ``is_usable()``.)"""
    finished = getattr(_last_request, "finished", None)
    if finished is None or time.monotonic() - finished < settings.DB_IDLE_CHECK_SECONDS:
        return  # the thread's first request (its connection opens now), or one close behind another
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.is_usable():
            logger.warning("database connection %s dropped while idle: opening a new one", connection.alias)
            connection.close()


def note_request_finished(**kwargs) -> None:
    _last_request.finished = time.monotonic()


def install() -> None:
    request_started.connect(check_after_idle, dispatch_uid="agrega_db_check_after_idle")
    request_finished.connect(note_request_finished, dispatch_uid="agrega_db_note_request_finished")
