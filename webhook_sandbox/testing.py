"""Run the webhook sandbox as a real process and drive it (tests, demos)."""

from __future__ import annotations

from typing import Any, Iterable

from exa_sandbox.testing import SandboxProcess as _SandboxProcess
from sandbox_common.admin import AdminClient


class SandboxProcess(_SandboxProcess):
    module = "webhook_sandbox"


class SandboxAdmin(AdminClient):
    """Client for ``/_sandbox/``; raises on HTTP errors."""

    def create_account(self, account: str, secrets: list[str], packages: Iterable[str] | None = None) -> dict:
        body: dict[str, Any] = {"account": account, "secrets": list(secrets)}
        if packages is not None:
            body["packages"] = list(packages)
        return self._call("POST", "/accounts", body)

    def endpoint(self, account: str) -> str:
        return f"{self.url}/hooks/{account}"

    def users(self, account: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/accounts/{account}/users")["users"]
