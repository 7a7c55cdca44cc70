"""Shared helpers of the sandbox tests: a webhook receiver and a conforming API caller."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pix_sandbox import conformance


@pytest.fixture(scope="session")
def pix_spec():
    """The API Pix yaml (loaded once); the conformance tests skip when it is absent."""
    try:
        return conformance.openapi()
    except conformance.SpecNotFound as exc:
        pytest.skip(f"API Pix 2.9.0 yaml ausente: {exc}")


class Receiver:
    """A real HTTP server playing Agrega's webhook endpoint; records every call."""

    def __init__(self, status: int = 200):
        self.calls: list[dict[str, Any]] = []
        self.status = status
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    status = receiver.status
                    receiver.calls.append({"path": self.path, "body": json.loads(body or b"null"),
                                           "status": status})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-path"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def call(client, method: str, path: str, body: Any = None, params: dict | None = None, *,
         check_request: bool = True):
    """Call the sandbox and validate the exchange against the yaml; returns the response."""
    response = client.request(method, path, json=body, params=params)
    content_type = response.headers.get("content-type", "").split(";")[0] or None
    payload = response.json() if response.content else None
    conformance.validate_exchange(method, path, body, response.status_code, payload, query=params,
                                  response_content_type=content_type, check_request=check_request)
    return response
