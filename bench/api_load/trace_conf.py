"""gunicorn hooks for ``bench/api_load.py --trace``: what happens inside each measured worker.

Each worker appends JSON lines to ``$APILOAD_TRACE/<server label>.<pid>.jsonl``: every new
database connection Django opens (``conn``), every garbage collection over 5 ms (``gc``) and
every request slower than 50 ms (``slow``), each with its wall-clock time, so that a pause in a
side's open-loop window can be matched with what its workers (or another server's) were doing.
A few µs per request, the same for every side."""

from __future__ import annotations

import gc
import json
import os
import time

_state: dict = {}


def _write(kind: str, **fields) -> None:
    out = _state.get("out")
    if out is not None:
        out.write(json.dumps({"t": time.time(), "pid": os.getpid(), "kind": kind, **fields}) + "\n")


def post_worker_init(worker) -> None:
    folder = os.environ["APILOAD_TRACE"]
    label = os.environ.get("APILOAD_TRACE_LABEL", "server")
    _state["out"] = open(os.path.join(folder, f"{label}.{os.getpid()}.jsonl"), "a", buffering=1)

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            _state["gc_start"] = time.perf_counter()
        else:
            took = (time.perf_counter() - _state.pop("gc_start", time.perf_counter())) * 1000
            if took > 5:
                _write("gc", ms=round(took, 1), generation=info.get("generation"), collected=info.get("collected"))

    gc.callbacks.append(on_gc)
    try:
        from django.db.backends.signals import connection_created
    except ImportError:  # the bare app: no Django
        return
    connection_created.connect(lambda sender, connection, **kw: _write("conn"), weak=False)


def pre_request(worker, req) -> None:
    _state["request_start"] = time.perf_counter()


def post_request(worker, req, environ, resp) -> None:
    took = (time.perf_counter() - _state.get("request_start", time.perf_counter())) * 1000
    if took > 50:
        _write("slow", ms=round(took, 1), path=req.path + (f"?{req.query}" if req.query else ""))
