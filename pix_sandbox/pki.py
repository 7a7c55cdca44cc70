"""Throw-away certificates for mTLS tests: a CA, a server certificate, client certificates.

A PSP's API Pix requires the client certificate it issued to the usuário recebedor; the
sandbox does the same when started with ``--client-ca``. ``make_pki(folder)`` writes PEM
files for that (and PKCS#12 of the client, as banks hand them out) — test material,
never secrets: the keys are generated fresh each time.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_p12: Path
    client_p12_password: bytes
    other_cert: Path  # a client certificate from another CA (must be refused)
    other_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Agrega sandbox"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool = False,
          server: bool = False, days: int = 30) -> x509.Certificate:
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate | None = None, key=None) -> Path:
    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return path


def make_pki(folder: str | Path, *, client_days: int = 30) -> Pki:
    """A CA, a server cert for 127.0.0.1/localhost, a client cert signed by the CA (PEM
    and PKCS#12) and a stranger's client cert signed by another CA."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Sandbox PSP CA")
    ca = _cert("Sandbox PSP CA", ca_key, ca_name, ca_key, ca=True, days=365)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("127.0.0.1", server_key, ca_name, ca_key, server=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("agrega-pix-client", client_key, ca_name, ca_key, days=client_days)
    other_ca_key = ec.generate_private_key(ec.SECP256R1())
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _cert("intruder", other_key, _name("Other CA"), other_ca_key)
    password = b"sandbox"
    p12 = pkcs12.serialize_key_and_certificates(
        b"agrega-pix-client", client_key, client, [ca],
        serialization.BestAvailableEncryption(password))
    (folder / "client.p12").write_bytes(p12)
    return Pki(
        ca_cert=_write(folder / "ca.pem", ca),
        server_cert=_write(folder / "server.pem", server),
        server_key=_write(folder / "server.key", key=server_key),
        client_cert=_write(folder / "client.pem", client),
        client_key=_write(folder / "client.key", key=client_key),
        client_p12=folder / "client.p12",
        client_p12_password=password,
        other_cert=_write(folder / "other.pem", other),
        other_key=_write(folder / "other.key", key=other_key),
    )
