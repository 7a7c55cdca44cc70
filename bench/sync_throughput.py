"""Worker throughput vs a bare httpx loop, against the same EXA sandbox, in one run.

N SVA users change state (block ↔ release); the worker converges them and we time it
from the commit of the changes to the last confirmed user. The bare loop sends the same
number of block/unblock calls straight to the sandbox with httpx at the same
concurrency (threads + one pooled client, the worker's own transport; and asyncio for
reference). Each round times both sides, the order alternating (worker first in odd
rounds, the bare loops first in even ones); the ratio worker ÷ the faster bare loop is
taken per round and the median of those ratios is the headline (issue 21, item 4:
target ≥ 0.90 on PostgreSQL). Every bare call is a real transition: the bare loops send
the opposite of the users' current state, and the connector puts it back (untimed for
the ratio; timed as "connector only").

    ./run bench sync_throughput --users 1000 --concurrency 16 --rounds 4 --latency-ms 20
    ./run bench sync_throughput --quick            # 300 users, 4 rounds
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agrega_bench ./run bench sync_throughput

The last line printed is one JSON object (bench/README.md, "ab").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_RATIO = 0.90  # issue 21, item 4 (PostgreSQL); issue 4's was 0.80


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="300 users, 4 rounds")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval for this process (experiment)")
    return parser.parse_args()


def setup_django(tmpdir: str) -> str:
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tmpdir}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
    os.environ.setdefault("AGREGA_LOG_LEVEL", "WARNING")
    os.environ.setdefault("AGREGA_EGRESS_ALLOW", "127.0.0.1/32")  # the sandbox (docs/operations.md)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql" and _has_tables():
        call_command("flush", interactive=False, verbosity=0)  # a fresh run on a reused database
    call_command("migrate", verbosity=0)
    return connection.vendor


def _has_tables() -> bool:
    from django.db import connection

    return "sva_svauser" in connection.introspection.table_names()


def make_users(n: int, sandbox_url: str, prefix: str, secret: str):
    from agrega.catalog.services import product_create
    from agrega.contracts.services import contract_add_product, contract_create, contract_transition
    from agrega.core.br import make_cpf
    from agrega.customers.services import customer_create
    from agrega.integrations.services import integration_create

    integration = integration_create(
        name="EXA bench", platform="exa", base_url=sandbox_url, prefix=prefix, auto_create_users=True,
        timeout_seconds=10, credentials={"client_id": "bench", "client_secret": secret},
    )
    product, _ = product_create(name="EXA", price="9.90", sva_integration_id=integration.pk,
                                sva_package_code="EXA-SEG-BASICO")
    contracts = []
    for i in range(n):
        customer = customer_create(name=f"Cliente {i}", document=make_cpf(i + 1),
                                   email=f"c{i}@bench.example.com", mobile_phone=f"11 9{i:08d}")
        contract = contract_create(customer_id=customer.pk)
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
        contracts.append(contract.pk)
    return integration, contracts


def run_worker(concurrency: int) -> float:
    from agrega.sva.controller.worker import SvaWorker
    from agrega.sva.models import SvaPendingWork

    worker = SvaWorker(concurrency=concurrency)
    start = time.perf_counter()
    try:
        while SvaPendingWork.objects.exists():
            worker.run(until_idle=True)
    finally:
        elapsed = time.perf_counter() - start
        worker.close()
    if os.environ.get("BENCH_VERBOSE"):
        s = worker.stats
        print(f"    worker: {elapsed:.2f}s, claim {s.claim_seconds:.2f}s, write {s.write_seconds:.2f}s, "
              f"{s.calls} calls", flush=True)
    return elapsed


def change_all(contracts, action):
    from agrega.contracts.services import contract_transition

    for pk in contracts:
        contract_transition(contract=pk, action=action)


def bare_threads(url, prefix, token, external_ids, action, concurrency) -> float:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=url, limits=limits, timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        def one(ext):
            client.post(f"/v1/partners/{prefix}/users/{ext}/{action}").raise_for_status()

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, external_ids))
        return time.perf_counter() - start


def connector_threads(integration, external_ids, action, concurrency) -> float:
    """The EXA connector (parsing, error mapping, call records) without the database."""
    from agrega.integrations.services import connector_for

    records = []
    connector = connector_for(integration, recorder=records.append)
    call = connector.block_user if action == "block" else connector.unblock_user
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(call, external_ids))
        return time.perf_counter() - start
    finally:
        connector.close()


def bare_asyncio(url, prefix, token, external_ids, action, concurrency) -> float:
    import httpx

    async def main():
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            queue = list(external_ids)

            async def lane():
                while queue:
                    ext = queue.pop()
                    (await client.post(f"/v1/partners/{prefix}/users/{ext}/{action}")).raise_for_status()

            start = time.perf_counter()
            await asyncio.gather(*(lane() for _ in range(concurrency)))
            return time.perf_counter() - start

    return asyncio.run(main())


def main() -> int:
    args = parse_args()
    if args.quick:
        args.users, args.rounds = 300, 4
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    import httpx

    from exa_sandbox.testing import SandboxAdmin, SandboxProcess

    with tempfile.TemporaryDirectory() as tmp, SandboxProcess(args=["--log-level", "warning"]) as sandbox:
        vendor = setup_django(tmp)
        prefix, secret = f"bench{int(time.time())}", "bench-secret"
        admin = SandboxAdmin(sandbox.url)
        admin.create_partner(prefix, "bench", secret)
        print(f"setup: {args.users} users on {vendor}, sandbox {sandbox.url}", flush=True)
        t0 = time.perf_counter()
        integration, contracts = make_users(args.users, sandbox.url, prefix, secret)
        print(f"  created contracts in {time.perf_counter() - t0:.1f}s", flush=True)
        admin.set_faults(latency_ms=args.latency_ms)
        create_s = run_worker(args.concurrency)
        print(f"  worker created {args.users} users on EXA in {create_s:.2f}s "
              f"({args.users / create_s:.0f} ops/s)", flush=True)

        from agrega.sva.models import SvaUser

        external_ids = list(SvaUser.objects.values_list("external_id", flat=True))
        token = httpx.post(f"{sandbox.url}/v1/auth/token",
                           json={"client_id": "bench", "client_secret": secret}).json()["access_token"]
        worker_t, threads_t, async_t, conn_t, ratios, loads = [], [], [], [], [], []
        blocked = False  # the users' state on the platform (the worker created them active)

        def worker_side(r):
            change_all(contracts, "block_manual" if r % 2 == 0 else "release")
            worker_t.append(run_worker(args.concurrency))

        def bare_side():
            there, back = ("unblock", "block") if blocked else ("block", "unblock")
            threads_t.append(bare_threads(sandbox.url, prefix, token, external_ids, there, args.concurrency))
            conn_t.append(connector_threads(integration, external_ids, back, args.concurrency))
            async_t.append(bare_asyncio(sandbox.url, prefix, token, external_ids, there, args.concurrency))
            conn_t.append(connector_threads(integration, external_ids, back, args.concurrency))

        for r in range(args.rounds):
            if r % 2 == 0:
                worker_side(r)
                blocked = not blocked
                bare_side()
            else:
                bare_side()
                worker_side(r)
                blocked = not blocked
            best_round = max(args.users / threads_t[-1], args.users / async_t[-1])
            ratios.append(args.users / worker_t[-1] / best_round)
            loads.append(os.getloadavg()[0])
            print(f"  round {r + 1} ({'worker' if r % 2 == 0 else 'bare loops'} first): worker "
                  f"{args.users / worker_t[-1]:.0f} ops/s, bare threads {args.users / threads_t[-1]:.0f} ops/s, "
                  f"bare asyncio {args.users / async_t[-1]:.0f} ops/s: ratio {ratios[-1]:.2f}, "
                  f"load {loads[-1]:.1f}", flush=True)
        stats = admin.stats()
        dups = sum(stats.get("duplicates", {}).values()) if isinstance(stats.get("duplicates"), dict) else 0

        w = args.users / statistics.median(worker_t)
        bt = args.users / statistics.median(threads_t)
        ba = args.users / statistics.median(async_t)
        ct = args.users / statistics.median(conn_t)
        best = max(bt, ba)
        ideal = args.concurrency * 1000 / args.latency_ms
        print()
        print(f"sync_throughput — {args.users} users, concurrency {args.concurrency}, "
              f"latency {args.latency_ms:g} ms, {args.rounds} rounds, {vendor}, {os.cpu_count()} cores (shared)")
        print(f"  ideal (concurrency / latency)     {ideal:8.0f} ops/s")
        print(f"  worker (median)                   {w:8.0f} ops/s")
        print(f"  bare httpx, threads (median)      {bt:8.0f} ops/s")
        print(f"  bare httpx, asyncio (median)      {ba:8.0f} ops/s")
        print(f"  connector only, no database       {ct:8.0f} ops/s")
        ratio = statistics.median(ratios)
        verdict = "met" if ratio >= TARGET_RATIO and not dups else "not met"
        print(f"  ratio of medians worker / best    {w / best:8.2f}")
        print(f"  ratio worker / best bare loop, per round, median   {ratio:5.2f}   "
              f"(rounds {', '.join(f'{x:.2f}' for x in ratios)}; target >= {TARGET_RATIO}: {verdict}); "
              f"load {min(loads):.1f}–{max(loads):.1f}")
        print(f"  duplicate creations refused by the platform: {dups}")
        print(json.dumps({"bench": "sync_throughput", "size": args.users, "database": vendor,
                          "figure": "worker ops/s ÷ best bare loop's, per round", "value": round(w, 1),
                          "baseline": round(best, 1), "ratio": round(ratio, 3), "target": TARGET_RATIO,
                          "better": "higher", "verdict": verdict, "rounds": args.rounds,
                          "ratios": [round(x, 3) for x in ratios], "duplicates": dups,
                          "load": [round(min(loads), 1), round(max(loads), 1)]}, ensure_ascii=False), flush=True)
        admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
