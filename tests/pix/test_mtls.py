"""mTLS end to end: the PSP sandbox over HTTPS requiring a client certificate signed by
its own CA (as a PSP's homologation environment does), and Agrega's PSP client with the
account's certificate (PKCS#12, or PEM + key) and the "CA do PSP" that signs the
sandbox's server certificate. Without the certificate, with one the sandbox's CA did not
sign, or without the CA, the failure is a clear error with a stable code, at once —
never retried (a refused handshake stays refused until the account changes)."""

from __future__ import annotations

import ssl

import httpx
import pytest

from agrega.core.errors import ApplicationError
from agrega.pix import services
from agrega.pix.client import TLS_CLIENT_REFUSED, TLS_SERVER_UNTRUSTED, PixError
from agrega.pix.models import ChargeStatus, PixCharge
from pix_sandbox.pki import make_pki
from pix_sandbox.testing import Payer, SandboxProcess

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_ID, SECRET, CHAVE = "agrega-mtls", "segredo-mtls", "5f84a4c5-c5cb-4599-9f13-7eb4d419dacc"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, the sandbox's server certificate and a client certificate it signed (PEM and
    PKCS#12), and a stranger's certificate from another CA — generated with cryptography."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def mtls_sandbox(pki):
    tls = (str(pki.server_cert), str(pki.server_key), str(pki.ca_cert))
    with SandboxProcess(args=["--client", f"{CLIENT_ID}:{SECRET}:{CHAVE}"], tls=tls) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox_api(pki, mtls_sandbox):
    """The test's own view of the sandbox (its admin side also requires the certificate)."""
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    payer = Payer(mtls_sandbox.root, client_id=CLIENT_ID, verify=ctx)
    yield payer
    payer.close()


def account(mtls_sandbox, pki, *, certificate: str, ca: bool = True):
    """The PSP account in Agrega: ``certificate`` is "p12", "pem", "stranger" or "none"."""
    kwargs: dict = {}
    if certificate == "p12":
        kwargs = {"pkcs12_data": pki.client_p12.read_bytes(), "cert_password": pki.client_p12_password.decode()}
    elif certificate == "pem":
        kwargs = {"cert_pem": pki.client_cert.read_text(), "key_pem": pki.client_key.read_text()}
    elif certificate == "stranger":
        kwargs = {"cert_pem": pki.other_cert.read_text(), "key_pem": pki.other_key.read_text()}
    return services.account_create(name="PSP homologação", base_url=mtls_sandbox.url,
                                   token_url=mtls_sandbox.token_url, client_id=CLIENT_ID, client_secret=SECRET,
                                   chave=CHAVE, validade_apos_vencimento=365,
                                   psp_ca_pem=pki.ca_cert.read_text() if ca else "", **kwargs)


def handshakes(client) -> list[str]:
    """Every request the client sends (each needs a handshake when the last one failed)."""
    sent: list[str] = []
    client.http().event_hooks["request"].append(lambda request: sent.append(str(request.url)))
    return sent


@pytest.mark.parametrize("certificate", ["p12", "pem"])
def test_check_and_cobv_over_mtls_with_the_psp_ca(mtls_sandbox, pki, sandbox_api, billed, fast_pix, certificate):
    a = account(mtls_sandbox, pki, certificate=certificate)
    assert a.psp_ca_pem == pki.ca_cert.read_text()
    a = services.account_check(account_id=a.pk)
    assert (a.last_check_ok, a.last_check_code) == (True, "ok"), a.last_check_message
    assert "cobv.write" in a.scopes_granted
    contract, invoice = billed()  # the billing run's task sends the título's PUT /cobv
    charge = PixCharge.objects.get(invoice=invoice)
    assert charge.status == ChargeStatus.ACTIVE, charge.last_error
    assert charge.pix_copia_e_cola.startswith("000201")
    served = sandbox_api.stats()["requests"]
    assert any("cobv" in name for name in served), served


@pytest.mark.parametrize("certificate", ["none", "stranger"])
def test_a_refused_client_certificate_is_a_clear_permanent_error(mtls_sandbox, pki, billed, fast_pix, certificate):
    a = account(mtls_sandbox, pki, certificate=certificate)
    a = services.account_check(account_id=a.pk)
    assert a.last_check_ok is False
    assert a.last_check_code == TLS_CLIENT_REFUSED
    assert "recusou a conexão TLS" in a.last_check_message and "certificado do cliente" in a.last_check_message
    assert "Traceback" not in a.last_check_message

    client = services.client_for(a)
    sent = handshakes(client)
    with pytest.raises(PixError) as exc:
        client.cobv_get("agrega00000000000000000001")
    assert exc.value.code == TLS_CLIENT_REFUSED and exc.value.tls_failure
    assert len(sent) == 1  # the token request, once: not retried
    with pytest.raises(PixError) as again:
        client.cobv_get("agrega00000000000000000001")
    assert again.value.code == TLS_CLIENT_REFUSED
    assert len(sent) == 1  # remembered: no new handshake until the account changes
    client.close()

    contract, invoice = billed()  # the título's cobv fails with the same message, kept on it
    charge = PixCharge.objects.get(invoice=invoice)
    assert charge.status == ChargeStatus.ERROR
    assert "recusou a conexão TLS" in charge.last_error


