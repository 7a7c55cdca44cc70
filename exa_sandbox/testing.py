"""Helpers for tests, demos and benchmarks: run the sandbox as a real process, drive it.

    with SandboxProcess() as sandbox:
        admin = SandboxAdmin(sandbox.url)
        admin.create_partner("isp1", "id", "secret")
        ...

``SandboxProcess`` starts ``python -m exa_sandbox`` on a free port (the server binds
port 0 and reports the port it got, so there is no race for the port) and waits until
it answers. ``SandboxAdmin`` is a small client for the ``/_sandbox/`` endpoints.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterable, Sequence

import httpx


class SandboxError(RuntimeError):
    pass


class SandboxProcess:
    """The sandbox server in a subprocess.

    ``args`` are extra command line options (e.g. ``["--partner", "demo:id:secret"]``);
    ``data_path`` turns persistence on.
    """

    module = "exa_sandbox"  # the package run with ``python -m`` (webhook_sandbox reuses this class)

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_path: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
        startup_timeout: float = 15.0,
    ):
        self.host = host
        self.port = port
        self.data_path = os.fspath(data_path) if data_path is not None else None
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None
        self._log = None

    @property
    def url(self) -> str:
        if self.process is None:
            raise SandboxError("sandbox not started")
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> str | None:
        return os.path.join(self._workdir, "sandbox.log") if self._workdir else None

    def start(self) -> "SandboxProcess":
        if self.process is not None:
            return self
        self._workdir = tempfile.mkdtemp(prefix=self.module.replace("_", "-") + "-")
        port_file = os.path.join(self._workdir, "port")
        command = [
            sys.executable, "-m", self.module,
            "--host", self.host, "--port", str(self.port), "--port-file", port_file,
            *(["--data", self.data_path] if self.data_path else []),
            *self.args,
        ]
        self._log = open(self.log_path, "wb")  # type: ignore[arg-type]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            self._wait_ready(port_file)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, port_file: str) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SandboxError(
                    f"sandbox exited with code {self.process.returncode}:\n{self.read_log()}"
                )
            if os.path.exists(port_file):
                with open(port_file) as fh:
                    self.port = int(fh.read())
                try:
                    if httpx.get(self.url + "/_sandbox/health", timeout=1.0).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.02)
        raise SandboxError(f"sandbox did not answer within {self.startup_timeout}s:\n"
                           f"{self.read_log()}")

    def read_log(self) -> str:
        path = self.log_path
        if not path or not os.path.exists(path):
            return ""
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop gracefully (SIGTERM: the state file is saved), kill after ``timeout``."""
        process, self.process = self.process, None
        code = None
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


def _package(item: Any) -> dict[str, str]:
    if isinstance(item, str):
        return {"code": item, "name": item, "description": ""}
    if isinstance(item, dict):
        return {"description": "", **item}
    code, name, *rest = item
    return {"code": code, "name": name, "description": rest[0] if rest else ""}


class SandboxAdmin:
    """Client for the sandbox's admin endpoints (``/_sandbox/``); raises on HTTP errors."""

    def __init__(self, url: str, *, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self.http.request(method, "/_sandbox" + path, json=json)
        response.raise_for_status()
        return response.json()

    def create_partner(
        self,
        prefix: str,
        client_id: str,
        client_secret: str,
        packages: Iterable[Any] | None = None,
    ) -> dict[str, Any]:
        """Create or update a partner. ``packages`` items: dicts, (code, name[, desc]) or
        codes; None keeps the current packages (the default set for a new partner)."""
        body: dict[str, Any] = {
            "prefix": prefix, "client_id": client_id, "client_secret": client_secret,
        }
        if packages is not None:
            body["packages"] = [_package(p) for p in packages]
        return self._call("POST", "/partners", body)

    def partners(self) -> list[dict[str, Any]]:
        return self._call("GET", "/partners")["partners"]

    def users(self, prefix: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/partners/{prefix}/users")["users"]

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", faults)

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/faults")

    def expire_tokens(self, prefix: str | None = None) -> int:
        return self._call("POST", "/tokens/expire", {"prefix": prefix})["expired"]

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "SandboxAdmin":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
