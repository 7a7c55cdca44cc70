"""`agrega demo` behaves like a service: a signal stops every process it started, the
payment webhook is on with a secret it prints, and its keys live in var/ (mode 600)."""

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from agrega.core.keys import demo_secrets

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    """Every live process under ``pid`` (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_child_and_the_webhook_is_on(tmp_path, sig):
    env = {k: v for k, v in os.environ.items()
           if k not in ("AGREGA_SECRET_KEY", "AGREGA_CREDENTIALS_KEY", "AGREGA_PAYMENT_WEBHOOK_SECRET",
                        "DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(PYTHONPATH=str(ROOT), AGREGA_VAR_DIR=str(tmp_path), AGREGA_LOG_LEVEL="WARNING",
               AGREGA_WEB_WORKERS="2", PYTHONUNBUFFERED="1")
    port, sandbox_port, sefaz_port, pix_port = _free_port(), _free_port(), _free_port(), _free_port()
    demo = subprocess.Popen([sys.executable, "-m", "agrega.cli", "demo", "--port", str(port),
                             "--sandbox-port", str(sandbox_port), "--sefaz-port", str(sefaz_port),
                             "--pix-sandbox-port", str(pix_port)],
                            env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in demo.stdout:
            lines.append(line)
            if "Ctrl+C encerra" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(180), "".join(lines)
        children = _descendants(demo.pid)
        assert len(children) >= 5, children  # 2 sandboxes, worker, gunicorn master and its workers
        assert f"SEFAZ sandbox (NFCom, mTLS): https://127.0.0.1:{sefaz_port}" in "".join(lines)
        assert (tmp_path / "sefaz-pki" / "ca.pem").exists()

        secrets_file = tmp_path / "demo-secrets.env"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        saved = dict(line.split("=", 1) for line in secrets_file.read_text().split() if "=" in line)
        printed = re.search(r"segredo \(HMAC\):\s+(\S+)", "".join(lines)).group(1)
        assert printed == saved["AGREGA_PAYMENT_WEBHOOK_SECRET"]
        answer = httpx.post(f"http://127.0.0.1:{port}/api/payments/webhook", content=b"{}",
                            headers={"Content-Type": "application/json"}, timeout=10)
        assert answer.status_code != 503 and "webhook_disabled" not in answer.text

        # PIX: the demo's títulos have cobranças on the PSP sandbox; paying one as printed
        # settles it through the webhook (issue 17, item 8)
        output = "".join(lines)
        assert f"PSP sandbox (PIX):   http://127.0.0.1:{pix_port}/" in output, output
        # the printed paths are where the files are (AGREGA_VAR_DIR, not a fixed var/)
        printed_paths = re.findall(r"(?:Token de API:\s+veja|AC de teste:|Chaves da demo:)\s+(\S+)", output)
        assert len(printed_paths) == 3, output
        for printed_path in printed_paths:
            assert (tmp_path / printed_path).exists(), printed_path
        assert re.search(r"Sandbox \S+:\s+http://127\.0\.0\.1:%d/" % sandbox_port, output), output
        assert "PIX: falhou" not in output, output
        # … and one Pix Automático authorisation, in Agrega and on the PSP (its own API,
        # with the demo's credentials)
        rec_line = re.search(r"Pix Automático:\s+contrato (\d+), idRec (\w+)", output)
        assert rec_line, output
        rec_contract, id_rec = rec_line.groups()
        token = (tmp_path / "demo-token.txt").read_text().strip().split()[-1]
        rec = httpx.get(f"http://127.0.0.1:{port}/api/contracts/{rec_contract}/pix-automatico",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert rec.status_code == 200, rec.text
        assert rec.json()["id_rec"] == id_rec and rec.json()["status"] in ("CRIADA", "APROVADA"), rec.json()
        from agrega.cli import DEMO_PIX_CLIENT

        psp_id, psp_secret, _ = DEMO_PIX_CLIENT
        psp_token = httpx.post(f"http://127.0.0.1:{pix_port}/oauth/token", auth=(psp_id, psp_secret),
                               data={"grant_type": "client_credentials", "scope": "rec.read"}, timeout=10)
        assert psp_token.status_code == 200, psp_token.text
        on_psp = httpx.get(f"http://127.0.0.1:{pix_port}/api/rec/{id_rec}", timeout=10,
                           headers={"Authorization": f"Bearer {psp_token.json()['access_token']}"})
        assert on_psp.status_code == 200 and on_psp.json()["idRec"] == id_rec, on_psp.text
        paid = re.search(r"Pagar o título (\d+).*?\"txid\": \"(\w+)\", \"client_id\": \"([\w-]+)\"", output, re.S)
        assert paid, output
        invoice_id, txid, client_id = paid.groups()
        token = (tmp_path / "demo-token.txt").read_text().strip().split()[-1]
        bearer = {"Authorization": f"Bearer {token}"}
        invoice = httpx.get(f"http://127.0.0.1:{port}/api/invoices/{invoice_id}", headers=bearer, timeout=10).json()
        contract_url = f"http://127.0.0.1:{port}/api/contracts/{invoice['contract_id']}"
        # the printed título is the one that suspended its contract (the régua's late
        # payer), so that paying it shows what the banner promises
        assert httpx.get(contract_url, headers=bearer, timeout=10).json()["access_status"] == "FA", output
        assert httpx.post(f"http://127.0.0.1:{pix_port}/_sandbox/pay", json={"txid": txid, "client_id": client_id},
                          timeout=10).status_code == 201
        token = (tmp_path / "demo-token.txt").read_text().strip().split()[-1]
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status != "paid":
            status = httpx.get(f"http://127.0.0.1:{port}/api/invoices/{invoice_id}",
                               headers={"Authorization": f"Bearer {token}"}, timeout=10).json().get("status")
            time.sleep(0.3)
        assert status == "paid", output
        # … the contract released, and its SVA user unblocked on the platform's sandbox
        while time.monotonic() < deadline + 30:
            access = httpx.get(contract_url, headers=bearer, timeout=10).json()["access_status"]
            users = httpx.get(f"{contract_url}/sva-users", headers=bearer, timeout=10).json()["items"]
            if access == "A" and users and all(u["confirmed_state"] == "active" for u in users):
                break
            time.sleep(0.3)
        assert access == "A" and users and all(u["confirmed_state"] == "active" for u in users), (access, users)
        # the demo's worker runs the background tasks: its task process is among the
        # children, and a billing run asked for through the API is billed by it
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ") for pid in children
                    if Path(f"/proc/{pid}/cmdline").exists()]
        assert any(b"tasks worker" in c for c in commands), commands
        token = (tmp_path / "demo-token.txt").read_text().strip()
        auth = {"Authorization": f"Bearer {token}"}
        queued = httpx.post(f"http://127.0.0.1:{port}/api/billing/runs", json={"period": "2020-01"}, headers=auth,
                            timeout=10)
        assert queued.status_code == 202, queued.text
        deadline = time.monotonic() + 60
        while (task := httpx.get(f"http://127.0.0.1:{port}{queued.headers['Location']}", headers=auth,
                                 timeout=10).json())["status"] in ("READY", "RUNNING"):
            assert time.monotonic() < deadline, task
            time.sleep(0.3)
        assert task["status"] == "SUCCESSFUL", task
        run = httpx.get(f"http://127.0.0.1:{port}/api/billing/runs/{queued.json()['id']}", headers=auth,
                        timeout=10).json()
        assert run["finished_at"] and task["result"]["billing_run"] == run["id"]

        demo.send_signal(sig)
        assert demo.wait(60) == 0, "".join(lines)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], "".join(lines)
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in _descendants(demo.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_demo_secrets_are_made_once_and_reused(tmp_path):
    first = demo_secrets(tmp_path)
    assert set(first) == {"AGREGA_SECRET_KEY", "AGREGA_CREDENTIALS_KEY", "AGREGA_PAYMENT_WEBHOOK_SECRET"}
    path = tmp_path / "demo-secrets.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert demo_secrets(tmp_path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_secrets(tmp_path / "other") != first
