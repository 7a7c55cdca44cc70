"""The bare baseline of bench/api_load.py: the least a WSGI app can do for the same answer.

For every request path it runs the very statements Agrega ran for that path — recorded
once by ``record()`` from Agrega's own request handling (its SQL text and parameters,
token authentication included) — through one psycopg connection per worker process, with
the same client-side binding Django uses, fetches every row and answers 200 with the rows
as JSON (``json.dumps``, one object per row by column name). No Django, no ORM, no
schema: what is left of Agrega's time above this is its framework and Python.

    gunicorn bare_app:application   (APILOAD_BARE_STATEMENTS=<pickle>, DATABASE_URL=…)
"""

from __future__ import annotations

import json
import os
import pickle

SKIP = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")

_statements: dict[str, list[tuple[str, object]]] | None = None
_conn = None


def _load() -> dict:
    global _statements
    if _statements is None:
        with open(os.environ["APILOAD_BARE_STATEMENTS"], "rb") as fh:
            _statements = pickle.load(fh)
    return _statements


def _connection():
    global _conn
    if _conn is None or _conn.closed:
        import psycopg

        _conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, cursor_factory=psycopg.ClientCursor)
    return _conn


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    statements = _load().get(path)
    if statements is None:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"detail": "not recorded"}']
    if environ.get("HTTP_AUTHORIZATION", "") != "Bearer " + os.environ.get("APILOAD_TOKEN", ""):
        start_response("401 Unauthorized", [("Content-Type", "application/json")])
        return [b'{"detail": "token"}']
    results = []
    with _connection().cursor() as cur:
        for sql, params in statements:
            cur.execute(sql, params)
            if cur.description is not None:
                names = [c.name for c in cur.description]
                results.append([dict(zip(names, row)) for row in cur.fetchall()])
    body = json.dumps({"results": results}, default=str).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def record(paths: list[str], token: str, out: str) -> dict[str, int]:
    """Inside Django (settings as the server's): each path through Agrega's request
    handling (Django's test client: middleware, auth, the view), its statements kept.
    Every answer must be 200. Returns statements per path (min/max) for the report."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    recorded: dict[str, list[tuple[str, object]]] = {}
    current: list[tuple[str, object]] = []

    def keep(execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(SKIP):
            current.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        for path in paths:
            if path in recorded:
                continue
            current = []
            answer = client.get(path)
            if answer.status_code != 200:
                raise SystemExit(f"recording {path}: {answer.status_code} {answer.content[:200]!r}")
            recorded[path] = current
    with open(out, "wb") as fh:
        pickle.dump(recorded, fh)
    sizes = [len(v) for v in recorded.values()]
    return {"paths": len(recorded), "min": min(sizes), "max": max(sizes)}
