"""The client certificate of a PSP account (mTLS): PKCS#12 (with its password) or PEM
certificate + key, turned into PEM for the ssl context, with its subject and expiry."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from agrega.core.errors import ApplicationError


def _pem_key(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def load(*, pkcs12_data: bytes | None = None, password: str = "", cert_pem: str = "",
         key_pem: str = "") -> tuple[str, str, str, datetime]:
    """(cert PEM, key PEM unencrypted, subject, not-after) or ``certificate_invalid``."""
    try:
        if pkcs12_data:
            key, cert, extra = pkcs12.load_key_and_certificates(pkcs12_data, (password or "").encode() or None)
            if key is None or cert is None:
                raise ValueError("sem chave ou certificado")
            chain = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in extra or [])
            cert_text = cert.public_bytes(serialization.Encoding.PEM).decode() + chain
            key_text = _pem_key(key)
        else:
            cert = x509.load_pem_x509_certificate(cert_pem.encode())
            key = serialization.load_pem_private_key(key_pem.encode(), (password or "").encode() or None)
            cert_text, key_text = cert_pem, _pem_key(key)
    except (ValueError, TypeError) as exc:
        raise ApplicationError("certificate_invalid",
                               f"Certificado inválido (PKCS#12 e senha, ou PEM e chave): {exc}"[:300]) from None
    return cert_text, key_text, cert.subject.rfc4514_string()[:300], cert.not_valid_after_utc


MAX_CA_CHARS = 64 * 1024


def load_ca(pem: str) -> tuple[str, list[x509.Certificate]]:
    """The PSP's CA (public, PEM): (the PEM of its certificates, the certificates), or
    ``psp_ca_invalid`` unless it parses as one or more certificates that OpenSSL accepts
    as trust anchors. Empty: ("", [])."""
    from agrega.core.errors import FieldError, ValidationFailed

    text = (pem or "").strip()
    if not text:
        return "", []

    def refuse(why: str):
        message = f"CA do PSP inválida: {why}"[:300]
        return ValidationFailed({"psp_ca_pem": [FieldError("psp_ca_invalid", message)]}, message)

    if len(text) > MAX_CA_CHARS:
        raise refuse("texto grande demais (máx. 64 KiB).")
    try:
        found = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise refuse("cole um ou mais certificados PEM (-----BEGIN CERTIFICATE----- …).") from None
    normalized = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in found)
    try:
        import ssl

        ssl.create_default_context().load_verify_locations(cadata=normalized)
    except (ssl.SSLError, ValueError) as exc:
        raise refuse(f"o OpenSSL não aceitou o certificado ({exc}).") from None
    return normalized, found


def describe_ca(pem: str) -> str:
    """The subjects and expiries of a stored CA, for the page and the API ("" if none)."""
    if not pem:
        return ""
    try:
        found = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        return "(ilegível)"
    return "; ".join(f"{c.subject.rfc4514_string()} (até {c.not_valid_after_utc:%d/%m/%Y})" for c in found)[:1000]
