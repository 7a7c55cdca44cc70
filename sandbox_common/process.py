"""A sandbox server in a subprocess, on a free port.

The server binds port 0 and writes the port it got to ``--port-file`` (no race for the
port); ``start`` waits until it answers. A sandbox's own class names its package
(``module``), adds its command line options (``extra_args``) and says when it is ready
(``answers``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Sequence


class SandboxError(RuntimeError):
    pass


class SandboxProcess:
    """``python -m <module>`` in a subprocess; its output goes to ``log_path``."""

    module = ""  # the package run with ``python -m``
    scheme = "http"
    poll_seconds = 0.02

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, args: Sequence[str] = (),
                 startup_timeout: float = 15.0):
        self.host = host
        self.port = port
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None
        self._log = None

    @property
    def root(self) -> str:
        """``scheme://host:port`` (the admin side is ``root + /_sandbox``)."""
        if self.process is None:
            raise SandboxError("sandbox not started")
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL of the sandbox's API (its root unless the sandbox says otherwise)."""
        return self.root

    @property
    def log_path(self) -> str | None:
        return os.path.join(self._workdir, "sandbox.log") if self._workdir else None

    # -- what a sandbox's own class says ------------------------------------------------

    def extra_args(self) -> list[str]:
        """Command line options of this sandbox (called once the work dir exists)."""
        return []

    def answers(self) -> bool:
        """True once the server (its port known) answers; raises nothing."""
        raise NotImplementedError

    def closing(self) -> None:
        """Release what ``answers`` or ``extra_args`` opened (called by ``stop``)."""

    # -- the process ----------------------------------------------------------------------

    def start(self):
        if self.process is not None:
            return self
        self._workdir = tempfile.mkdtemp(prefix=self.module.replace("_", "-") + "-")
        port_file = os.path.join(self._workdir, "port")
        command = [sys.executable, "-m", self.module, "--host", self.host, "--port", str(self.port),
                   "--port-file", port_file, *self.extra_args(), *self.args]
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
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SandboxError(f"sandbox exited with code {self.process.returncode}:\n{self.read_log()}")
            if os.path.exists(port_file):
                with open(port_file) as fh:
                    text = fh.read()
                if text.strip():  # written whole once bound and listening
                    self.port = int(text)
                    if self.answers():
                        return
            time.sleep(self.poll_seconds)
        raise SandboxError(f"sandbox did not answer within {self.startup_timeout}s:\n{self.read_log()}")

    def read_log(self) -> str:
        path = self.log_path
        if not path or not os.path.exists(path):
            return ""
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop gracefully (SIGTERM: a persisted state is saved), kill after ``timeout``."""
        process, self.process = self.process, None
        code = None
        self.closing()
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
