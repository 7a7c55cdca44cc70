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

Beside the headline, on PostgreSQL: the bare threads recording each outcome
(``BareRecorded``: the users' confirmed state and one timeline row per call, in batches,
with minimal psycopg statements, into copies of the two tables) — the baseline that
does the worker's work of recording, and not only its calls (issue 21, "a baseline that
does the same work"). Its ratio is printed beside the headline, never instead of it.

Same resources on both sides (``--processes N``, ``--concurrency C``): the worker runs as
N processes of C in-flight calls each, sharing the queue (as N ``agrega worker`` commands
do: each process an ``SvaWorker``; decision 0014); the bare loops run as N
processes of C in-flight calls each (C threads on one pooled client, or C asyncio
lanes), each on its Nth of the users. Every side's processes are started before the
timing and kept across rounds; the CPU figures are the sum of its processes' CPU.

    ./run bench sync_throughput --users 1000 --concurrency 16 --rounds 4 --latency-ms 20
    ./run bench sync_throughput --users 1000 --processes 2 --concurrency 8   # 16 in flight either side
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
    parser.add_argument("--concurrency", type=int, default=16, help="in-flight calls per process, either side")
    parser.add_argument("--processes", type=int, default=1,
                        help="processes per side: the worker's (agrega worker --processes) and the bare loop's")
    parser.add_argument("--child", choices=["worker", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--no-asyncio", action="store_true",
                        help="leave out the bare asyncio loop (slower than threads in every run so far): the "
                             "baseline is then the bare threads alone")
    parser.add_argument("--shapes", default=None,
                        help="several shapes side by side in each round, e.g. 2x8,1x16 (processes x in-flight per "
                             "process); the first is the headline. Default: --processes x --concurrency")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="300 users, 4 rounds")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval for this process (experiment)")
    return parser.parse_args()


def setup_django(tmpdir: str) -> str:
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tmpdir}/bench.sqlite3"
    elif os.environ.get("AGREGA_BENCH_DB_TAG") and os.environ["DATABASE_URL"].startswith("postgres"):
        os.environ["DATABASE_URL"] = _tagged_database(os.environ["DATABASE_URL"], os.environ["AGREGA_BENCH_DB_TAG"])
    elif os.environ["DATABASE_URL"].startswith("postgres"):
        _created_if_missing(os.environ["DATABASE_URL"])  # the README's command on a new machine
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


def _tagged_database(url: str, tag: str) -> str:
    """``<database>_<tag>``, created if missing: the two trees of bench/ab.py (whose
    migrations may differ) each migrate their own database."""
    if not tag.isalnum():
        raise SystemExit("AGREGA_BENCH_DB_TAG: letters and digits only")
    base, _, name = url.rpartition("/")
    return _created_if_missing(f"{base}/{name.split('?')[0]}_{tag.lower()}")


def _created_if_missing(url: str) -> str:
    """``url``'s database, created (empty; migrated next) when the server has none by that name."""
    import psycopg

    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return url


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
    """The worker in this process until the queue is empty (bench/task_worker_beside.py)."""
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
    return elapsed


# -- the two sides as child processes (same number, same in-flight calls each) -----------

