"""PIX tests: each test gets its own account on the one PSP sandbox process (its own
client id and chave, so tests stay apart) and the matching Agrega PixAccount. ``psp``
drives the sandbox's payer and fault switches over real HTTP."""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest

from tests.billing.fixtures_billing import active_contract, billed, blocked, internet, security  # noqa: F401


class Psp:
    def __init__(self, url: str, client_id: str, client_secret: str, chave: str):
        self.url, self.client_id, self.client_secret, self.chave = url, client_id, client_secret, chave
        self.http = httpx.Client(base_url=url, timeout=30)

    def admin(self, method: str, path: str, **kw) -> dict:
        r = self.http.request(method, "/_sandbox" + path, **kw)
        assert r.status_code < 300, (r.status_code, r.text)
        return r.json() if r.content else {}

    def pay(self, txid: str, amount: str | None = None, at: str | None = None) -> dict:
        body = {"txid": txid, "client_id": self.client_id}
        if amount:
            body["amount"] = amount
        if at:
            body["at"] = at
        return self.admin("POST", "/pay", json=body)

    def faults(self, **switches) -> None:
        self.admin("POST", "/faults", json={**switches})

    def clear_faults(self) -> None:
        self.admin("DELETE", "/faults")

    def wait_webhooks(self, timeout: float = 20) -> None:
        self.admin("POST", "/webhooks/wait", json={"timeout": timeout})

    def webhooks(self) -> list[dict]:
        return [d for d in self.admin("GET", "/webhooks", params={"chave": self.chave})["deliveries"]]

    def api(self, method: str, path: str, **kw) -> httpx.Response:
        token = self.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(self.client_id, self.client_secret)).json()["access_token"]
        return self.http.request(method, "/api" + path, headers={"Authorization": f"Bearer {token}"}, **kw)


@pytest.fixture
def psp(pix_sandbox):
    client_id = "agrega-" + uuid.uuid4().hex[:12]
    client_secret = secrets.token_urlsafe(16)
    chave = str(uuid.uuid4())
    p = Psp(pix_sandbox.url, client_id, client_secret, chave)
    p.admin("POST", "/accounts", json={"client_id": client_id, "client_secret": client_secret, "chave": chave})
    yield p
    p.clear_faults()
    p.http.close()


@pytest.fixture
def pix_account(db, psp):
    from agrega.pix.services import account_create

    return account_create(name="PSP sandbox", base_url=psp.url + "/api", client_id=psp.client_id,
                          client_secret=psp.client_secret, chave=psp.chave, validade_apos_vencimento=30)


@pytest.fixture
def fast_pix(monkeypatch):
    """Retries without long sleeps (the sandbox's 5xx/429 switches are tried for real)."""
    from agrega.pix import client

    monkeypatch.setattr(client.PixClient, "backoff", 0.01)
    monkeypatch.setattr(client, "_TOKENS", {})

