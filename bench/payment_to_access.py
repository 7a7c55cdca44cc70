"""From a Pix to the SVA user unblocked on the platform, end to end, in one run.

N contracts with an EXA product are billed, blocked by the régua and converged (blocked
on the EXA sandbox). Their cobv are on the PSP sandbox. The payer then pays them at
``--rate`` per second; the PSP calls Agrega's webhook (gunicorn, ``agrega web``), Agrega
confirms each Pix with ``GET /pix/{e2eid}``, applies the baixa, dunning releases the
contract, and ``agrega worker`` unblocks the user on EXA. A poller reads the EXA sandbox's
users and records when each one is active again: latency = that moment − the Pix.
Both sandboxes answer with ``--latency-ms`` of latency.

Second figure: baixas per second of the webhook path (a burst of payments, from the first
Pix to the last baixa) vs a bare insert of the same payment rows (one transaction each,
as the webhook path commits each), ratio side by side.

    ./run bench payment_to_access --contracts 300 --rate 50 --seconds 6
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agrega_bench ./run bench payment_to_access

Target (issue 17): 50/s for 60 s, p99 ≤ 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PREFIX, CLIENT_ID, CLIENT_SECRET = "pixbench", "pixbench-cid", "pixbench-secret"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--contracts", type=int, default=300, help="contracts paid at --rate (plus --burst)")
    p.add_argument("--rate", type=float, default=50.0, help="payments per second")
    p.add_argument("--burst", type=int, default=100, help="payments of the throughput burst")
    p.add_argument("--latency-ms", type=float, default=20.0)
    return p.parse_args()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main() -> int:
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="pixbench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("AGREGA_SECRET_KEY", "agrega-bench-secret-key-not-for-production-0123456789")
    os.environ.setdefault("AGREGA_CREDENTIALS_KEY", "YmVuY2gtY3JlZGVudGlhbHMta2V5LTMyLWJ5dGVzLi4=")
    os.environ.setdefault("AGREGA_EGRESS_ALLOW", "127.0.0.1/32")
    os.environ.setdefault("AGREGA_LOG_LEVEL", "WARNING")
    os.environ["AGREGA_VAR_DIR"] = tmp
    os.environ["DJANGO_SETTINGS_MODULE"] = "agrega.settings"
    import django

    django.setup()
    import httpx
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from agrega.billing.models import Invoice, Payment
    from agrega.billing.services import billing_run
    from agrega.catalog.services import product_create
    from agrega.contracts.models import Contract
    from agrega.contracts.services import contract_activate, contract_add_product, contract_create
    from agrega.core.br import make_cpf
    from agrega.customers.services import customer_create
    from agrega.dunning.services import dunning_sweep
    from agrega.integrations.services import integration_create
    from agrega.pix import services as pix
    from agrega.pix.models import PixCharge
    from agrega.sva.models import SvaPendingWork
    from exa_sandbox.testing import SandboxAdmin
    from exa_sandbox.testing import SandboxProcess as ExaProcess
    from pix_sandbox.testing import Payer
    from pix_sandbox.testing import SandboxProcess as PixProcess

    if connection.vendor == "postgresql" and "billing_invoice" in connection.introspection.table_names():
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    procs: list[subprocess.Popen] = []
    with ExaProcess() as exa, PixProcess() as psp:
        try:
            admin = SandboxAdmin(exa.url)
            admin.create_partner(PREFIX, CLIENT_ID, CLIENT_SECRET)
            admin.set_faults(latency_ms=args.latency_ms)
            payer = Payer(psp.root, client_id="agrega-bench")
            payer.create_account("agrega-bench", "bench-secret", "pix@bench.example")
            payer.set_faults(latency_ms=args.latency_ms)

            n = args.contracts + args.burst
            t0 = time.perf_counter()
            integration = integration_create(
                name="EXA", platform="exa", base_url=exa.url, prefix=PREFIX, auto_create_users=True,
                timeout_seconds=10, credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
            product, _ = product_create(name="EXA Segurança", price="9.90", fiscal_class="SVA",
                                        sva_integration_id=integration.pk, sva_package_code="EXA-SEG-BASICO")
            today = timezone.localdate()
            period = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
            long_ago = timezone.now() - timedelta(days=90)
            for i in range(n):
                c = customer_create(name=f"Cliente {i}", document=make_cpf(900_000 + i),
                                    email=f"c{i}@bench.example.com", mobile_phone=f"(11) 9{i:08d}",
                                    city="São Paulo", state="SP")
                contract = contract_create(customer_id=c.pk, billing_day=1)
                contract_add_product(contract=contract, product_id=product.pk)
                contract_activate(contract=contract)
            Contract.objects.update(activated_at=long_ago)
            from agrega.contracts.models import ContractProduct

            ContractProduct.objects.update(added_at=long_ago)
            billing_run(period=period)
            dunning_sweep(today=today + timedelta(days=40))
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            procs.append(subprocess.Popen([sys.executable, "-m", "agrega.cli", "worker"], env=env,
                                          start_new_session=True))
            port = free_port()
            web = f"http://127.0.0.1:{port}"
            procs.append(subprocess.Popen([sys.executable, "-m", "agrega.cli", "web", "--bind", f"127.0.0.1:{port}",
                                           "--workers", "2"], env=env, start_new_session=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            account = pix.account_create(name="PSP", base_url=psp.url, token_url=psp.token_url,
                                         client_id="agrega-bench", client_secret="bench-secret",
                                         chave="pix@bench.example", validade_apos_vencimento=365)
            pix.charges_for_open_invoices(account_id=account.pk)  # tasks for `agrega worker`: PUT /cobv each
            deadline = time.monotonic() + 180
            from agrega.pix.models import ChargeStatus

            # every cobv active on the PSP and every block done before the first Pix
            while (SvaPendingWork.objects.exists() or PixCharge.objects.filter(status=ChargeStatus.ACTIVE).count() < n) \
                    and time.monotonic() < deadline:
                time.sleep(0.2)
            for _ in range(100):
                try:
                    httpx.get(web + "/api/openapi.json", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            pix.account_register_webhook(account_id=account.pk, public_url=web)
            users = {u["external_id"]: u["status"] for u in admin.users(PREFIX)}
            blocked = sum(1 for s in users.values() if s == "blocked")
            print(f"setup: {n} contracts billed, {blocked} users blocked on EXA, cobv on the PSP "
                  f"({time.perf_counter() - t0:.0f}s); {connection.vendor}", flush=True)

            charges = list(PixCharge.objects.order_by("invoice_id").values_list(
                "txid", "invoice__contract__sva_users__external_id"))
            steady, burst = charges[:args.contracts], charges[args.contracts:]
            paid_at: dict[str, float] = {}
            active_at: dict[str, float] = {}
            stop = threading.Event()

            def poll():
                with SandboxAdmin(exa.url) as a:
                    while not stop.is_set():
                        now = time.monotonic()
                        for u in a.users(PREFIX):
                            if u["status"] == "active" and u["external_id"] in paid_at:
                                active_at.setdefault(u["external_id"], now)
                        time.sleep(0.02)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            start = time.monotonic()
            for k, (txid, ext) in enumerate(steady):
                target = start + k / args.rate
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                paid_at[ext] = time.monotonic()
                payer.pay(txid)
            wait_until = time.monotonic() + 60
            while len(active_at) < len(steady) and time.monotonic() < wait_until:
                time.sleep(0.1)
            stop.set()
            poller.join()
            lat = [active_at[e] - paid_at[e] for e in paid_at if e in active_at]
            print(f"\nPix → SVA user active on EXA ({len(steady)} payments at {args.rate:g}/s, "
                  f"latency {args.latency_ms:g} ms both sandboxes)")
            print(f"  confirmed {len(lat)}/{len(steady)}; p50 {statistics.median(lat):.3f} s  "
                  f"p99 {pct(lat, 99):.3f} s  max {max(lat):.3f} s   (target p99 ≤ 2 s)")

            # throughput: a burst through the webhook path vs a bare insert of the same rows
            before = Payment.objects.count()
            b0 = time.monotonic()
            for txid, _ in burst:
                payer.pay(txid)
            while Payment.objects.count() < before + len(burst) and time.monotonic() < b0 + 120:
                time.sleep(0.02)
            webhook_rate = (Payment.objects.count() - before) / (time.monotonic() - b0)
            rows = list(Payment.objects.order_by("-id")[:len(burst)])
            from django.db import transaction

            i0 = time.monotonic()
            for p in rows:
                with transaction.atomic():
                    Payment.objects.create(invoice_id=p.invoice_id, amount=p.amount, paid_on=p.paid_on,
                                           method=p.method, provider="bench", external_id="bare-" + p.external_id)
            bare_rate = len(rows) / max(time.monotonic() - i0, 1e-9)
            Payment.objects.filter(provider="bench").delete()
            print(f"\nbaixas/s ({len(burst)} payments): webhook path {webhook_rate:.1f}/s, bare insert "
                  f"{bare_rate:.1f}/s, ratio {webhook_rate / bare_rate if bare_rate else 0:.3f}")
            dup = Payment.objects.count() - Payment.objects.values("external_id").distinct().count()
            print(f"duplicate baixas: {dup}; open títulos left: "
                  f"{Invoice.objects.filter(status='open').count()}")
        finally:
            for proc in procs:
                try:
                    os.killpg(proc.pid, 15)
                except ProcessLookupError:
                    pass
            for proc in procs:
                proc.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
