"""bench/api_load/openloop.py against a small real HTTP server: every request due is sent,
answered and counted by status, keep-alive connections are reused, and a path list used
once (``unique``) stops the schedule. No timing is asserted."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

OPENLOOP = Path(__file__).resolve().parents[2] / "bench" / "api_load" / "openloop.py"


def run_alone(make_coroutine):
    """``asyncio.run`` on a thread of its own: a browser test earlier in the session may
    leave an event loop running on the main thread (Playwright's sync API)."""
    box = {}

    def target():
        try:
            box["result"] = asyncio.run(make_coroutine())
        except BaseException as exc:  # handed to the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    if "error" in box:
        raise box["error"]
    return box["result"]


@pytest.fixture(scope="module")
def openloop():
    spec = importlib.util.spec_from_file_location("openloop", OPENLOOP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def server():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self):
            seen.append((self.command, self.path, self.headers.get("Authorization")))
            if self.path.startswith("/slow"):
                time.sleep(0.3)
            status = 404 if self.path.startswith("/missing") else 200
            body = b'{"ok": true}' if status == 200 else b"{}"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def test_every_request_due_is_answered_and_counted(openloop, server):
    url, seen = server
    paths = ["/a", "/b", "/missing/c"]
    result = run_alone(lambda: openloop.run(url, paths, rate=60, seconds=0.5, connections=3, token="tok"))
    assert result["due"] == 30 and result["answered"] == 30
    assert result["statuses"] == {"200": 20, "404": 10}
    assert result["ok"] == 20 and result["non2xx"] == 10
    assert not any(result["errors"].values())
    # every path in turn, wrapping around: 10 each. (Which of the three connections reaches
    # the server first is the scheduler's choice — at load 25 the first three arrived
    # out of file order — so the order is not asserted on the server's side.)
    assert Counter(p for _, p, _ in seen) == {path: 10 for path in paths}
    assert {auth for _, _, auth in seen} == {"Bearer tok"}
    assert result["latency_ms"]["p50"] <= result["latency_ms"]["p99"] <= result["latency_ms"]["max"]


def test_unique_paths_are_sent_once(openloop, server):
    url, seen = server
    result = run_alone(lambda: openloop.run(url, ["/x/1", "/x/2"], rate=50, seconds=1, connections=2, token="t",
                                      method="POST", unique=True))
    assert result["due"] == 2 and result["ok"] == 2
    assert sorted(p for m, p, _ in seen) == ["/x/1", "/x/2"] and {m for m, _, _ in seen} == {"POST"}
    empty = run_alone(lambda: openloop.run(url, [], rate=50, seconds=1, connections=2, token="t"))
    assert empty["due"] == 0 and empty["answered"] == 0


def test_the_slowest_requests_say_when_they_were_due(openloop, server):
    url, _ = server
    paths = ["/a", "/slow", "/b", "/c"]  # /slow is request 1, 5, 9, … : due at 0.05 s, 0.25 s, …
    result = run_alone(lambda: openloop.run(url, paths, rate=20, seconds=1, connections=6, token="t"))
    worst = result["worst"]
    assert len(worst) == 5 and [ms for _, ms in worst] == sorted((ms for _, ms in worst), reverse=True)
    due, ms = worst[0]
    assert ms >= 300 and any(abs(due - i / 20) < 0.002 for i in range(1, 20, 4))
    assert abs(result["started_at"] - time.time()) < 30
    late_ms, when = result["generator_late_ms"]  # the generator's own lateness, not the server's
    assert 0 <= late_ms < 5000 and 0 <= when < 1