@pytest.fixture
def alerting_server(pki):
    """A TLS server as a PSP's front end (nginx, a load balancer) is: it requires a
    client certificate from the sandbox's CA and, refusing one, sends the TLS alert
    (the sandbox's asyncio server just closes the connection)."""
    import socket
    import threading

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    ctx.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    with ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(4096)
                        tls.sendall(b"HTTP/1.1 503 x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                except (ssl.SSLError, OSError):
                    pass  # the alert went out

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()
    thread.join(5)


def test_a_tls_alert_of_the_psp_is_read_as_a_refused_certificate(alerting_server, pki, fast_pix):
    a = services.account_create(name="PSP", base_url=alerting_server + "/api", client_id="c", client_secret="s",
                                chave="k", psp_ca_pem=pki.ca_cert.read_text(),
                                cert_pem=pki.other_cert.read_text(), key_pem=pki.other_key.read_text())
    a = services.account_check(account_id=a.pk)
    assert a.last_check_code == TLS_CLIENT_REFUSED, a.last_check_message
    assert "alerta TLS" in a.last_check_message


def test_without_the_psp_ca_the_server_is_not_trusted(mtls_sandbox, pki, fast_pix):
    a = account(mtls_sandbox, pki, certificate="p12", ca=False)
    a = services.account_check(account_id=a.pk)
    assert (a.last_check_ok, a.last_check_code) == (False, TLS_SERVER_UNTRUSTED)
    assert "CA do PSP" in a.last_check_message
    services.account_update(account_id=a.pk, psp_ca_pem=pki.ca_cert.read_text())  # the account changes
    a = services.account_check(account_id=a.pk)
    assert a.last_check_ok is True, a.last_check_message


def test_the_psp_ca_must_be_certificates(db, pki):
    base = dict(name="X", base_url="https://psp.example/api", client_id="c", client_secret="s", chave="k")
    for junk in ("não é um certificado", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                 pki.client_key.read_text()):
        with pytest.raises(ApplicationError) as exc:
            services.account_create(psp_ca_pem=junk, **base)
        assert exc.value.fields["psp_ca_pem"][0].code == "psp_ca_invalid"
    two = pki.ca_cert.read_text() + "\n" + pki.server_cert.read_text()
    a = services.account_create(psp_ca_pem=two, **base)
    assert a.psp_ca_pem.count("BEGIN CERTIFICATE") == 2
    a = services.account_update(account_id=a.pk, psp_ca_pem="")
    assert a.psp_ca_pem == ""


def test_the_psp_ca_through_the_api_the_form_and_the_cli(db, pki, role_user, client, capsys, tmp_path):
    import json

    from django.core.management import call_command

    from agrega.core.roles import Role
    from tests.fixtures import bearer_headers, logged_in_client

    admin = role_user("adm-ca", Role.ADMIN)
    body = {"name": "API", "base_url": "https://psp.example/api", "client_id": "c", "client_secret": "s",
            "chave": "k", "psp_ca_pem": "lixo"}
    refused = client.post("/api/pix-accounts", data=body, content_type="application/json", **bearer_headers(admin))
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"]["psp_ca_pem"][0]["code"] == "psp_ca_invalid"
    body["psp_ca_pem"] = pki.ca_cert.read_text()
    created = client.post("/api/pix-accounts", data=body, content_type="application/json", **bearer_headers(admin))
    assert created.status_code == 201, created.content
    assert "Sandbox PSP CA" in created.json()["psp_ca"]
    account_id = created.json()["id"]
    kept = client.patch(f"/api/pix-accounts/{account_id}", data={"name": "API 2"}, content_type="application/json",
                        **bearer_headers(admin))
    assert "Sandbox PSP CA" in kept.json()["psp_ca"]

    web = logged_in_client(admin)
    page = web.get(_edit_url(account_id)).content.decode()
    assert 'name="psp_ca_pem"' in page and "BEGIN CERTIFICATE" in page
    form = {"name": "Form", "base_url": "https://psp.example/api", "client_id": "c", "chave": "k",
            "adapter": "padrao", "validade_apos_vencimento": 30, "timeout_seconds": 10, "active": "on",
            "psp_ca_pem": "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----"}
    answer = web.post(_edit_url(account_id), form)
    assert answer.status_code == 422 and "CA do PSP inválida" in answer.content.decode()
    form["psp_ca_pem"] = ""
    assert web.post(_edit_url(account_id), form).status_code == 302
    assert client.get(f"/api/pix-accounts/{account_id}", **bearer_headers(admin)).json()["psp_ca"] == ""

    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(pki.ca_cert.read_text())
    call_command("pix", "account-ca", str(account_id), "--file", str(ca_file), "--json")
    assert "Sandbox PSP CA" in json.loads(capsys.readouterr().out)["psp_ca"]
    call_command("pix", "account-ca", str(account_id), "--remove", "--json")
    assert json.loads(capsys.readouterr().out)["psp_ca"] == ""


def _edit_url(account_id: int) -> str:
    from django.urls import reverse

    return reverse("pix:edit", args=[account_id])
