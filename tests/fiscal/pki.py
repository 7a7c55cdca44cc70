"""A self-made ICP-Brasil-shaped A1 for tests: the CNPJ in the SAN otherName
2.16.76.1.3.3 and in the CN as "RAZAO:CNPJ" (replaced by sefaz_sandbox.pki.make_a1
once h/sefaz is merged)."""

from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID


def _octet(value: bytes) -> bytes:
    return b"\x04" + bytes([len(value)]) + value


def make_a1(*, cnpj: str, razao: str = "PROVEDOR TESTE LTDA", password: str = "senha", days: int = 365,
            in_san: bool = True, in_cn: bool = True, not_before: datetime | None = None) -> tuple[bytes, bytes]:
    """(pkcs12, certificate PEM)."""
    from cryptography.hazmat.primitives.serialization import Encoding
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = not_before or datetime.now(timezone.utc) - timedelta(days=1)
    cn = f"{razao}:{cnpj}" if in_cn else razao
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ICP-Brasil"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start)
               .not_valid_after(start + timedelta(days=days)))
    if in_san:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.OtherName(x509.ObjectIdentifier("2.16.76.1.3.3"), _octet(cnpj.encode()))]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    p12 = pkcs12.serialize_key_and_certificates(b"a1", key, cert, None, BestAvailableEncryption(password.encode()))
    return p12, cert.public_bytes(Encoding.PEM)
