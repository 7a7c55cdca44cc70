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
