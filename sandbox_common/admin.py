"""The client of a sandbox's ``/_sandbox/`` side, as far as all four agree: JSON calls
that raise ``httpx.HTTPStatusError`` on errors, the fault switches, the counters, the reset."""

from __future__ import annotations

from typing import Any

import httpx


class AdminClient:
    """A sandbox's own client adds its endpoints (partners, accounts, the payer...)."""

    def __init__(self, url: str, *, timeout: float = 10.0, **client: Any):
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout, **client)

    def _call(self, method: str, path: str, json: Any = None, params: Any = None) -> Any:
        response = self.http.request(method, "/_sandbox" + path, json=json, params=params)
        response.raise_for_status()
        return response.json()

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", faults)

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/faults")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
