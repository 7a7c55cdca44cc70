"""Liveness and readiness, for load balancers and orchestrators.

``/healthz`` answers while the process can serve HTTP (no database call), so a slow
database never gets healthy processes killed. ``/readyz`` answers 200 only when the
database answers and every migration is applied — what a new process needs before it
takes traffic."""

from __future__ import annotations

import io
import time

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections


def liveness() -> dict:
    return {"status": "ok"}


def readiness() -> tuple[bool, dict]:
    checks: dict[str, dict] = {}
    started = time.monotonic()
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    except Exception as exc:  # any driver error means not ready
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        return False, {"status": "unavailable", "checks": checks}
    try:
        pending = pending_migrations()
        checks["migrations"] = {"ok": not pending, "pending": len(pending)}
    except Exception as exc:
        checks["migrations"] = {"ok": False, "error": type(exc).__name__}
    ready = all(c["ok"] for c in checks.values())
    return ready, {"status": "ok" if ready else "unavailable", "checks": checks}


def pending_migrations() -> list[str]:
    """The migrations not applied yet, through ``showmigrations --plan``'s documented
    output (one line per migration, ``[ ]`` when unapplied, ``[X]`` when applied)."""
    out = io.StringIO()
    call_command("showmigrations", "--plan", database=DEFAULT_DB_ALIAS, stdout=out, no_color=True)
    return [line[3:].strip() for line in out.getvalue().splitlines() if line.startswith("[ ]")]
