"""Platform credentials go only where they were typed for, and calls to platforms obey
the egress policy (agrega/core/egress.py).

Real sockets: a listener in the test records every byte anyone sends it, so "no
credential reached it" is checked on the wire, not on a mock.

On the exa_* fixtures: the credentials followed on the wire are EXA's own fields (client id and secret).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from django.test import Client

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.core.errors import ValidationFailed
from agrega.integrations.connectors.base import ConnectorError, ErrorKind
from agrega.integrations.models import SvaIntegration
from agrega.integrations.services import (
    connector_for,
    integration_check_credentials,
    integration_update,
)
from agrega.sva.controller.worker import SvaWorker
from agrega.sva.models import SvaUser
from tests.fixtures import bearer_headers, logged_in_client

pytestmark = pytest.mark.django_db


class Listener:
    """A TCP server on 127.0.0.1 that records what it receives. ``mode``: "silent" (reads,
    never answers), "garbage" (answers a non-HTTP banner and closes) or "http401"."""

    def __init__(self, mode: str = "silent"):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.received = b""
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            conn.settimeout(0.3)
            if self.mode == "garbage":
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    self.received += chunk
                    if self.mode == "http401" and b"\r\n\r\n" in self.received:
                        conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                    if self.mode == "garbage":
                        break
            except OSError:
                pass

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def admin(role_user):
    return role_user("seguranca", "administrador")


@pytest.fixture
def api(admin):
    return bearer_headers(admin)


@pytest.fixture
def browser(admin):
    return logged_in_client(admin)


# -- credentials never leave for a URL nobody typed them for ------------------------------

def test_a_url_changed_without_credentials_never_receives_them(integration, exa_account, listener, api, browser):
    secret = exa_account.client_secret.encode()
    pk = integration.pk

    # API: PATCH the URL alone is refused; the stored secret stays with the stored URL.
    response = Client().patch(f"/api/integrations/{pk}", json.dumps({"base_url": listener.url}),
                              content_type="application/json", **api)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["fields"]["credentials"][0]["code"] == "credentials_required_on_url_change"
    # The service itself refuses (the CLI goes through it too).
    with pytest.raises(ValidationFailed):
        integration_update(integration=SvaIntegration.objects.get(pk=pk), base_url=listener.url, name="outro")
    # Page: the edit form with a new URL and blank credentials.
    form = {"name": "EXA", "platform": "exa", "base_url": listener.url, "prefix": exa_account.prefix,
            "auto_create_users": "1", "active": "on", "timeout_seconds": "1", "rate_limit_rps": "0"}
    response = browser.post(f"/configuracoes/integracoes-sva/{pk}/editar/", form)
    assert response.status_code == 422
    assert "informe as credenciais de novo" in response.content.decode()
    assert SvaIntegration.objects.get(pk=pk).base_url == exa_account.url

    # "Testar conexão" from the edit form with the URL typed but not saved.
    response = browser.post(f"/configuracoes/integracoes-sva/{pk}/testar-conexao/", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "informe as credenciais de novo" in response.content.decode()
    result = integration_check_credentials(integration=SvaIntegration.objects.get(pk=pk), base_url=listener.url)
    assert result["code"] == "credentials_required_on_url_change" and result["ok"] is False

    # Whatever ran, the saved integration still works where it was saved.
    assert integration_check_credentials(integration=SvaIntegration.objects.get(pk=pk))["ok"] is True
    time.sleep(0.4)
    assert secret not in listener.received and listener.connections == 0


def test_a_url_changed_with_credentials_typed_again_is_saved(integration, exa_account, listener, api):
    response = Client().patch(
        f"/api/integrations/{integration.pk}",
        json.dumps({"base_url": listener.url + "/", "credentials": {"client_id": "novo", "client_secret": "s2"}}),
        content_type="application/json", **api)
    assert response.status_code == 200, response.content
    assert response.json()["base_url"] == listener.url
    # Only the same URL (after the trailing slash is dropped) needs no credentials.
    response = Client().patch(f"/api/integrations/{integration.pk}",
                              json.dumps({"base_url": listener.url + "/", "name": "x"}),
                              content_type="application/json", **api)
    assert response.status_code == 200, response.content


def test_check_with_typed_credentials_uses_only_those(integration, exa_account, listener, browser):
    form = {"platform": "exa", "base_url": listener.url, "cred_client_id": "digitado",
            "cred_client_secret": "segredo-digitado"}
    response = browser.post(f"/configuracoes/integracoes-sva/{integration.pk}/testar-conexao/", form,
                            HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    time.sleep(0.4)
    assert b"segredo-digitado" in listener.received
    assert exa_account.client_secret.encode() not in listener.received


# -- the egress policy ------------------------------------------------------------------

REFUSED = [
    "http://127.0.0.1:{port}",
    "http://127.9.9.9:{port}",
    "http://localhost:{port}",  # a host name that resolves to loopback
    "http://[::1]:{port}",
    "http://[::ffff:127.0.0.1]:{port}",  # IPv4-mapped IPv6
    "http://10.20.30.40:{port}",
    "http://192.168.0.1:{port}",
    "http://172.16.0.1:{port}",
    "http://100.64.0.1:{port}",
    "http://169.254.169.254",  # cloud metadata
    "http://[fe80::1]:{port}",
    "http://[fc00::1]:{port}",
    "http://0.0.0.0:{port}",
    "http://224.0.0.1:{port}",
    "http://240.0.0.1:{port}",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_and_local_destinations_are_refused_by_default(url, make_integration, listener, settings):
    settings.AGREGA_EGRESS_ALLOW = []  # the production default
    integration = make_integration(base_url=url.format(port=listener.port), timeout_seconds=0.5)
    connector = connector_for(integration)
    try:
        with pytest.raises(ConnectorError) as caught:
            connector.check_credentials()
    finally:
        connector.close()
    assert caught.value.code == "egress_refused" and caught.value.kind == ErrorKind.CONFIG
    result = integration_check_credentials(integration=integration)
    assert result == {"ok": False, "code": "egress_refused",
                      "message": "Destino não permitido pela política de saída do Agrega."}
    assert listener.connections == 0


@pytest.mark.parametrize("allow", [["127.0.0.1/32"], ["127.0.0.0/8"], ["127.0.0.1:{port}"],
                                   ["localhost:{port}"]])
def test_the_allow_list_lets_a_sandbox_through(allow, make_integration, listener, settings):
    settings.AGREGA_EGRESS_ALLOW = [a.format(port=listener.port) for a in allow]
    host = "localhost" if allow[0].startswith("localhost") else "127.0.0.1"
    integration = make_integration(base_url=f"http://{host}:{listener.port}", timeout_seconds=0.5)
    result = integration_check_credentials(integration=integration)
    assert result["code"] != "egress_refused"
    assert listener.connections >= 1


def test_an_allow_entry_for_another_port_does_not_open_the_host(make_integration, listener, settings):
    settings.AGREGA_EGRESS_ALLOW = [f"127.0.0.1:{listener.port + 1}", f"localhost:{listener.port + 1}"]
    integration = make_integration(base_url=listener.url, timeout_seconds=0.5)
    assert integration_check_credentials(integration=integration)["code"] == "egress_refused"
    assert listener.connections == 0


def test_the_worker_treats_egress_refused_as_configuration(integration, make_product, make_contract, settings,
                                                            fast_retries):
    product = make_product(integration)
    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    contract_transition(contract=contract, action="activate")
    settings.AGREGA_EGRESS_ALLOW = []
    worker = SvaWorker(concurrency=2)
    try:
        worker.run(until_idle=True, max_seconds=2.0)
    finally:
        worker.close()
    user = SvaUser.objects.get(contract=contract)
    assert user.last_error_code == "egress_refused"
    integration.refresh_from_db()
    assert integration.last_error_code == "egress_refused"
    # Not a platform health failure: no breaker count, no open circuit, no "success".
    assert integration.consecutive_failures == 0 and integration.circuit_open_until is None
    assert integration.last_success_at is None


# -- Testar conexão does not tell ports apart -------------------------------------------

def test_check_gives_one_message_for_closed_silent_and_non_http_ports(make_integration, exa_account):
    garbage, silent = Listener("garbage"), Listener("silent")
    try:
        results = {}
        for label, url in [("closed", f"http://127.0.0.1:{_closed_port()}"), ("garbage", garbage.url),
                           ("silent", silent.url)]:
            integration = make_integration(base_url=url, timeout_seconds=0.5, name=label)
            results[label] = integration_check_credentials(integration=integration)
            integration.refresh_from_db()
            assert integration.last_error_message == results[label]["message"]
    finally:
        garbage.close()
        silent.close()
    assert results["closed"] == results["garbage"] == results["silent"] == {
        "ok": False, "code": "connect_failed",
        "message": "Não foi possível conectar à plataforma. Verifique a URL e a rede."}


def test_check_never_echoes_the_remote_body(make_integration, exa_account, sandbox_admin):
    http = Listener("http401")
    try:
        integration = make_integration(base_url=http.url, timeout_seconds=0.5)
        result = integration_check_credentials(integration=integration)
    finally:
        http.close()
    assert result["code"] == "credentials_refused"
    assert result["message"] == "A plataforma recusou as credenciais (ou o prefixo)."


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected(make_integration, listener,
                                                                              settings, monkeypatch):
    """DNS rebinding: the name answers an allowed address the first time and a refused one
    after; the connection must go to the first (checked) answer, never to a second lookup."""
    settings.AGREGA_EGRESS_ALLOW = [f"127.0.0.1:{listener.port}"]  # the address, not the name
    real = socket.getaddrinfo
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            lookups.append(host)
            answer = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"
            return real(answer, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    integration = make_integration(base_url=f"http://rebind.test:{listener.port}", timeout_seconds=0.5)
    integration_check_credentials(integration=integration)
    assert lookups == ["rebind.test"] and listener.connections == 1
    assert b"Host: rebind.test" in listener.received  # the URL's name still travels in Host
    # The next connection resolves again, gets the refused answer, and is refused.
    assert integration_check_credentials(integration=integration)["code"] == "egress_refused"
    assert listener.connections == 1


def test_the_cli_asks_for_the_credentials_again_on_a_url_change(integration, exa_account, listener, monkeypatch):
    from tests.cli.helpers import run

    monkeypatch.delenv("AGREGA_CLIENT_SECRET", raising=False)
    result = run("integration", "update", integration.pk, "--url", listener.url)
    assert result.code != 0 and "credentials_required_on_url_change" in result.err
    assert SvaIntegration.objects.get(pk=integration.pk).base_url == exa_account.url
    result = run("integration", "check", integration.pk)
    assert result.code == 0, result.err
    time.sleep(0.3)
    assert listener.connections == 0
    # With the secret typed again (the client id is kept), the new URL is saved.
    monkeypatch.setenv("AGREGA_CLIENT_SECRET", "outro-segredo")
    result = run("integration", "update", integration.pk, "--url", listener.url)
    assert result.code == 0, result.err
    assert SvaIntegration.objects.get(pk=integration.pk).base_url == listener.url
