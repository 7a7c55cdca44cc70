"""Fault switches of the API side, and mTLS: the client certificate can be required."""

from __future__ import annotations

import ssl
import time
import uuid

import httpx
import pytest

from pix_sandbox.pki import make_pki
from pix_sandbox.testing import Payer, PixClient, SandboxProcess

from .test_cobv_pix import PERIOD, cobv_body, txid


@pytest.fixture
def account(pix_sandbox):
    acc = pix_sandbox.new_account()
    yield acc
    acc.payer.clear_faults()
    acc.payer.close()


@pytest.fixture
def api(account):
    with account.client() as client:
        client.fetch_token()
        yield client


def test_fault_settings_are_validated(account):
    with pytest.raises(httpx.HTTPStatusError) as exc:
        account.payer.set_faults(error_rate=2)
    assert exc.value.response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError):
        account.payer.set_faults(nonsense=1)
    assert account.payer.faults()["error_rate"] == 0.0


def test_5xx_are_problems_and_not_applied(account, api):
    account.payer.set_faults(error_rate=1.0, client_id=account.client_id)
    t = txid()
    response = api.request("PUT", f"/cobv/{t}", json=cobv_body(account.chave))
    assert response.status_code in (500, 503, 504)
    assert response.headers["content-type"].startswith("application/problem+json")
    account.payer.clear_faults()
    assert api.request("GET", f"/cobv/{t}").status_code == 404


def test_faults_scoped_to_one_client_leave_the_others_alone(pix_sandbox, account, api):
    account.payer.set_faults(error_rate=1.0, client_id=account.client_id)
    with pix_sandbox.new_account().client() as other:
        assert other.request("GET", "/cobv", params=PERIOD).status_code == 200
    assert api.request("GET", "/cobv", params=PERIOD).status_code >= 500


def test_429_with_retry_after(account, api):
    account.payer.set_faults(throttle_rate=1.0, retry_after_seconds=7, client_id=account.client_id)
    response = api.request("GET", "/cobv", params=PERIOD)
    assert response.status_code == 429 and response.headers["retry-after"] == "7"


def test_rate_limit_per_client(account, api):
    account.payer.set_faults(rate_limit_rps=2, client_id=account.client_id)
    codes = [api.request("GET", "/cobv", params=PERIOD).status_code for _ in range(20)]
    # a bucket of one second (2 calls) refilled at 2/s: 20 calls faster than 0.5 s each hit it
    assert codes[:2] == [200, 200] and 429 in codes
    time.sleep(1.1)
    assert api.request("GET", "/cobv", params=PERIOD).status_code == 200


def test_latency(account, api):
    account.payer.set_faults(latency_ms=300, client_id=account.client_id)
    started = time.monotonic()
    assert api.request("GET", "/cobv", params=PERIOD).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_lost_answer_applies_the_action_then_drops_the_connection(account, api):
    account.payer.set_faults(lost_response_rate=1.0, client_id=account.client_id)
    t = txid()
    with pytest.raises(httpx.TransportError):
        api.request("PUT", f"/cobv/{t}", json=cobv_body(account.chave))
    account.payer.clear_faults()
    got = api.request("GET", f"/cobv/{t}")
    assert got.status_code == 200 and got.json()["status"] == "ATIVA"  # it was created
    again = api.request("PUT", f"/cobv/{t}", json=cobv_body(account.chave))  # the retry is the same PUT
    assert again.status_code == 201 and again.json()["loc"]["id"] == got.json()["loc"]["id"]


def test_stats_count_injected_faults(account, api):
    account.payer.set_faults(throttle_rate=1.0, client_id=account.client_id)
    before = account.payer.stats()["faults_injected"].get("throttle", 0)
    api.request("GET", "/cobv", params=PERIOD)
    assert account.payer.stats()["faults_injected"]["throttle"] == before + 1


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_mtls_refuses_a_client_without_certificate(pki):
    tls = (str(pki.server_cert), str(pki.server_key), str(pki.ca_cert))
    with SandboxProcess(args=["--client", "c:s:k"], tls=tls) as sandbox:
        assert sandbox.url.startswith("https://")
        verify = ssl.create_default_context(cafile=str(pki.ca_cert))
        with pytest.raises(httpx.TransportError):  # no client certificate: handshake refused
            httpx.post(sandbox.token_url, data={"grant_type": "client_credentials"}, auth=("c", "s"),
                       verify=verify)
        stranger = ssl.create_default_context(cafile=str(pki.ca_cert))
        stranger.load_cert_chain(str(pki.other_cert), str(pki.other_key))
        with pytest.raises(httpx.TransportError):  # a certificate from another CA: refused too
            httpx.post(sandbox.token_url, data={"grant_type": "client_credentials"}, auth=("c", "s"),
                       verify=stranger)
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
        ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
        with PixClient(sandbox.url, sandbox.token_url, "c", "s", verify=ctx) as client:
            t = uuid.uuid4().hex
            assert client.request("PUT", f"/cobv/{t}", json=cobv_body("k")).status_code == 201
            assert client.request("GET", f"/cobv/{t}").json()["txid"] == t


