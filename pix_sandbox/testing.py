"""Helpers for tests, demos and benchmarks: run the PSP sandbox as a real process, drive it.

    with SandboxProcess(args=["--client", "id:secret:chave"]) as sandbox:
        payer = Payer(sandbox.root)
        payer.pay(txid)               # a Pix for the charge, webhook sent
        payer.wait_webhooks()

``SandboxProcess`` starts ``python -m pix_sandbox`` on a free port (the server binds port
0 and reports the port it got: no race) and waits until it answers. ``Payer`` is the
client of the ``/_sandbox/`` side: the payer (pay, approve a recurrence, settle cobr),
accounts, fault switches, webhook deliveries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import httpx

from sandbox_common.admin import AdminClient
from sandbox_common.process import SandboxError, SandboxProcess as _Process

__all__ = ["Payer", "PixClient", "SandboxError", "SandboxProcess"]


class SandboxProcess(_Process):
    """The sandbox server in a subprocess; ``tls`` = (cert, key, client_ca or None)."""

    module = "pix_sandbox"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, args: Sequence[str] = (),
                 tls: tuple[str, str, str | None] | None = None, startup_timeout: float = 15.0):
        super().__init__(host=host, port=port, args=args, startup_timeout=startup_timeout)
        self.tls = tls
        self.scheme = "https" if tls else "http"

    @property
    def url(self) -> str:
        """The API Pix base URL (``…/api``, as the yaml's ``servers``)."""
        return self.root + "/api"

    @property
    def token_url(self) -> str:
        return self.root + "/oauth/token"

    def extra_args(self) -> list[str]:
        if not self.tls:
            return []
        cert, key, ca = self.tls
        return ["--tls-cert", cert, "--tls-key", key, *(["--client-ca", ca] if ca else [])]

    def answers(self) -> bool:
        if self.tls:  # bound and listening once the port file exists: connections queue
            return True
        try:
            return httpx.get(self.root + "/_sandbox/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False


def _moment(at: Any) -> str | None:
    if at is None or isinstance(at, str):
        return at
    if isinstance(at, dt.datetime):
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        return at.isoformat()
    if isinstance(at, dt.date):
        return dt.datetime.combine(at, dt.time(12, 0), dt.timezone.utc).isoformat()
    raise TypeError("at: datetime, date or RFC 3339 text")


class Payer(AdminClient):
    """Client of the sandbox's ``/_sandbox/`` side; raises ``httpx.HTTPStatusError`` on errors.

    ``client_id`` scopes payer actions to one account (txids are per account)."""

    def __init__(self, root: str, *, client_id: str | None = None, timeout: float = 30.0,
                 verify: Any = True):
        super().__init__(root, timeout=timeout, verify=verify)
        self.root = self.url
        self.client_id = client_id

    # the payer
    def pay(self, txid: str, amount: Any = None, at: Any = None, *, info_pagador: str | None = None,
            pagador: dict | None = None) -> dict[str, Any]:
        """Pay the charge ``txid`` (cob or cobv) with ``amount`` (default: what is due at
        ``at``, default now). Returns the Pix; the webhook is on its way."""
        body: dict[str, Any] = {"txid": txid, "client_id": self.client_id}
        if amount is not None:
            body["amount"] = f"{amount:.2f}" if not isinstance(amount, str) else amount
        if at is not None:
            body["at"] = _moment(at)
        if info_pagador:
            body["infoPagador"] = info_pagador
        if pagador:
            body["pagador"] = pagador
        return self._call("POST", "/pay", body)

    def remove_by_psp(self, txid: str) -> dict[str, Any]:
        return self._call("POST", "/remove", {"txid": txid, "client_id": self.client_id})

    def approve_rec(self, id_rec: str, pagador: dict | None = None) -> dict[str, Any]:
        return self._call("POST", f"/rec/{id_rec}/approve", {"client_id": self.client_id, "pagador": pagador})

    def reject_rec(self, id_rec: str) -> dict[str, Any]:
        return self._call("POST", f"/rec/{id_rec}/reject", {"client_id": self.client_id})

    def cancel_rec(self, id_rec: str) -> dict[str, Any]:
        """The payer cancels an approved recurrence in their bank's app."""
        return self._call("POST", f"/rec/{id_rec}/cancel", {"client_id": self.client_id})

    def settle_cobr(self, day: Any, outcome: str = "pay", txid: str | None = None,
                    codigo: str | None = None) -> list[dict[str, Any]]:
        """Run the settlement day ``day`` of the payer's PSP: every cobr attempt scheduled
        that day (of ``txid`` only, if given) is paid (``outcome="pay"``) or rejected
        (``"fail"``, rejection ``codigo`` default AM02). Returns the cobr settled."""
        day_text = day.isoformat() if isinstance(day, dt.date) else day
        return self._call("POST", "/cobr/settle", {"data": day_text, "outcome": outcome, "txid": txid,
                                                    "client_id": self.client_id, "codigo": codigo})["settled"]

    def set_cobr_window(self, enforced: bool) -> None:
        """Turn the 2-to-10-days-before-due check of new cobr on or off."""
        self._call("POST", "/settings", {"cobr_window": enforced})

    # accounts, tokens
    def create_account(self, client_id: str, client_secret: str, chave: str | None = None,
                       **extra: Any) -> dict[str, Any]:
        return self._call("POST", "/accounts", {"client_id": client_id, "client_secret": client_secret,
                                                "chave": chave, **extra})

    def expire_tokens(self, client_id: str | None = None) -> int:
        return self._call("POST", "/tokens/expire", {"client_id": client_id})["expired"]

    # webhooks
    def webhooks(self, chave: str | None = None) -> dict[str, Any]:
        return self._call("GET", "/webhooks", params={"chave": chave} if chave else None)

    def wait_webhooks(self, timeout: float = 10.0) -> bool:
        """Until every scheduled notification was delivered or given up (True)."""
        return self._call("POST", "/webhooks/wait", {"timeout": timeout})["idle"]

    def clear_webhooks(self) -> None:
        self._call("POST", "/webhooks/clear")


class PixClient:
    """A bare API Pix client (token cached, renewed on 401) for tests and benches — the
    reference Agrega's own client is compared against, not a part of Agrega."""

    def __init__(self, api_url: str, token_url: str, client_id: str, client_secret: str, *,
                 scope: str | None = None, timeout: float = 30.0, verify: Any = True,
                 max_connections: int = 100):
        """``verify`` may be an ``ssl.SSLContext`` holding the client certificate (mTLS)."""
        self.token_url = token_url
        self.auth = (client_id, client_secret)
        self.scope = scope
        self.http = httpx.Client(base_url=api_url.rstrip("/"), timeout=timeout, verify=verify,
                                 limits=httpx.Limits(max_connections=max_connections))
        self.token: str | None = None

    def fetch_token(self) -> str:
        form = {"grant_type": "client_credentials", **({"scope": self.scope} if self.scope else {})}
        response = self.http.post(self.token_url, data=form, auth=self.auth)
        response.raise_for_status()
        self.token = response.json()["access_token"]
        return self.token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self.token is None:
            self.fetch_token()
        response = self.http.request(method, path, headers={"authorization": f"Bearer {self.token}"}, **kwargs)
        if response.status_code == 401:
            self.fetch_token()
            response = self.http.request(method, path, headers={"authorization": f"Bearer {self.token}"},
                                         **kwargs)
        return response

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "PixClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
