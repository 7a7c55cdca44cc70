"""Liveness and readiness, for load balancers and orchestrators.

``/healthz`` answers while the process can serve HTTP (no database call), so a slow
database never gets healthy processes killed. ``/readyz`` answers 200 only when the
database answers and every migration is applied — what a new process needs before it
takes traffic."""

from __future__ import annotations

import time

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


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
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["migrations"] = {"ok": not pending, "pending": len(pending)}
    except Exception as exc:
        checks["migrations"] = {"ok": False, "error": type(exc).__name__}
    ready = all(c["ok"] for c in checks.values())
    return ready, {"status": "ok" if ready else "unavailable", "checks": checks}
