"""The PSP (API Pix) sandbox for tests: one real process for the session, real HTTP.

``pix_sandbox`` yields a ``PixSandbox``: ``.url`` (API base, ``…/api``), ``.token_url``,
``.client_id``/``.client_secret``/``.chave`` of a default usuário recebedor, ``.payer``
(pay, approve a recurrence, settle ``cobr``, faults, webhook log) and ``.new_account()``
for a test that wants an account of its own (txids, Pix and webhooks are per account).
``pix_payer`` is the default payer for one test: it clears the fault switches after it.
The sandbox listens on 127.0.0.1, which tests/conftest.py already allows in egress.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass, field

import pytest

from pix_sandbox.testing import Payer, PixClient, SandboxProcess

_accounts = itertools.count(1)


@dataclass
class PixAccount:
    url: str
    token_url: str
    root: str
    client_id: str
    client_secret: str
    chave: str
    payer: Payer = field(repr=False)

    def client(self, scope: str | None = None) -> PixClient:
        """A bare API Pix client for this account (the reference, not Agrega's client)."""
        return PixClient(self.url, self.token_url, self.client_id, self.client_secret, scope=scope)


class PixSandbox(PixAccount):
    process: SandboxProcess

    def new_account(self, **extra) -> PixAccount:
        """A fresh usuário recebedor (own client, secret and chave) on the same sandbox."""
        client_id = f"pix-test-{next(_accounts)}-{secrets.token_hex(3)}"
        secret = secrets.token_urlsafe(16)
        chave = str(uuid.uuid4())
        self.payer.create_account(client_id, secret, chave, **extra)
        return PixAccount(self.url, self.token_url, self.root, client_id, secret, chave,
                          Payer(self.root, client_id=client_id))


@pytest.fixture(scope="session")
def pix_sandbox():
    with SandboxProcess() as process:
        client_id, secret, chave = "agrega-pix", secrets.token_urlsafe(16), str(uuid.uuid4())
        payer = Payer(process.root, client_id=client_id)
        payer.create_account(client_id, secret, chave)
        sandbox = PixSandbox(process.url, process.token_url, process.root, client_id, secret, chave, payer)
        sandbox.process = process
        try:
            yield sandbox
        finally:
            payer.close()


@pytest.fixture
def pix_payer(pix_sandbox):
    """The default account's payer; fault switches are cleared after the test."""
    yield pix_sandbox.payer
    pix_sandbox.payer.clear_faults()
