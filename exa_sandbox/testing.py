"""Helpers for tests, demos and benchmarks: run the sandbox as a real process, drive it.

    with SandboxProcess() as sandbox:
        admin = SandboxAdmin(sandbox.url)
        admin.create_partner("isp1", "id", "secret")
        ...

``SandboxProcess`` starts ``python -m exa_sandbox`` on a free port (the server binds
port 0 and reports the port it got, so there is no race for the port) and waits until
it answers. ``SandboxAdmin`` is a small client for the ``/_sandbox/`` endpoints.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import httpx

from sandbox_common.admin import AdminClient
from sandbox_common.process import SandboxError, SandboxProcess as _Process

__all__ = ["SandboxAdmin", "SandboxError", "SandboxProcess"]


class SandboxProcess(_Process):
    """The sandbox server in a subprocess.

    ``args`` are extra command line options (e.g. ``["--partner", "demo:id:secret"]``);
    ``data_path`` turns persistence on.
    """

    module = "exa_sandbox"  # the package run with ``python -m`` (webhook_sandbox reuses this class)

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_path: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
        startup_timeout: float = 15.0,
    ):
        super().__init__(host=host, port=port, args=args, startup_timeout=startup_timeout)
        self.data_path = os.fspath(data_path) if data_path is not None else None

    def extra_args(self) -> list[str]:
        return ["--data", self.data_path] if self.data_path else []

    def answers(self) -> bool:
        try:
            return httpx.get(self.url + "/_sandbox/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False


def _package(item: Any) -> dict[str, str]:
    if isinstance(item, str):
        return {"code": item, "name": item, "description": ""}
    if isinstance(item, dict):
        return {"description": "", **item}
    code, name, *rest = item
    return {"code": code, "name": name, "description": rest[0] if rest else ""}


class SandboxAdmin(AdminClient):
    """Client for the sandbox's admin endpoints (``/_sandbox/``); raises on HTTP errors."""

    def create_partner(
        self,
        prefix: str,
        client_id: str,
        client_secret: str,
        packages: Iterable[Any] | None = None,
    ) -> dict[str, Any]:
        """Create or update a partner. ``packages`` items: dicts, (code, name[, desc]) or
        codes; None keeps the current packages (the default set for a new partner)."""
        body: dict[str, Any] = {
            "prefix": prefix, "client_id": client_id, "client_secret": client_secret,
        }
        if packages is not None:
            body["packages"] = [_package(p) for p in packages]
        return self._call("POST", "/partners", body)

    def partners(self) -> list[dict[str, Any]]:
        return self._call("GET", "/partners")["partners"]

    def users(self, prefix: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/partners/{prefix}/users")["users"]

    def expire_tokens(self, prefix: str | None = None) -> int:
        return self._call("POST", "/tokens/expire", {"prefix": prefix})["expired"]
