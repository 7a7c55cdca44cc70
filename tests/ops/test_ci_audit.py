"""The CI's vulnerability check (.ci/audit.py): fails on a finding, skips loudly offline.

The advisory services are often out of reach on build machines, so the decision logic is
tested with small executables that print what pip-audit and npm audit print.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"


def _tool(folder: Path, name: str, stdout: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\ncat <<'JSON'\n{stdout}\nJSON\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _run(tmp_path: Path, pip_out: str, npm_out: str) -> subprocess.CompletedProcess:
    _tool(tmp_path, "pip-audit", pip_out)
    npm = _tool(tmp_path, "npm", npm_out)
    env = {**os.environ, "AGREGA_AUDIT_BIN": str(tmp_path), "AGREGA_AUDIT_NPM": str(npm)}
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True)


CLEAN_NPM = json.dumps({"metadata": {"vulnerabilities": {"low": 0, "high": 0, "critical": 0}}})
CLEAN_PIP = json.dumps({"dependencies": [{"name": "django", "version": "5.2", "vulns": []}]})


def test_clean_reports_pass(tmp_path):
    proc = _run(tmp_path, CLEAN_PIP, CLEAN_NPM)
    assert proc.returncode == 0, proc.stdout
    assert "1 pacotes verificados, 0 vulneráveis" in proc.stdout
    assert "AVISO" not in proc.stdout


def test_a_python_vulnerability_fails(tmp_path):
    pip = json.dumps({"dependencies": [
        {"name": "django", "version": "5.2", "vulns": [{"id": "PYSEC-2099-1"}]}]})
    proc = _run(tmp_path, pip, CLEAN_NPM)
    assert proc.returncode == 1
    assert "VULNERÁVEL: django 5.2: PYSEC-2099-1" in proc.stdout


def test_a_high_npm_vulnerability_fails(tmp_path):
    npm = json.dumps({"metadata": {"vulnerabilities": {"high": 1}},
                      "vulnerabilities": {"htmx.org": {"severity": "high"}}})
    proc = _run(tmp_path, CLEAN_PIP, npm)
    assert proc.returncode == 1
    assert "VULNERÁVEL (npm, high): htmx.org" in proc.stdout


@pytest.mark.parametrize("pip_out, npm_out", [
    ("Traceback: connection refused", CLEAN_NPM),
    (json.dumps({"dependencies": [{"name": "django", "version": "5.2",
                                   "skip_reason": "Dependency not found on PyPI"}]}), CLEAN_NPM),
    (CLEAN_PIP, json.dumps({"statusCode": 405, "message": "405 Method Not Allowed"})),
])
def test_unreachable_services_skip_with_a_notice(tmp_path, pip_out, npm_out):
    proc = _run(tmp_path, pip_out, npm_out)
    assert proc.returncode == 0
    assert "AVISO (auditoria)" in proc.stdout and "pulada" in proc.stdout
