"""Run the SEFAZ sandbox as a real process and drive it (tests, demo, benchmarks).

    with SandboxProcess() as sandbox:
        a1 = make_a1(cnpj="11222333000181", razao="ISP", password="x", ca=sandbox.ca)
        sandbox.admin.set_faults(lost_next=1)

The process binds port 0 and writes the port it got (no race for the port). Its PKI
lives in ``pki_dir`` (a temporary directory unless given); ``ca_path`` is the bundle a
client uses to trust the server; ``ca`` issues the A1 certificates the sandbox accepts.
"""

from __future__ import annotations

import os
import ssl
from typing import Any, Sequence

import httpx
from cryptography.hazmat.primitives import serialization

from sandbox_common.admin import AdminClient
from sandbox_common.process import SandboxError, SandboxProcess as _Process

from .pki import Pki, TestCA, load_a1, make_a1

__all__ = ["SandboxAdmin", "SandboxError", "SandboxProcess", "client_context"]


def client_context(ca_path: str, pkcs12_bytes: bytes, password: str, workdir: str) -> ssl.SSLContext:
    """An SSL context trusting ``ca_path`` and presenting the A1 (PEM files under workdir)."""
    key, cert, _ = load_a1(pkcs12_bytes, password)
    cert_path = os.path.join(workdir, "admin.pem")
    key_path = os.path.join(workdir, "admin-key.pem")
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    context = ssl.create_default_context(cafile=ca_path)
    context.load_cert_chain(cert_path, key_path)
    return context


class SandboxAdmin(AdminClient):
    """Client of ``/_sandbox/`` (mTLS with an admin certificate from the sandbox's CA)."""

    def __init__(self, url: str, context: ssl.SSLContext, *, timeout: float = 10.0):
        super().__init__(url, timeout=timeout, verify=context, trust_env=False)

    def set_options(self, **options: int) -> dict[str, Any]:
        return self._call("POST", "/options", options)

    def documents(self) -> list[dict[str, Any]]:
        return self._call("GET", "/documents")["documents"]

    def document(self, chave: str) -> dict[str, Any] | None:
        response = self.http.get(f"/_sandbox/documents/{chave}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def log(self) -> list[dict[str, Any]]:
        return self._call("GET", "/log")["log"]


class SandboxProcess(_Process):
    """``python -m sefaz_sandbox`` in a subprocess, on a free port."""

    module = "sefaz_sandbox"
    scheme = "https"
    poll_seconds = 0.05

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, pki_dir: str | None = None,
                 data_path: str | None = None, args: Sequence[str] = (), startup_timeout: float = 20.0):
        super().__init__(host=host, port=port, args=args, startup_timeout=startup_timeout)
        self.pki_dir = pki_dir
        self.data_path = data_path
        self.pki: Pki | None = None
        self.admin: SandboxAdmin | None = None
        self._admin_context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def ca(self) -> TestCA:
        assert self.pki is not None, "sandbox not started"
        return self.pki.ca

    @property
    def ca_path(self) -> str:
        assert self.pki is not None, "sandbox not started"
        return self.pki.ca_path

    def extra_args(self) -> list[str]:
        assert self._workdir
        self.pki = Pki(self.pki_dir or os.path.join(self._workdir, "pki"))
        a1 = make_a1(cnpj="00000000000191", razao="ADMIN SANDBOX", password="admin", ca=self.pki.ca)
        self._admin_context = client_context(self.pki.ca_path, a1, "admin", self._workdir)
        return ["--pki", str(self.pki.dir), *(["--data", self.data_path] if self.data_path else [])]

    def answers(self) -> bool:
        if self.admin is None:
            self.admin = SandboxAdmin(self.url, self._admin_context)
        try:
            return self.admin.http.get("/_sandbox/health", timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    def closing(self) -> None:
        if self.admin is not None:
            self.admin.close()
            self.admin = None
