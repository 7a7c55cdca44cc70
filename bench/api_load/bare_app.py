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
                # reversed: a name a join repeats (the contract's id, then the customer's)
                # keeps its first column, as the ORM reads it
                names = [c.name for c in reversed(cur.description)]
                results.append([dict(zip(names, reversed(row))) for row in cur.fetchall()])
    body = json.dumps({"results": results}, default=str).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def record(paths: list[str], token: str, out: str) -> dict[str, int]:
    """Inside Django (settings as the server's): each path through Agrega's request
    handling (Django's test client: middleware, auth, the view), its statements kept, and
    its answer (``out`` + ``.answers``, for ``same_answers``). Every answer must be 200.
    Returns statements per path (min/max) for the report."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    recorded: dict[str, list[tuple[str, object]]] = {}
    answers: dict[str, bytes] = {}
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
            answers[path] = answer.content
    with open(out, "wb") as fh:
        pickle.dump(recorded, fh)
    with open(out + ".answers", "wb") as fh:
        pickle.dump(answers, fh)
    sizes = [len(v) for v in recorded.values()]
    return {"paths": len(recorded), "min": min(sizes), "max": max(sizes)}


def _same_value(agrega, bare) -> bool:
    if agrega == bare:
        return True
    if isinstance(agrega, str) and isinstance(bare, str):  # a timestamp: Django's text vs str()
        from datetime import datetime

        try:
            a, b = datetime.fromisoformat(agrega), datetime.fromisoformat(bare)
        except ValueError:
            return False
        return a == b.replace(microsecond=b.microsecond // 1000 * 1000)
    return False


def same_answers(agrega: dict, bare: dict) -> list[str]:
    """Whether the bare app's rows are the data of Agrega's answer: every list of objects
    with ids in Agrega's answer (the page's items, the detail's products and SVA users, the
    detail itself) must be the start of one of the bare app's result sets, id by id (a
    page reads one row more than it shows), and every field that both name must hold the
    same value (timestamps to the millisecond, as Agrega writes them). A page with a next
    cursor must have had that row more. Returns what differs (empty: the same)."""
    problems = []
    results = bare["results"]
    groups = []
    if "id" in agrega:
        groups.append(("detail", [agrega]))
    for key, value in agrega.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) and "id" in v for v in value):
            groups.append((key, value))
    if agrega.get("items") == [] and all(results):
        problems.append("an empty page, but every result set of the bare app has rows")
    for key, objects in groups:
        ids = [o["id"] for o in objects]
        match = next((rows for rows in results if [r.get("id") for r in rows[:len(ids)]] == ids), None)
        if match is None:
            problems.append(f"{key}: no result set of the bare app has the ids {ids[:5]}…")
            continue
        if key == "items" and (agrega.get("next_cursor") is not None) != (len(match) > len(ids)):
            problems.append(f"items: next_cursor {agrega.get('next_cursor')} but {len(match)} rows for {len(ids)}")
        for obj, row in zip(objects, match):
            for field, value in obj.items():
                if field in row and not isinstance(value, (list, dict)) and not _same_value(value, row[field]):
                    problems.append(f"{key} id {obj['id']}: {field} {value!r} vs {row[field]!r}")
    return problems
