"""Run the webhook sandbox as a real process and drive it (tests, demos)."""

from __future__ import annotations

from typing import Any, Iterable

import httpx

from exa_sandbox.testing import SandboxProcess as _SandboxProcess


class SandboxProcess(_SandboxProcess):
    module = "webhook_sandbox"


class SandboxAdmin:
    """Client for ``/_sandbox/``; raises on HTTP errors."""

    def __init__(self, url: str, *, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self.http.request(method, "/_sandbox" + path, json=json)
        response.raise_for_status()
        return response.json()

    def create_account(self, account: str, secrets: list[str], packages: Iterable[str] | None = None) -> dict:
        body: dict[str, Any] = {"account": account, "secrets": list(secrets)}
        if packages is not None:
            body["packages"] = list(packages)
        return self._call("POST", "/accounts", body)

    def endpoint(self, account: str) -> str:
        return f"{self.url}/hooks/{account}"

    def users(self, account: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/accounts/{account}/users")["users"]

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", faults)

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/faults")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "SandboxAdmin":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
