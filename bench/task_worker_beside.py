"""SVA sync throughput with the task worker beside it: alone, with a busy task worker in a
second process (what ``agrega worker`` does, decision 0008), and with the same task
worker as a thread of the SVA worker's process (the alternative it rejects).

N SVA users change state (block ↔ release); the SVA worker converges them (timed, as in
sync_throughput.py) while — in the loaded rounds — a task worker bills a month of M
contracts (a CPU-heavy task: the billing run). Each round bills a new month, so every
loaded round has the same work beside it. Prints the medians and the ratios to "alone".

    ./run bench task_worker_beside --users 300 --contracts 20000 --rounds 3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agrega_bench ./run bench task_worker_beside
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sync_throughput  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--contracts", type=int, default=20000, help="contracts the billing task bills")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="100 users, 2,000 contracts, 1 round (./run bench all)")
    args = parser.parse_args()
    if args.quick:
        args.users, args.contracts, args.rounds = 100, 2000, 1
    return args


def many_contracts(n: int) -> None:
    from django.utils import timezone

    from agrega.catalog.services import product_create
    from agrega.contracts.choices import AccessStatus, ContractStatus, ProductKind
    from agrega.contracts.models import Contract, ContractProduct
    from agrega.contracts.services import contract_create
    from agrega.core.br import make_cpf
    from agrega.customers.services import customer_create

    internet, _ = product_create(name="Internet bench", price="99.90", fiscal_class="SCM")
    customer = customer_create(name="Cliente de faturamento", document=make_cpf(987654),
                               email="fat@bench.example.com", mobile_phone="11 988887777")
    first = contract_create(customer_id=customer.pk)
    start = timezone.now().replace(year=timezone.now().year - 3)
    for offset in range(0, n, 5000):
        contracts = Contract.objects.bulk_create([
            Contract(customer_id=first.customer_id, status=ContractStatus.ACTIVE, access_status=AccessStatus.ACTIVE,
                     billing_day=10, activated_at=start) for _ in range(min(5000, n - offset))])
        ContractProduct.objects.bulk_create([
            ContractProduct(contract=c, product=internet, kind=ProductKind.OTHER) for c in contracts])
    ContractProduct.objects.filter(product=internet).update(added_at=start)


def queue_billing(months_back: int):
    from datetime import timedelta

    from django.utils import timezone

    from agrega.billing.services import billing_run_queue

    day = timezone.localdate().replace(day=1)
    for _ in range(months_back):
        day = (day - timedelta(days=1)).replace(day=1)
    return billing_run_queue(period=day, actor=None)


def billed(run) -> bool:
    from agrega.billing.models import BillingRun

    return BillingRun.objects.get(pk=run.pk).finished_at is not None


def started(run) -> bool:
    from agrega.billing.models import BillingRun

    return BillingRun.objects.get(pk=run.pk).contracts_seen > 0


def task_process() -> subprocess.Popen:
    env = dict(os.environ, AGREGA_TASK_POLL="0.05")
    return subprocess.Popen([sys.executable, "-m", "agrega.cli", "tasks", "worker", "--no-scheduler"], env=env,
                            start_new_session=True)


def task_thread():
    from django.db import connection

    from agrega.core.tasks import run_ready_tasks

    stop = threading.Event()

    def loop():
        while not stop.is_set():
            run_ready_tasks()
            stop.wait(0.05)
        connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return stop, thread


def main() -> int:
    args = parse_args()
    os.environ["AGREGA_BILLING_RUN_CHUNK"] = "500"  # progress visible early, in both modes
    # the task process is a real `agrega` command: it refuses to start without keys
    import secrets

    from cryptography.fernet import Fernet

    os.environ.setdefault("AGREGA_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("AGREGA_CREDENTIALS_KEY", Fernet.generate_key().decode())
    from exa_sandbox.testing import SandboxAdmin, SandboxProcess

    with tempfile.TemporaryDirectory() as tmp, SandboxProcess(args=["--log-level", "warning"]) as sandbox:
        vendor = sync_throughput.setup_django(tmp)
        prefix, secret = f"bench{int(time.time())}", "bench-secret"
        admin = SandboxAdmin(sandbox.url)
        admin.create_partner(prefix, "bench", secret)
        integration, contracts = sync_throughput.make_users(args.users, sandbox.url, prefix, secret)
        many_contracts(args.contracts)
        admin.set_faults(latency_ms=args.latency_ms)
        sync_throughput.run_worker(args.concurrency)  # the users exist on the platform
        print(f"setup: {args.users} SVA users, {args.contracts} contracts to bill, {vendor}", flush=True)

        times = {"alone": [], "process": [], "thread": []}
        month = changes = 0
        for r in range(args.rounds):
            for mode in ("alone", "process", "thread"):
                run = proc = stop = thread = None
                if mode == "process":
                    proc = task_process()
                sync_throughput.change_all(contracts, "block_manual" if changes % 2 == 0 else "release")
                changes += 1
                if mode != "alone":
                    month += 1
                    if mode == "thread":
                        stop, thread = task_thread()
                    run = queue_billing(month)
                    while not started(run):  # the billing run is under way when the changes are synced
                        time.sleep(0.02)
                elapsed = sync_throughput.run_worker(args.concurrency)
                times[mode].append(elapsed)
                if run is not None:
                    while not billed(run):
                        time.sleep(0.1)
                if proc is not None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=60)
                if stop is not None:
                    stop.set()
                    thread.join()
                print(f"  round {r + 1} {mode:8s} {args.users / elapsed:7.0f} ops/s", flush=True)
        alone = args.users / statistics.median(times["alone"])
        print()
        print(f"task_worker_beside — {args.users} users, concurrency {args.concurrency}, latency "
              f"{args.latency_ms:g} ms, billing {args.contracts} contracts beside, {args.rounds} rounds, {vendor}, "
              f"{os.cpu_count()} cores (shared)")
        for mode, label in (("alone", "SVA worker alone"), ("process", "task worker in a second process"),
                            ("thread", "task worker as a thread of the SVA process")):
            ops = args.users / statistics.median(times[mode])
            print(f"  {label:45s} {ops:7.0f} ops/s   ratio to alone {ops / alone:5.2f}")
        admin.close()
        import summary

        process, thread = (args.users / statistics.median(times[m]) for m in ("process", "thread"))
        summary.emit(f"task_worker_beside ({vendor})", figure=process, baseline=thread, ratio=process / thread,
                     target="≥ 1.0", unit="ops/s", verdict=summary.verdict(process / thread >= 1.0),
                     note=f"SVA sync beside a billing run: task worker in a second process vs as a thread "
                          f"(decision 0008); alone {alone:.0f} ops/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