def test_tls_without_client_ca_accepts_any_client(pki):
    tls = (str(pki.server_cert), str(pki.server_key), None)
    with SandboxProcess(args=["--client", "c:s:k"], tls=tls) as sandbox:
        verify = ssl.create_default_context(cafile=str(pki.ca_cert))
        token = httpx.post(sandbox.token_url, data={"grant_type": "client_credentials"}, auth=("c", "s"),
                           verify=verify)
        assert token.status_code == 200


def test_pki_writes_a_pkcs12_bank_style_bundle(pki):
    from cryptography.hazmat.primitives.serialization import pkcs12

    key, cert, extra = pkcs12.load_key_and_certificates(pki.client_p12.read_bytes(), pki.client_p12_password)
    assert key is not None and "agrega-pix-client" in cert.subject.rfc4514_string()
    assert len(extra) == 1


def test_data_file_keeps_the_state_across_restarts(tmp_path):
    """``--data``: the demo restarts the sandbox and finds its charges, Pix and recurrences."""
    data = tmp_path / "pix.bin"
    args = ["--client", "c:s:k", "--data", str(data)]
    t = uuid.uuid4().hex
    with SandboxProcess(args=args) as sandbox:
        with PixClient(sandbox.url, sandbox.token_url, "c", "s") as client:
            assert client.request("PUT", f"/cobv/{t}", json=cobv_body("k")).status_code == 201
        with Payer(sandbox.root, client_id="c") as payer:
            e2eid = payer.pay(t)["endToEndId"]
    assert data.exists()
    with SandboxProcess(args=args) as sandbox:  # the token is gone, the account and data are not
        with PixClient(sandbox.url, sandbox.token_url, "c", "s") as client:
            got = client.request("GET", f"/cobv/{t}").json()
            assert got["status"] == "CONCLUIDA" and got["pix"][0]["endToEndId"] == e2eid
            assert client.request("GET", f"/pix/{e2eid}").status_code == 200


def test_webhooks_can_present_a_client_certificate(pki, tmp_path):
    """``--webhook-cert/--webhook-key/--webhook-ca``: the sandbox calls an HTTPS receiver
    that requires a client certificate (mTLS at Agrega's reverse proxy)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    calls = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            calls.append((self.path, json.loads(body), self.connection.getpeercert()["subject"]))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    ctx.verify_mode = ssl.CERT_REQUIRED
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"https://127.0.0.1:{server.server_address[1]}/agrega/pix-hook"
    try:
        for with_cert in (True, False):
            calls.clear()
            extra = ["--webhook-cert", str(pki.client_cert), "--webhook-key", str(pki.client_key)] if with_cert else []
            with SandboxProcess(args=["--client", "c:s:k", "--webhook-ca", str(pki.ca_cert), *extra]) as sandbox, \
                    PixClient(sandbox.url, sandbox.token_url, "c", "s") as client, \
                    Payer(sandbox.root, client_id="c") as payer:
                payer.set_faults(webhook_max_attempts=2, webhook_retry_base_ms=10)
                client.request("PUT", "/webhook/k", json={"webhookUrl": hook}).raise_for_status()
                t = uuid.uuid4().hex
                client.request("PUT", f"/cobv/{t}", json=cobv_body("k")).raise_for_status()
                e2eid = payer.pay(t)["endToEndId"]
                assert payer.wait_webhooks(15)
                outcomes = [d["outcome"] for d in payer.webhooks()["deliveries"]]
            if with_cert:
                assert outcomes == ["delivered"]
                assert calls[0][0] == "/agrega/pix-hook/pix" and calls[0][1]["pix"][0]["endToEndId"] == e2eid
                assert ((("commonName", "agrega-pix-client"),) in calls[0][2])
            else:  # no client certificate: the receiver's TLS refuses every attempt
                assert calls == [] and outcomes == ["retry", "gave_up"]
    finally:
        server.shutdown()
        server.server_close()


def test_agrega_cli_runs_the_sandbox(capsys):
    from agrega.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["pix-sandbox", "--help"])
    assert exc.value.code == 0
    assert "--client-ca" in capsys.readouterr().out
