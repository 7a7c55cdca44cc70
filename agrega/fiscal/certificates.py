"""The A1 certificate (PKCS#12): loaded, checked against the emitter's CNPJ, kept
encrypted at rest (core/crypto.py) and never shown back.

ICP-Brasil e-CNPJ certificates carry the CNPJ in the SubjectAltName otherName
2.16.76.1.3.3 and usually in the CN as "RAZAO SOCIAL:CNPJ"; both are accepted."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from agrega.core.crypto import decrypt_json, encrypt_json
from agrega.core.errors import ApplicationError

OID_CNPJ = x509.ObjectIdentifier("2.16.76.1.3.3")
MAX_SIZE = 64 * 1024
WARN_DAYS = 30


@dataclass(frozen=True)
class Certificate:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: list
    cnpj: str
    subject: str
    not_after: datetime
    pkcs12: bytes
    password: str

    def pem_chain(self) -> list[x509.Certificate]:
        return [self.cert, *self.chain]


def _der_value(data: bytes) -> bytes:
    """The content of one DER TLV (the otherName value is [0] EXPLICIT OCTET/UTF8 STRING)."""
    if len(data) < 2:
        return b""
    length = data[1]
    offset = 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[2:2 + n], "big")
        offset = 2 + n
    return data[offset:offset + length]


def cnpj_of(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for name in san.get_values_for_type(x509.OtherName):
            if name.type_id == OID_CNPJ:
                inner = _der_value(name.value)
                # either the string directly or wrapped once more ([0] EXPLICIT)
                text = inner if inner[:1] not in (b"\x04", b"\x0c", b"\x13") else _der_value(inner)
                value = re.sub(r"[^0-9A-Z]", "", text.decode("latin-1").upper())
                if len(value) == 14:
                    return value
    except x509.ExtensionNotFound:
        pass
    for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        match = re.search(r":([0-9A-Z]{14})\s*$", str(attr.value).upper())
        if match:
            return match.group(1)
    return ""


def load(pkcs12_bytes: bytes, password: str) -> Certificate:
    if not pkcs12_bytes or len(pkcs12_bytes) > MAX_SIZE:
        raise ApplicationError("certificate_invalid", "Envie o arquivo do certificado A1 (.pfx/.p12, até 64 KB).")
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(pkcs12_bytes, (password or "").encode())
    except ValueError:
        raise ApplicationError("certificate_password",
                               "Não foi possível abrir o certificado: senha incorreta ou arquivo inválido.") from None
    if cert is None or not isinstance(key, rsa.RSAPrivateKey):
        raise ApplicationError("certificate_invalid", "O arquivo não contém um certificado A1 com chave RSA.")
    return Certificate(key=key, cert=cert, chain=list(chain or []), cnpj=cnpj_of(cert),
                       subject=cert.subject.rfc4514_string()[:300], not_after=cert.not_valid_after_utc,
                       pkcs12=pkcs12_bytes, password=password or "")


def check_for(certificate: Certificate, *, cnpj: str, now: datetime | None = None) -> None:
    now = now or datetime.now(timezone.utc)
    if not certificate.cnpj:
        raise ApplicationError("certificate_no_cnpj",
                               "O certificado não traz um CNPJ (e-CNPJ ICP-Brasil): use o certificado A1 da empresa.")
    # SEFAZ accepts a certificate of the same company (the CNPJ's first 8 characters,
    # its root): a branch may sign with the head office's e-CNPJ
    if certificate.cnpj[:8] != cnpj[:8]:
        raise ApplicationError("certificate_cnpj_mismatch",
                               f"O certificado é do CNPJ {certificate.cnpj}, não do emitente ({cnpj}).")
    if certificate.not_after <= now:
        raise ApplicationError("certificate_expired",
                               f"O certificado venceu em {certificate.not_after:%d/%m/%Y}.")
    if certificate.cert.not_valid_before_utc > now:
        raise ApplicationError("certificate_not_yet_valid", "O certificado ainda não é válido.")


def seal(certificate: Certificate) -> str:
    return encrypt_json({"pkcs12": base64.b64encode(certificate.pkcs12).decode(), "password": certificate.password})


def unseal(token: str) -> Certificate:
    data = decrypt_json(token)
    if not data:
        raise ApplicationError("certificate_missing", "Envie o certificado A1 em Configurações > Fiscal.")
    return load(base64.b64decode(data["pkcs12"]), data["password"])


def expiry_warning(not_after: datetime | None, *, now: datetime | None = None) -> str:
    """The dashboard's line: empty when more than 30 days are left."""
    if not_after is None:
        return ""
    now = now or datetime.now(timezone.utc)
    if not_after <= now:
        return f"O certificado A1 venceu em {not_after:%d/%m/%Y}: nenhuma NFCom pode ser emitida."
    if not_after - now <= timedelta(days=WARN_DAYS):
        return f"O certificado A1 vence em {not_after:%d/%m/%Y} ({(not_after - now).days} dias): renove-o."
    return ""