class Children:
    """N copies of this script in ``--child`` mode, driven through their stdin/stdout
    (one JSON line each way per request); started before any timing, kept across rounds."""

    def __init__(self, kind: str, n: int, concurrency: int, extra: dict):
        import subprocess

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.procs = [
            subprocess.Popen([sys.executable, __file__, "--child", kind, "--concurrency", str(concurrency)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
            for _ in range(n)
        ]
        self.ask_all([{"init": extra, "index": i, "of": n} for i in range(n)])  # ready (Django set up)

    def ask_all(self, messages: list[dict]) -> list[dict]:
        for proc, message in zip(self.procs, messages):
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
        answers = []
        for proc in self.procs:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit(f"bench child {proc.pid} ended (exit {proc.wait()})")
            answers.append(json.loads(line))
        return answers

    def close(self) -> None:
        for proc in self.procs:
            proc.stdin.close()
        for proc in self.procs:
            proc.wait(timeout=60)


def worker_round(workers: Children) -> tuple[float, float]:
    """From now (the changes are committed) to the last user confirmed, with the worker's
    N processes: (seconds, CPU seconds of its processes)."""
    from agrega.sva.models import SvaPendingWork

    start = time.perf_counter()
    cpu = 0.0
    while True:
        answers = workers.ask_all([{"go": True}] * len(workers.procs))
        cpu += sum(a["cpu"] for a in answers)
        if not SvaPendingWork.objects.exists():
            break
    elapsed = time.perf_counter() - start
    if os.environ.get("BENCH_VERBOSE"):
        print(f"    worker: {elapsed:.2f}s; per process: " + "; ".join(
            f"claim {a['claim']:.2f}s, write {a['write']:.2f}s, {a['calls']} calls" for a in answers), flush=True)
    return elapsed, cpu


def bare_round(bares: Children, kind: str, external_ids, action) -> tuple[float, float]:
    n = len(bares.procs)
    start = time.perf_counter()
    answers = bares.ask_all([{"kind": kind, "action": action, "ids": external_ids[i::n]} for i in range(n)])
    return time.perf_counter() - start, sum(a["cpu"] for a in answers)


def child_main(kind: str, concurrency: int) -> int:
    """One process of a side: answers one JSON line per request line on stdin."""
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write on the protocol's line
    init = json.loads(sys.stdin.readline())["init"]
    if kind == "worker":
        os.environ["DATABASE_URL"] = init["database_url"]
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
        os.environ.setdefault("AGREGA_LOG_LEVEL", "WARNING")
        os.environ.setdefault("AGREGA_EGRESS_ALLOW", "127.0.0.1/32")
        import django

        django.setup()
        from agrega.core.heap import freeze_startup_heap
        from agrega.sva.controller.worker import SvaWorker

        if not os.environ.get("BENCH_NO_FREEZE"):  # (an experiment's switch: the heap as before 2026-12-07)
            freeze_startup_heap()  # as `agrega worker` does from the command line
        worker = SvaWorker(concurrency=concurrency)  # what each of N `agrega worker` processes runs
    else:
        threads = BareThreads(init["url"], init["token"], concurrency)  # built before the timing, as the worker's
        recorded = BareRecorded(threads, init["database_url"]) if init.get("database_url") else None

    out.write("{}\n")
    out.flush()
    for line in sys.stdin:
        message = json.loads(line)
        cpu = time.process_time()
        if kind == "worker":
            before = (worker.stats.claim_seconds, worker.stats.write_seconds, worker.stats.calls)
            worker.run(until_idle=True)
            answer = {"claim": worker.stats.claim_seconds - before[0], "write": worker.stats.write_seconds - before[1],
                      "calls": worker.stats.calls - before[2]}
        else:
            if message["kind"] == "threads":
                seconds = threads.run(init["prefix"], message["ids"], message["action"])
            elif message["kind"] == "recorded":
                seconds = recorded.run(init["prefix"], message["ids"], message["action"])
            else:
                seconds = bare_asyncio(init["url"], init["prefix"], init["token"], message["ids"], message["action"],
                                       concurrency)
            answer = {"seconds": seconds}
        answer["cpu"] = time.process_time() - cpu
        out.write(json.dumps(answer) + "\n")
        out.flush()
    if kind == "worker":
        worker.close()
    return 0


def change_all(contracts, action):
    from agrega.contracts.services import contract_transition

    for pk in contracts:
        contract_transition(contract=pk, action=action)


class BareThreads:
    """C threads sharing one pooled httpx client (the worker's own transport), both kept
    across rounds as the worker keeps its connector and pool."""

    def __init__(self, url, token, concurrency):
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.Client(base_url=url, limits=limits, timeout=10,
                                   headers={"Authorization": f"Bearer {token}"})
        self.pool = ThreadPoolExecutor(max_workers=concurrency)

    def run(self, prefix, external_ids, action) -> float:
        client = self.client

        def one(ext):
            client.post(f"/v1/partners/{prefix}/users/{ext}/{action}").raise_for_status()

        start = time.perf_counter()
        list(self.pool.map(one, external_ids))
        return time.perf_counter() - start


class BareRecorded:
    """The bare threads, each outcome then recorded as the worker records its own, with
    minimal psycopg statements (PostgreSQL): the users' confirmed state, synced version
    and times, and one timeline row per call, written in batches (up to 64, or every
    0.2 s) by the process's main thread while the calls go on — the worker's shape of
    write-back without its claim, queue, connector or ORM. It writes to copies of the
    two tables (``bench_bare_svauser``, ``bench_bare_svacall``: same columns, indexes and
    foreign key) so the worker's own state is never touched. The "same work" baseline
    of issue 21 (reported beside the bare loop, which writes nothing)."""

    BATCH = 64

    def __init__(self, threads: BareThreads, database_url: str):
        import psycopg

        self.threads = threads
        self.conn = psycopg.connect(database_url.replace("postgres://", "postgresql://", 1))
        self.conn.execute("SET synchronous_commit TO OFF")  # as the worker (sva/sql.py tune_session)
        self.conn.commit()

    def run(self, prefix, external_ids, action) -> float:
        import queue

        client, done = self.threads.client, queue.SimpleQueue()

        def one(ext):
            try:
                path = f"/v1/partners/{prefix}/users/{ext}/{action}"
                started = time.perf_counter()
                response = client.post(path)
                response.raise_for_status()
                answer = response.json()
                done.put((ext, answer["status"], path, response.status_code,
                          round((time.perf_counter() - started) * 1000, 2), time.time(),
                          json.dumps({k: answer[k] for k in ("id", "status", "package_code") if k in answer})))
            except Exception as exc:  # the main thread raises it
                done.put(exc)

        start = time.perf_counter()
        for ext in external_ids:
            self.threads.pool.submit(one, ext)
        left, batch, flushed = len(external_ids), [], time.perf_counter()
        while left:
            try:
                item = done.get(timeout=0.05)
            except queue.Empty:
                item = None
            if item is not None:
                if isinstance(item, Exception):
                    raise item
                batch.append(item)
                left -= 1
            if batch and (len(batch) >= self.BATCH or not left or time.perf_counter() - flushed > 0.2):
                self._write(batch, action)
                batch, flushed = [], time.perf_counter()
        return time.perf_counter() - start

    def _write(self, batch, action) -> None:
        ext, state, path, status, ms, at, response = (list(c) for c in zip(*batch))
        from datetime import datetime, timezone as tz

        at = [datetime.fromtimestamp(t, tz=tz.utc) for t in at]
        state = ["blocked" if s == "blocked" else "active" for s in state]
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE bench_bare_svauser AS u SET confirmed_state = v.state, synced_version = u.version, "
                "confirmed_at = v.at, last_attempt_at = v.at, last_success_at = v.at, failures = 0, "
                "next_attempt_at = NULL, last_error_code = '', last_error_message = '', claimed_until = NULL, "
                "claimed_by = '' FROM unnest(%b::text[], %b::text[], %b::timestamptz[]) AS v(external_id, state, at) "
                "WHERE u.external_id = v.external_id", [ext, state, at])
            self.conn.execute(
                "INSERT INTO bench_bare_svacall (sva_user_id, created_at, operation, method, path, status_code, "
                "duration_ms, request, response, error_code, worker) SELECT u.id, v.at, %s, 'POST', v.path, "
                "v.status, v.ms, '{}'::jsonb, v.response::jsonb, '', 'bare' "
                "FROM unnest(%b::text[], %b::timestamptz[], %b::text[], %b::int[], %b::float8[], %b::text[]) "
                "AS v(external_id, at, path, status, ms, response) JOIN bench_bare_svauser AS u "
                "ON u.external_id = v.external_id", [f"{action}_user", ext, at, path, status, ms, response])


def bare_tables() -> None:
    """``bench_bare_svauser`` and ``bench_bare_svacall``: copies of the worker's two tables
    (same columns, indexes, foreign key) for ``BareRecorded`` to write to."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_bare_svacall, bench_bare_svauser")
        cursor.execute("CREATE TABLE bench_bare_svauser (LIKE sva_svauser INCLUDING ALL)")
        cursor.execute("INSERT INTO bench_bare_svauser SELECT * FROM sva_svauser")
        cursor.execute("CREATE TABLE bench_bare_svacall (LIKE sva_svacall INCLUDING ALL)")
        cursor.execute("ALTER TABLE bench_bare_svacall ADD FOREIGN KEY (sva_user_id) REFERENCES "
                       "bench_bare_svauser (id) DEFERRABLE INITIALLY DEFERRED")


def bare_recorded_count() -> int:
    """Timeline rows the recorded bare loop wrote (each of its calls must have one)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_bare_svacall")
        return cursor.fetchone()[0]


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
    if args.child:
        return child_main(args.child, args.concurrency)
    if args.quick:
        args.users, args.rounds = 300, 4
    args.shapes = args.shapes or f"{args.processes}x{args.concurrency}"
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
        from django.db import connection
        from django.db.models import F

        from agrega.sva.models import SvaUser

        shapes = [tuple(int(x) for x in shape.split("x")) for shape in args.shapes.split(",")]
        workers = {shape: Children("worker", shape[0], shape[1],
                                   {"database_url": os.environ["DATABASE_URL"]})
                   for shape in shapes}
        connection.close()  # this process only reads between rounds; keep no idle transaction
        create_s, _ = worker_round(workers[shapes[0]])
        print(f"  worker created {args.users} users on EXA in {create_s:.2f}s "
              f"({args.users / create_s:.0f} ops/s)", flush=True)

        external_ids = list(SvaUser.objects.values_list("external_id", flat=True))
        token = httpx.post(f"{sandbox.url}/v1/auth/token",
                           json={"client_id": "bench", "client_secret": secret}).json()["access_token"]
        recorded = vendor == "postgresql"  # the baseline that also records each outcome (BareRecorded)
        if recorded:
            bare_tables()
            connection.close()
        bares = {shape: Children("bare", shape[0], shape[1], {
            "url": sandbox.url, "prefix": prefix, "token": token,
            "database_url": os.environ["DATABASE_URL"] if recorded else None}) for shape in shapes}
        # per shape: seconds and CPU seconds (summed over that side's processes) per round
        fig = {shape: {k: [] for k in ("worker", "threads", "asyncio", "connector", "ratio", "worker_cpu",
                                       "threads_cpu", "connector_cpu", "recorded", "recorded_cpu",
                                       "ratio_recorded")} for shape in shapes}
        loads = []
        blocked = False  # the users' state on the platform (the worker created them active)

        def worker_side(shape):
            nonlocal blocked
            change_all(contracts, "release" if blocked else "block_manual")
            elapsed, cpu = worker_round(workers[shape])
            blocked = not blocked
            fig[shape]["worker"].append(elapsed)
            fig[shape]["worker_cpu"].append(cpu)

        def bare_side(shape):
            there, back = ("unblock", "block") if blocked else ("block", "unblock")
            elapsed, cpu = bare_round(bares[shape], "threads", external_ids, there)
            fig[shape]["threads"].append(elapsed)
            fig[shape]["threads_cpu"].append(cpu)
            in_flight = shape[0] * shape[1]
            cpu = time.process_time()  # this process: the connector alone, no database (a diagnostic)
            fig[shape]["connector"].append(connector_threads(integration, external_ids, back, in_flight))
            fig[shape]["connector_cpu"].append(time.process_time() - cpu)
            if not args.no_asyncio:
                fig[shape]["asyncio"].append(bare_round(bares[shape], "asyncio", external_ids, there)[0])
                connector_threads(integration, external_ids, back, in_flight)
            else:
                fig[shape]["asyncio"].append(float("inf"))  # 0 ops/s: never the best
            if recorded:
                elapsed, cpu = bare_round(bares[shape], "recorded", external_ids, there)
                fig[shape]["recorded"].append(elapsed)
                fig[shape]["recorded_cpu"].append(cpu)
                connector_threads(integration, external_ids, back, in_flight)

        for r in range(args.rounds):
            for shape in (shapes if r % 2 == 0 else shapes[::-1]):
                f = fig[shape]
                if r % 2 == 0:
                    worker_side(shape)
                    bare_side(shape)
                else:
                    bare_side(shape)
                    worker_side(shape)
                best_round = max(args.users / f["threads"][-1], args.users / f["asyncio"][-1])
                f["ratio"].append(args.users / f["worker"][-1] / best_round)
                if recorded:
                    f["ratio_recorded"].append(f["recorded"][-1] / f["worker"][-1])
                loads.append(os.getloadavg()[0])
                print(f"  round {r + 1} ({'worker' if r % 2 == 0 else 'bare loops'} first), {shape[0]} × {shape[1]}: "
                      f"worker {args.users / f['worker'][-1]:.0f} ops/s, bare threads "
                      f"{args.users / f['threads'][-1]:.0f} ops/s, bare asyncio {args.users / f['asyncio'][-1]:.0f} "
                      f"ops/s: ratio {f['ratio'][-1]:.2f}; CPU ms/op worker "
                      f"{1000 * f['worker_cpu'][-1] / args.users:.2f}, bare {1000 * f['threads_cpu'][-1] / args.users:.2f}"
                      + (f"; bare recording outcomes {args.users / f['recorded'][-1]:.0f} ops/s, ratio "
                         f"{f['ratio_recorded'][-1]:.2f}, CPU ms/op {1000 * f['recorded_cpu'][-1] / args.users:.2f}"
                         if recorded else "") + f"; load {loads[-1]:.1f}", flush=True)
        for side in (*workers.values(), *bares.values()):
            side.close()
        stats = admin.stats()
        dups = sum(stats.get("duplicates", {}).values()) if isinstance(stats.get("duplicates"), dict) else 0
        # a faster wrong answer must not pass: every user as the worker last left it, here and there
        want = "blocked" if blocked else "active"
        on_platform = [u["status"] for u in admin.users(prefix)]
        wrong = sum(1 for state in on_platform if state != want) + abs(len(on_platform) - args.users)
        wrong += SvaUser.objects.exclude(confirmed_state=want).count()
        wrong += SvaUser.objects.exclude(synced_version=F("version")).count()
        print(f"  users not as the worker left them (platform or database): {wrong}", flush=True)
        if recorded:  # the baseline must have done its work too: one timeline row per call
            want_rows = args.rounds * len(shapes) * args.users
            if (got_rows := bare_recorded_count()) != want_rows:
                raise SystemExit(f"the recorded bare loop wrote {got_rows} timeline rows, not {want_rows}")

        print()
        print(f"sync_throughput — {args.users} users, latency {args.latency_ms:g} ms, {args.rounds} rounds, {vendor}, "
              f"{os.cpu_count()} cores (shared); load {min(loads):.1f}–{max(loads):.1f}")
        print("  shape: processes × in-flight calls per process, the same on both sides "
              "(the bare loops: threads on one pooled client, or asyncio lanes)")
        summary = {}
        for shape in shapes:
            f = fig[shape]
            n = args.users
            w, bt = n / statistics.median(f["worker"]), n / statistics.median(f["threads"])
            ba, ct = n / statistics.median(f["asyncio"]), n / statistics.median(f["connector"])
            ratio = statistics.median(f["ratio"])
            cpu_ratios = [b / w_ for w_, b in zip(f["worker_cpu"], f["threads_cpu"])]
            cpu_w = 1000 * statistics.median(f["worker_cpu"]) / n
            cpu_b = 1000 * statistics.median(f["threads_cpu"]) / n
            cpu_c = 1000 * statistics.median(f["connector_cpu"]) / n
            print(f"  {shape[0]} × {shape[1]} (ideal {shape[0] * shape[1] * 1000 / args.latency_ms:.0f} ops/s): "
                  f"worker {w:.0f}, bare threads {bt:.0f}, bare asyncio {ba:.0f}, connector only {ct:.0f} ops/s "
                  f"(medians); ratio per round {', '.join(f'{x:.2f}' for x in f['ratio'])}: median {ratio:.2f}; "
                  f"CPU ms/op worker {cpu_w:.2f}, bare threads {cpu_b:.2f} (connector alone, one process: "
                  f"{cpu_c:.2f}), bare ÷ worker median {statistics.median(cpu_ratios):.2f}")
            extra = {}
            if recorded:
                br = n / statistics.median(f["recorded"])
                cpu_r = 1000 * statistics.median(f["recorded_cpu"]) / n
                extra = dict(recorded=dict(baseline=round(br, 1), ratio=round(statistics.median(f["ratio_recorded"]), 3),
                                           ratios=[round(x, 3) for x in f["ratio_recorded"]],
                                           cpu_ms_per_op=round(cpu_r, 3)))
                print(f"    beside it, the bare threads recording each outcome (BareRecorded): {br:.0f} ops/s, "
                      f"ratio per round {', '.join(f'{x:.2f}' for x in f['ratio_recorded'])}: median "
                      f"{statistics.median(f['ratio_recorded']):.2f}; CPU ms/op {cpu_r:.2f} (not the headline)")
            summary[shape] = dict(value=round(w, 1), baseline=round(max(bt, ba), 1), ratio=round(ratio, 3),
                                  ratios=[round(x, 3) for x in f["ratio"]],
                                  cpu_ms_per_op={"worker": round(cpu_w, 3), "bare_threads": round(cpu_b, 3),
                                                 "connector": round(cpu_c, 3)},
                                  cpu_ratio=round(statistics.median(cpu_ratios), 3), **extra)
        head = summary[shapes[0]]
        verdict = "met" if head["ratio"] >= TARGET_RATIO and not dups and not wrong else "not met"
        print(f"  headline ({shapes[0][0]} × {shapes[0][1]}): ratio {head['ratio']:.2f}, target >= {TARGET_RATIO}: "
              f"{verdict}")
        print(f"  duplicate creations refused by the platform: {dups}")
        print(json.dumps({"bench": "sync_throughput", "size": args.users, "database": vendor,
                          "figure": "worker ops/s ÷ best bare loop's, per round, same processes and in-flight calls",
                          **{k: head[k] for k in ("value", "baseline", "ratio")}, "target": TARGET_RATIO,
                          "better": "higher", "verdict": verdict, "rounds": args.rounds,
                          "shape": f"{shapes[0][0]}x{shapes[0][1]}", "ratios": head["ratios"], "duplicates": dups,
                          "wrong": wrong, "cpu_ms_per_op": head["cpu_ms_per_op"], "cpu_ratio": head["cpu_ratio"],
                          "recorded": head.get("recorded"),
                          "shapes": {f"{p_}x{c}": v for (p_, c), v in summary.items()},
                          "load": [round(min(loads), 1), round(max(loads), 1)]}, ensure_ascii=False), flush=True)
        admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
