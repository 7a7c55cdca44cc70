"""Raw HTTP calls to the EXA partner API: one small method per remote call.

This module knows EXA's paths, headers and verbs, and nothing about Agrega's data
objects (``connector.py`` maps those to and from EXA's JSON). A call never raises for
a transport failure: it returns an ``Exchange`` holding either the answer or the
exception, timed, so the connector can record every call and map every outcome in
one place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from agrega.core import egress

from ..pacing import RatePacer

USER_AGENT = "Agrega-EXA-Connector/0.1"


@dataclass
class Exchange:
    """One HTTP call to EXA: what was sent and what came back (or why nothing did)."""

    operation: str
    method: str
    path: str  # without host or query string
    request: dict[str, Any]  # JSON body or query parameters as sent (not yet redacted)
    mutates: bool  # True when the call may change state on the platform
    external_id: str = ""
    status_code: int | None = None
    payload: Any = None  # decoded JSON body, None when empty or not JSON
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    error: Exception | None = None  # transport failure: no answer was received
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _seconds(retry_after: str | None) -> float:
    """Retry-After in seconds for the pacer, at most 10 s (a thread waiting in the pacer
    does not see a stop request; longer waits are the worker's, which does). An HTTP
    date, rare, counts as 1 s."""
    try:
        return min(max(0.0, float(retry_after or 1.0)), 10.0)
    except ValueError:
        return 1.0


def _segment(value: str) -> str:
    return quote(value, safe="")


class ExaClient:
    """Thin wrapper over one shared ``httpx.Client`` (thread-safe, pooled)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        http_client: httpx.Client | None = None,
        max_connections: int = 64,
        pacer: RatePacer | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer  # spaces every call, the token call included (pacing.py)
        self._owns_http = http_client is None
        # Every call goes through the egress policy (agrega/core/egress.py).
        self.http = http_client or egress.client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    # -- one method per remote call ------------------------------------------------

    def request_token(self, client_id: str, client_secret: str) -> Exchange:
        return self._send(
            "auth_token", "POST", "/v1/auth/token",
            json={"client_id": client_id, "client_secret": client_secret}, mutates=False,
        )

    def list_packages(self, prefix: str, token: str) -> Exchange:
        return self._send("list_packages", "GET", self._partner(prefix, "packages"), token=token)

    def create_user(self, prefix: str, token: str, body: dict[str, Any]) -> Exchange:
        return self._send(
            "create_user", "POST", self._partner(prefix, "users"), token=token, json=body,
            mutates=True, external_id=str(body.get("external_id", "")),
        )

    def get_user(self, prefix: str, token: str, external_id: str) -> Exchange:
        return self._send(
            "get_user", "GET", self._user(prefix, external_id), token=token,
            external_id=external_id,
        )

    def list_users(self, prefix: str, token: str, cursor: str | None, limit: int) -> Exchange:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self._send(
            "list_users", "GET", self._partner(prefix, "users"), token=token, params=params
        )

    def update_user(
        self, prefix: str, token: str, external_id: str, body: dict[str, Any]
    ) -> Exchange:
        return self._send(
            "update_user", "PATCH", self._user(prefix, external_id), token=token, json=body,
            mutates=True, external_id=external_id,
        )

    def block_user(self, prefix: str, token: str, external_id: str) -> Exchange:
        return self._send(
            "block_user", "POST", self._user(prefix, external_id) + "/block", token=token,
            mutates=True, external_id=external_id,
        )

    def unblock_user(self, prefix: str, token: str, external_id: str) -> Exchange:
        return self._send(
            "unblock_user", "POST", self._user(prefix, external_id) + "/unblock", token=token,
            mutates=True, external_id=external_id,
        )

    def delete_user(self, prefix: str, token: str, external_id: str) -> Exchange:
        return self._send(
            "delete_user", "DELETE", self._user(prefix, external_id), token=token,
            mutates=True, external_id=external_id,
        )

    # -- plumbing ------------------------------------------------------------------

    @staticmethod
    def _partner(prefix: str, resource: str) -> str:
        return f"/v1/partners/{_segment(prefix)}/{resource}"

    @classmethod
    def _user(cls, prefix: str, external_id: str) -> str:
        return f"{cls._partner(prefix, 'users')}/{_segment(external_id)}"

    def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        mutates: bool = False,
        external_id: str = "",
    ) -> Exchange:
        exchange = Exchange(
            operation=operation, method=method, path=path,
            request=dict(json if json is not None else params or {}),
            mutates=mutates, external_id=external_id,
        )
        headers = {"Authorization": f"Bearer {token}"} if token else None
        if self.pacer is not None:
            self.pacer.acquire()  # before the clock starts: waiting our turn is not the platform's time
        started = time.perf_counter()
        try:
            response = self.http.request(
                method, self.base_url + path, json=json, params=params, headers=headers
            )
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            exchange.error = exc
        else:
            exchange.status_code = response.status_code
            exchange.headers = response.headers
            if response.status_code == 429 and self.pacer is not None:
                self.pacer.hold(_seconds(response.headers.get("retry-after")))
            if response.content:
                try:
                    exchange.payload = response.json()
                except ValueError:
                    exchange.payload = None
        exchange.duration_ms = (time.perf_counter() - started) * 1000.0
        return exchange
