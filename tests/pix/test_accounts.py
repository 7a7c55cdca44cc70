"""PSP accounts: secrets encrypted and write-only, the client certificate (PKCS#12 or PEM)
with its expiry warned 30 days ahead, "Testar conexão" against the PSP sandbox, and
access for administrators only (API, CLI)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.urls import reverse

from agrega.core.errors import ApplicationError
from agrega.core.roles import Role
from agrega.pix import services
from agrega.pix.models import PixAccount
from tests.fixtures import bearer_headers

pytestmark = pytest.mark.django_db


def make_cert(days: int):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provedor.example")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))
    return key, cert


def test_secrets_are_encrypted_and_never_returned(pix_account, role_user, client):
    raw = PixAccount.objects.filter(pk=pix_account.pk).values_list("secrets_encrypted", flat=True).get()
    assert pix_account.secrets["client_secret"] not in raw
    admin = role_user("adm", Role.ADMIN)
    answer = client.get("/api/pix-accounts", **bearer_headers(admin))
    assert answer.status_code == 200
    assert pix_account.secrets["client_secret"] not in answer.content.decode()
    assert answer.json()[0]["secrets_set"] is True
    operator = role_user("op", Role.OPERATOR)
    assert client.get("/api/pix-accounts", **bearer_headers(operator)).status_code == 403


def test_pkcs12_and_pem_certificates_with_expiry_warning(db):
    key, cert = make_cert(days=10)
    p12 = pkcs12.serialize_key_and_certificates(b"c", key, cert, None,
                                                serialization.BestAvailableEncryption(b"senha"))
    a = services.account_create(name="A", base_url="https://psp.example/api", client_id="c", client_secret="s",
                                chave="k", pkcs12_data=p12, cert_password="senha")
    assert a.cert_not_after.date() == cert.not_valid_after_utc.date()
    assert "provedor.example" in a.cert_subject
    assert "BEGIN PRIVATE KEY" in a.secrets["key_pem"]
    assert [x.pk for x in services.cert_expiring()] == [a.pk]
    key2, cert2 = make_cert(days=200)
    services.account_update(account_id=a.pk, cert_pem=cert2.public_bytes(serialization.Encoding.PEM).decode(),
                            key_pem=key2.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()).decode())
    assert services.cert_expiring() == []
    with pytest.raises(ApplicationError) as exc:
        services.account_create(name="B", base_url="https://psp.example/api", client_id="c", client_secret="s",
                                chave="k", pkcs12_data=p12, cert_password="errada")
    assert exc.value.code == "certificate_invalid"


def test_the_client_presents_the_certificate_in_its_ssl_context():
    from agrega.pix.client import ssl_context

    key, cert = make_cert(days=30)
    ctx = ssl_context(cert.public_bytes(serialization.Encoding.PEM).decode(),
                      key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode())
    assert ctx.verify_mode.name == "CERT_REQUIRED"  # still verifies the PSP


def test_check_connection_gets_a_token_and_checks_the_scopes(pix_account, fast_pix):
    a = services.account_check(account_id=pix_account.pk)
    assert a.last_check_ok is True, a.last_check_message
    assert "cobv.write" in a.scopes_granted
    services.account_update(account_id=a.pk, client_secret="errado")
    a = services.account_check(account_id=a.pk)
    assert a.last_check_ok is False and "recusou" in a.last_check_message


def test_invalid_account_fields_are_refused(db):
    with pytest.raises(ApplicationError) as exc:
        services.account_create(name="", base_url="ftp://x", client_id="", client_secret="", chave="")
    fields = set(exc.value.fields)
    assert {"name", "base_url", "client_id", "chave"} <= fields


def test_cli_lists_accounts_without_secrets(pix_account, capsys):
    call_command("pix", "accounts", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out[0]["chave"] == pix_account.chave
    assert pix_account.secrets["client_secret"] not in json.dumps(out)


def test_the_dashboard_warns_30_days_before_the_certificate_expires(role_user):
    from tests.fixtures import logged_in_client

    key, cert = make_cert(days=20)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    a = services.account_create(name="Banco X", base_url="https://psp.example/api", client_id="c",
                                client_secret="s", chave="k", cert_pem=pem, key_pem=key_pem)
    page = logged_in_client(role_user("adm2", Role.ADMIN)).get("/").content.decode()
    assert f'data-cert-expiring="{a.pk}"' in page and "Banco X" in page
    key, cert = make_cert(days=45)
    services.account_update(account_id=a.pk, cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                            key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()).decode())
    page = logged_in_client(role_user("adm3", Role.ADMIN)).get("/").content.decode()
    assert "data-cert-expiring" not in page


def _account_with_scopes(pix_sandbox, scopes):
    psp = pix_sandbox.new_account(scopes=list(scopes))
    return services.account_create(name="PSP limitado", base_url=psp.url, token_url=psp.token_url,
                                   client_id=psp.client_id, client_secret=psp.client_secret, chave=psp.chave)


def test_check_connection_fails_when_cobv_or_pix_scopes_are_missing(pix_sandbox, fast_pix, role_user):
    from tests.fixtures import logged_in_client

    granted = [s for s in services.REQUIRED_SCOPES + services.AUTOMATICO_SCOPES if s not in ("cobv.write", "pix.read")]
    a = services.account_check(account_id=_account_with_scopes(pix_sandbox, granted).pk)
    assert (a.last_check_ok, a.last_check_code) == (False, "pix_scopes_missing")
    assert "faltam escopos" in a.last_check_message
    assert "cobv.write" in a.last_check_message and "pix.read" in a.last_check_message
    assert a.last_check_warning == ""  # Pix Automático's are all there
    page = logged_in_client(role_user("adm-scope", Role.ADMIN)).get(reverse("pix:list")).content.decode()
    assert 'data-code="pix_scopes_missing"' in page and "cobv.write" in page


def test_check_connection_warns_when_pix_automatico_scopes_are_missing(pix_sandbox, fast_pix):
    a = services.account_check(account_id=_account_with_scopes(pix_sandbox, services.REQUIRED_SCOPES).pk)
    assert (a.last_check_ok, a.last_check_code) == (True, "ok"), a.last_check_message
    assert a.last_check_warning.startswith("Pix Automático indisponível")
    for scope in services.AUTOMATICO_SCOPES:
        assert scope in a.last_check_warning
    full = services.account_check(account_id=_account_with_scopes(
        pix_sandbox, services.REQUIRED_SCOPES + services.AUTOMATICO_SCOPES).pk)
    assert (full.last_check_ok, full.last_check_warning) == (True, "")


def test_the_scopes_checked_are_the_yaml_names():
    from pix_sandbox.conformance import SpecNotFound, load_spec_dict

    try:
        spec = load_spec_dict()
    except SpecNotFound as exc:
        pytest.skip(f"API Pix 2.9.0 yaml ausente: {exc}")
    scopes = spec["components"]["securitySchemes"]["OAuth2"]["flows"]["clientCredentials"]["scopes"]
    assert set(services.REQUIRED_SCOPES + services.AUTOMATICO_SCOPES) <= set(scopes)


def test_a_refused_pix_automatico_webhook_is_shown_on_the_account(pix_sandbox, fast_pix, role_user):
    from tests.fixtures import logged_in_client

    a = _account_with_scopes(pix_sandbox, services.REQUIRED_SCOPES)  # no webhookrec/webhookcobr.write
    a = services.account_register_webhook(account_id=a.pk, public_url="https://agrega.example")
    assert a.webhook_registered_at is not None  # the cobv webhook is registered
    assert a.webhook_automatico_error.startswith("Webhooks do Pix Automático não registrados")
    assert "webhookrec" in a.webhook_automatico_error and "webhookcobr" in a.webhook_automatico_error
    page = logged_in_client(role_user("adm-hook", Role.ADMIN)).get(reverse("pix:list")).content.decode()
    assert 'data-field="webhook-automatico"' in page
    answer = json.loads(_cli_json("accounts"))
    assert [x["webhook_automatico_error"] for x in answer if x["id"] == a.pk] == [a.webhook_automatico_error]
    pix_sandbox.payer.create_account(a.client_id, a.secrets["client_secret"],
                                     scopes=list(services.REQUIRED_SCOPES + services.AUTOMATICO_SCOPES))
    # the PSP granted them later: registering again clears the warning
    a = services.account_register_webhook(account_id=a.pk, public_url="https://agrega.example")
    assert a.webhook_automatico_error == ""


def _cli_json(*args) -> str:
    import io

    out = io.StringIO()
    call_command("pix", *args, "--json", stdout=out)
    return out.getvalue()
