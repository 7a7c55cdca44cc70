#!/usr/bin/env python3
"""Known-vulnerability checks for CI: pip-audit on the Python packages this run installed,
npm audit on the web assets' lock file.

A vulnerability found fails the run. When an advisory service can't be reached (no
network, a mirror without the advisory endpoints) the check is skipped with a printed
AVISO naming what was not checked — never silently. Exit codes: 0 clean or skipped,
1 vulnerabilities found.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Overridable so the tests can point the script at a stand-in tool.
VENV_BIN = Path(os.environ.get("AGREGA_AUDIT_BIN", ROOT / ".venv" / "bin"))
NPM = os.environ.get("AGREGA_AUDIT_NPM", "npm")
# npm severities that fail the run; lower ones are printed.
NPM_FAILING = ("high", "critical")


def notice(message: str) -> None:
    print(f"AVISO (auditoria): {message}", flush=True)


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def audit_python() -> int:
    """Audit the exact versions installed in .venv (what the tests just ran on)."""
    tool = VENV_BIN / "pip-audit"
    if not tool.exists():
        notice("pip-audit não está instalado no .venv: verificação Python pulada.")
        return 0
    try:
        proc = run([str(tool), "--skip-editable", "--progress-spinner", "off", "-f", "json"])
    except subprocess.TimeoutExpired:
        notice("pip-audit não respondeu em 300 s: verificação Python pulada.")
        return 0
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["sem saída"]
        notice(f"serviço de avisos do PyPI inacessível ({tail[0][:200]}): verificação Python pulada.")
        return 0
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if "skip_reason" in d]
    audited = len(deps) - len(skipped)
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"VULNERÁVEL: {dep['name']} {dep['version']}: {ids}", flush=True)
    if skipped and not audited:
        notice(f"o serviço de avisos não respondeu por nenhum dos {len(skipped)} pacotes Python "
               "(sem acesso ao serviço nesta máquina): verificação Python pulada.")
    elif skipped:
        notice(f"{len(skipped)} de {len(deps)} pacotes Python não puderam ser verificados: "
               + ", ".join(d["name"] for d in skipped[:10]) + ("…" if len(skipped) > 10 else ""))
    if audited:
        print(f"pip-audit: {audited} pacotes verificados, {len(vulnerable)} vulneráveis.", flush=True)
    return 1 if vulnerable else 0


def audit_npm() -> int:
    """npm audit over package-lock.json (the web assets are all the npm packages we ship)."""
    try:
        proc = run([NPM, "audit", "--json", "--package-lock-only"])
    except FileNotFoundError:
        notice("npm não encontrado: verificação npm pulada.")
        return 0
    except subprocess.TimeoutExpired:
        notice("npm audit não respondeu em 300 s: verificação npm pulada.")
        return 0
    try:
        report = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        report = {}
    if "error" in report or "statusCode" in report or "metadata" not in report:
        reason = report.get("message") or (report.get("error") or {}).get("summary") or "sem resposta"
        notice(f"serviço de avisos do npm inacessível ({str(reason)[:200]}): verificação npm pulada.")
        return 0
    counts = report["metadata"].get("vulnerabilities", {})
    print("npm audit: " + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
    for name, item in report.get("vulnerabilities", {}).items():
        print(f"VULNERÁVEL (npm, {item.get('severity')}): {name}", flush=True)
    return 1 if any(counts.get(level, 0) for level in NPM_FAILING) else 0


def main() -> int:
    status = audit_python()
    status |= audit_npm()
    return status


if __name__ == "__main__":
    sys.exit(main())
