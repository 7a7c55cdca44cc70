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
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence

import httpx
from cryptography.hazmat.primitives import serialization

from .pki import Pki, TestCA, load_a1, make_a1


class SandboxError(RuntimeError):
    pass


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


class SandboxAdmin:
    """Client of ``/_sandbox/`` (mTLS with an admin certificate from the sandbox's CA)."""

    def __init__(self, url: str, context: ssl.SSLContext, *, timeout: float = 10.0):
        self.http = httpx.Client(base_url=url, verify=context, timeout=timeout, trust_env=False)

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self.http.request(method, "/_sandbox" + path, json=json)
        response.raise_for_status()
        return response.json()

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", faults)

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/faults")

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

    def reset(self) -> None:
        self._call("POST", "/reset")

    def close(self) -> None:
        self.http.close()


class SandboxProcess:
    """``python -m sefaz_sandbox`` in a subprocess, on a free port."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, pki_dir: str | None = None,
                 data_path: str | None = None, args: Sequence[str] = (), startup_timeout: float = 20.0):
        self.host, self.port = host, port
        self.pki_dir = pki_dir
        self.data_path = data_path
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None
        self._log = None
        self.pki: Pki | None = None
        self.admin: SandboxAdmin | None = None

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

    @property
    def log_path(self) -> str | None:
        return os.path.join(self._workdir, "sandbox.log") if self._workdir else None

    def start(self) -> "SandboxProcess":
        if self.process is not None:
            return self
        self._workdir = tempfile.mkdtemp(prefix="sefaz-sandbox-")
        self.pki = Pki(self.pki_dir or os.path.join(self._workdir, "pki"))
        port_file = os.path.join(self._workdir, "port")
        command = [sys.executable, "-m", "sefaz_sandbox", "--host", self.host, "--port", str(self.port),
                   "--pki", str(self.pki.dir), "--port-file", port_file,
                   *(["--data", self.data_path] if self.data_path else []), *self.args]
        self._log = open(self.log_path, "wb")  # type: ignore[arg-type]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        try:
            self._wait_ready(port_file)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, port_file: str) -> None:
        assert self.process is not None and self._workdir and self.pki
        a1 = make_a1(cnpj="00000000000191", razao="ADMIN SANDBOX", password="admin", ca=self.pki.ca)
        context = client_context(self.pki.ca_path, a1, "admin", self._workdir)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SandboxError(f"sandbox exited with code {self.process.returncode}:\n{self.read_log()}")
            if os.path.exists(port_file):
                with open(port_file) as fh:
                    self.port = int(fh.read())
                if self.admin is None:
                    self.admin = SandboxAdmin(self.url, context)
                try:
                    if self.admin.http.get("/_sandbox/health", timeout=2.0).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        raise SandboxError(f"sandbox did not answer within {self.startup_timeout}s:\n{self.read_log()}")

    def read_log(self) -> str:
        path = self.log_path
        if not path or not os.path.exists(path):
            return ""
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 10.0) -> int | None:
        process, self.process = self.process, None
        code = None
        if self.admin is not None:
            self.admin.close()
            self.admin = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            code = process.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return code

    def __enter__(self) -> "SandboxProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
