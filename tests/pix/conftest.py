"""PIX tests: each test gets its own account on the one PSP sandbox process (its own
client id and chave, so tests stay apart) and the matching Agrega PixAccount. ``psp``
drives the sandbox's payer and fault switches over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest


class Psp:
    """One usuário recebedor of its own on the session's PSP sandbox, and its payer."""

    def __init__(self, account):
        self.account = account
        self.url, self.token_url = account.url, account.token_url
        self.client_id, self.client_secret, self.chave = account.client_id, account.client_secret, account.chave
        self.payer = account.payer

    def pay(self, txid: str, amount: str | None = None, at=None) -> dict:
        return self.payer.pay(txid, amount, at)

    def faults(self, **switches) -> None:
        self.payer.set_faults(client_id=self.client_id, **switches)

    def wait_webhooks(self, timeout: float = 20) -> None:
        self.payer.wait_webhooks(timeout)

    def webhooks(self) -> list[dict]:
        return self.payer.webhooks(self.chave)["deliveries"]

    def api(self, method: str, path: str, **kw) -> httpx.Response:
        with self.account.client() as client:
            return client.request(method, path, **kw)


@pytest.fixture
def psp(pix_sandbox):
    p = Psp(pix_sandbox.new_account())
    yield p
    p.payer.clear_faults()
    p.payer.close()


@pytest.fixture
def pix_account(db, psp):
    from agrega.pix.services import account_create

    return account_create(name="PSP sandbox", base_url=psp.url, token_url=psp.token_url, client_id=psp.client_id,
                          client_secret=psp.client_secret, chave=psp.chave, validade_apos_vencimento=365)


@pytest.fixture(autouse=True)
def conforming_requests(monkeypatch):
    """Every request Agrega's PSP client sends, and the answer it got, is validated
    against bcb-api-pix-2.9.0.yaml (pix_sandbox.conformance); a test fails on any."""
    from urllib.parse import urlsplit

    from agrega.pix import client
    from pix_sandbox.conformance import NonConforming, validate_exchange

    problems: list[str] = []

    def observe(request, response):
        path = urlsplit(str(request.url)).path
        if "/api/" not in path or path.endswith("/oauth/token"):
            return
        api_path = path[path.index("/api/"):]
        body = json.loads(request.content) if request.content else None
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = response.content
        try:
            validate_exchange(request.method, api_path, body, response.status_code, answer,
                              query=dict(request.url.params),
                              response_content_type=response.headers.get("content-type", "").split(";")[0] or None)
        except NonConforming as exc:
            problems.append(str(exc))

    monkeypatch.setattr(client.PixClient, "observer", staticmethod(observe))
    yield problems
    assert not problems, "\n".join(problems)


@pytest.fixture
def fast_pix(monkeypatch):
    """Retries without long sleeps (the sandbox's 5xx/429 switches are tried for real)."""
    from agrega.pix import client

    monkeypatch.setattr(client.PixClient, "backoff", 0.01)
    monkeypatch.setattr(client, "_TOKENS", {})


@pytest.fixture(autouse=True)
def _tasks_run_when_enqueued(settings):
    """These tests follow the PIX/NFCom flows through their tasks without a task worker:
    django-tasks' immediate backend runs each task when it is enqueued (after the commit),
    in this process. The database backend and the worker are tested in tests/core."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _no_shared_pix_client_across_tests():
    """The webhook path keeps one client per account per process; each test (its own
    sandbox, its own account rows) starts without one and leaves none behind."""
    from agrega.pix import services

    services.shared_clients_reset()
    yield
    services.shared_clients_reset()


@pytest.fixture
def inbox_consumer(transactional_db):
    """The inbox consumer of ``agrega worker`` (agrega/pix/inbox.py), running in a thread
    of the test process for the test: the webhook only records the callbacks; this
    confirms them with the PSP and applies the baixas, as in production."""
    from agrega.pix.inbox import InboxConsumer

    consumer = InboxConsumer()
    consumer.start()
    yield consumer
    consumer.stop()
    assert not consumer.thread.is_alive()
