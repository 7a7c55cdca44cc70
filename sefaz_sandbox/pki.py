"""A throw-away ICP-Brasil-like PKI for the SEFAZ sandbox, its tests and the demo.

Real NFCom traffic is mutual TLS: the SEFAZ presents a server certificate and the
taxpayer an **A1** certificate (PKCS#12) whose subject carries the CNPJ — in the SAN
``otherName`` 2.16.76.1.3.3 and, by custom, in the CN as ``RAZÃO SOCIAL:CNPJ``. The same
A1 signs the XML. To exercise all of that without a real certificate, this module mints
a test CA, a server certificate for 127.0.0.1/localhost and A1 files with those fields.

Nothing here is for production: keys are generated on the fly, the CA is a plain file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# ICP-Brasil SAN otherName OIDs (DOC-ICP-04): the company's CNPJ, and the responsible
# person's data (not needed here).
OID_CNPJ = ObjectIdentifier("2.16.76.1.3.3")

KEY_SIZE = 2048


@dataclass
class TestCA:
    """The sandbox's certificate authority: it issues the server and the A1 certificates
    and is the only issuer the sandbox accepts for a client certificate."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    __test__ = False  # not a pytest test class despite the name

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``ca.pem`` and ``ca-key.pem`` (0600) into ``directory``."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / "ca.pem").write_bytes(self.cert_pem)
        _write_private(path / "ca-key.pem", _key_pem(self.key))
        return path / "ca.pem"

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> "TestCA":
        path = Path(directory)
        cert = x509.load_pem_x509_certificate((path / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((path / "ca-key.pem").read_bytes(), None)
        return cls(cert, key)  # type: ignore[arg-type]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def make_ca(*, name: str = "AC Sandbox SEFAZ Agrega (teste)", days: int = 3650) -> TestCA:
    """A fresh self-signed CA (RSA 2048, SHA-256)."""
    key = _new_key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ICP-Brasil (teste)"),
        x509.NameAttribute(NameOID.COMMON_NAME, name),
    ])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return TestCA(cert, key)


def _leaf(ca: TestCA, subject: x509.Name, san: list[x509.GeneralName], usage: list,
          *, days: int, not_before: dt.datetime | None = None) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    start = not_before or (_now() - dt.timedelta(minutes=5))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=True, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return cert, key


def make_server_cert(ca: TestCA, *, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
                     days: int = 825) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for the sandbox's HTTPS listener."""
    san: list[x509.GeneralName] = []
    for host in hosts:
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            san.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    cert, key = _leaf(ca, subject, san, [ExtendedKeyUsageOID.SERVER_AUTH], days=days)
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def cnpj_other_name(cnpj: str) -> x509.OtherName:
    """The SAN entry ICP-Brasil uses for a company's CNPJ (value: an OCTET STRING)."""
    raw = cnpj.encode("ascii")
    return x509.OtherName(OID_CNPJ, b"\x04" + bytes([len(raw)]) + raw)


def make_a1(*, cnpj: str, razao: str, password: str, days: int = 365, ca: TestCA | None = None,
            not_before: dt.datetime | None = None, san_cnpj: bool = True) -> bytes:
    """An A1 certificate as PKCS#12 (certificate, key and the CA), protected by ``password``.

    The subject is ICP-Brasil-like (``CN=RAZÃO:CNPJ``, ``OU=Certificado PJ A1``) and the SAN
    carries the CNPJ in otherName 2.16.76.1.3.3 (``san_cnpj=False`` leaves only the CN).
    ``ca`` defaults to a new CA — which no sandbox trusts: pass the sandbox's CA
    (``SandboxProcess.ca``) for a certificate it accepts. ``not_before`` lets a test
    mint an already expired certificate.
    """
    ca = ca or make_ca()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ICP-Brasil"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Certificado PJ A1"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{razao}:{cnpj}"[:64]),
    ])
    san: list[x509.GeneralName] = [cnpj_other_name(cnpj)] if san_cnpj else []
    san.append(x509.RFC822Name("fiscal@example.com"))
    cert, key = _leaf(ca, subject, san,
                      [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION],
                      days=days, not_before=not_before)
    return pkcs12.serialize_key_and_certificates(
        razao.encode("utf-8")[:64], key, cert, [ca.cert],
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )


def cnpj_of(cert: x509.Certificate) -> str | None:
    """The CNPJ a certificate was issued to: SAN otherName 2.16.76.1.3.3, else the CN's
    ``RAZÃO:CNPJ`` suffix; None when neither is there."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        for name in san.get_values_for_type(x509.OtherName):
            if name.type_id == OID_CNPJ:
                value = _der_string(name.value)
                if value:
                    return value
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        _, sep, tail = str(attribute.value).rpartition(":")
        if sep and tail.strip():
            return tail.strip()
    return None


def _der_string(der: bytes) -> str | None:
    """The text of a short DER OCTET/Printable/UTF8/IA5 STRING (what CAs put there)."""
    if len(der) < 2 or der[0] not in (0x04, 0x0C, 0x13, 0x16) or der[1] >= 0x80:
        return None
    body = der[2:2 + der[1]]
    try:
        return body.decode("ascii").strip() or None
    except UnicodeDecodeError:
        return None


def load_a1(pkcs12_bytes: bytes, password: str):
    """(key, certificate, additional certificates) of an A1; raises ValueError on a wrong
    password or a file that is not PKCS#12."""
    key, cert, extra = pkcs12.load_key_and_certificates(pkcs12_bytes, password.encode("utf-8"))
    if key is None or cert is None:
        raise ValueError("PKCS#12 sem chave privada ou certificado.")
    return key, cert, extra


class Pki:
    """The files a sandbox process needs, kept in one directory (created when missing):
    ``ca.pem``/``ca-key.pem``, ``server.pem``/``server-key.pem``."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.dir = Path(directory)
        if (self.dir / "ca.pem").exists() and (self.dir / "ca-key.pem").exists():
            self.ca = TestCA.load(self.dir)
        else:
            self.ca = make_ca()
            self.ca.save(self.dir)
        if not (self.dir / "server.pem").exists():
            cert, key = make_server_cert(self.ca)
            (self.dir / "server.pem").write_bytes(cert)
            _write_private(self.dir / "server-key.pem", key)

    @property
    def ca_path(self) -> str:
        return str(self.dir / "ca.pem")

    @property
    def server_cert_path(self) -> str:
        return str(self.dir / "server.pem")

    @property
    def server_key_path(self) -> str:
        return str(self.dir / "server-key.pem")
