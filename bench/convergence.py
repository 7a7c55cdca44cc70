"""Convergence at scale: N SVA users blocked by one dunning sweep, the EXA sandbox
rate-limited to R requests per second; time until all are confirmed, next to the
ideal (N ÷ R). PostgreSQL only.

    ./run bench convergence --users 100000 --rate 500 --repeat 3
    ./run bench convergence --users 10000 --rate 1000 --repeat 1      # quick look

The dataset (``agrega_converge_<N>``, built once with COPY, reused): N contracts, each
with an internet plan and one EXA product whose SVA user exists and is confirmed active
both in Agrega and on the sandbox, and one open título due 25 days before the sweep's
day, so that ONE ``dunning_sweep`` moves every contract to FA (partial suspension) and
every SVA user's desired state to blocked. The sandbox's users come from a seed file
(``agrega exa-sandbox --load``) written with the dataset: creating 100,000 users over
the rate-limited API would take the length of the bench itself.

Each repetition, on a fresh copy of the dataset: start the sandbox (a separate process,
``--rate-limit-rps R --latency-ms L``), run the sweep in a child process (timed
separately), then start one ``agrega worker --no-jobs`` process and time from the
sweep's commit until Agrega holds every user confirmed blocked AND the sandbox's own
counts say every user is blocked. The worker's RSS (VmRSS, VmHWM from /proc, threads
and any children included) is sampled throughout. Periodic jobs are off in the worker
(``--no-jobs``): the hourly reconciliation would otherwise read the 100,000 users
through the same rate limit in the middle of the measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("AGREGA_EGRESS_ALLOW", "127.0.0.1/32")  # the sandbox, here and in the workers
sys.path.insert(0, str(ROOT))

import synthetic  # noqa: E402  (bench/synthetic.py: the bench databases' server, clone, drop, marker)

GENERATOR_VERSION = 1
TZ = ZoneInfo("America/Sao_Paulo")
SWEEP_TODAY = date(2026, 12, 5)
DUE = SWEEP_TODAY - timedelta(days=25)  # Anatel régua: notice at 1, FA at 16, CA at 46
PREFIX, CLIENT_ID, CLIENT_SECRET = "conv", "conv-bench", "conv-secret"
PACKAGE = "EXA-SEG-BASICO"
SEED_DIR = ROOT / "var" / "bench"
DDDS = (11, 21, 31, 41, 48, 51, 61, 71, 81, 85, 91, 92)


def label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def dataset_name(n: int) -> str:
    return f"agrega_converge_{label(n)}"


def run_name(n: int) -> str:
    return f"agrega_converge_{label(n)}_run"


def seed_path(n: int) -> Path:
    return SEED_DIR / f"convergence-{label(n)}.json"


def django_env(name: str) -> dict:
    return {**os.environ, "DATABASE_URL": synthetic.db_url(name), "DJANGO_SETTINGS_MODULE": "agrega.settings",
            "AGREGA_LOG_LEVEL": "WARNING"}


def ensure_dataset(n: int, *, force: bool = False) -> str:
    name = dataset_name(n)
    wanted = {"users": n, "version": GENERATOR_VERSION}
    have = None if force else synthetic.marker(name)
    if have is not None and {k: have.get(k) for k in wanted} == wanted and seed_path(n).exists():
        subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=django_env(name), cwd=ROOT,
                       check=True)
        print(f"dataset {name}: reused", flush=True)
        return name
    synthetic.drop(name)
    with synthetic.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--generate-into", name, "--users", str(n)],
                   env=django_env(name), cwd=ROOT, check=True)
    print(f"dataset {name}: built in {time.perf_counter() - start:.0f}s", flush=True)
    return name


# ---------------------------------------------------------------- the data

def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ)


def generate(name: str, n: int) -> None:
    """Build the dataset with COPY (and the sandbox's seed file from the same rows)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from agrega.catalog.services import product_create
    from agrega.core.br import make_cpf
    from agrega.dunning.services import default_policy
    from agrega.integrations.services import integration_create

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    integration = integration_create(
        name="EXA convergência", platform="exa", base_url="http://127.0.0.1:9", prefix=PREFIX,
        auto_create_users=True, timeout_seconds=10, credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    internet, _ = product_create(name="Internet 500 Mega", price="129.90", fiscal_class="SCM")
    sva, _ = product_create(name="EXA Segurança Básico", price="9.90", fiscal_class="SVA",
                            sva_integration_id=integration.pk, sva_package_code=PACKAGE)
    default_policy()  # the Anatel régua

    connection.ensure_connection()
    raw = connection.connection
    raw.autocommit = False
    cur = raw.cursor()
    cur.execute("SET session_replication_role = replica")  # no FK triggers while loading

    def copy(table: str, columns: str, rows) -> None:
        start, count = time.perf_counter(), 0
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
                count += 1
        print(f"  {table}: {count:,} rows in {time.perf_counter() - start:.1f}s", flush=True)

    created = _at(date(2024, 1, 10), 9)
    activated = _at(date(2024, 2, 1), 10)
    synced = activated + timedelta(minutes=1)
    people = []
    for i in range(1, n + 1):
        people.append((f"Cliente Convergência {i}", make_cpf(i), f"conv{i}@bench.example.com",
                       f"+55{DDDS[i % len(DDDS)]}9{i % 100_000_000:08d}", f"agr-conv-{i:09d}"))

    copy("customers_customer", "id, name, person_type, document, email, mobile_phone, street, number, district, "
         "city, state, zip_code, created_at, updated_at, ibge_code, ie, ind_ie_dest",
         ((i, p[0], "F", p[1], p[2], p[3], "Rua das Flores", "1", "Centro", "São Paulo", "SP", "01001000",
           created, created, "3550308", "", "9") for i, p in enumerate(people, 1)))
    copy("contracts_contract", "id, status, access_status, billing_day, description, version, activated_at, "
         "ended_at, created_at, updated_at, customer_id, dunning_level, dunning_policy_id, oldest_open_due, "
         "sales_plan_id, trust_release_until",
         ((i, "A", "A", DUE.day, "", 1, activated, None, created, activated, i, 0, None, DUE, None, None)
          for i in range(1, n + 1)))
    copy("contracts_contractproduct", "id, kind, price, added_at, removed_at, contract_id, product_id",
         (row for i in range(1, n + 1)
          for row in ((2 * i - 1, "OUTRO", None, activated, None, i, internet.pk),
                      (2 * i, "SVA", None, activated, None, i, sva.pk))))
    copy("sva_svauser", "id, origin, use_customer_data, email, phone, document, external_id, remote_id, "
         "deleted_at, created_at, registration_problems, version, synced_version, next_attempt_at, "
         "claimed_until, claimed_by, failures, last_attempt_at, last_success_at, last_error_code, "
         "last_error_message, confirmed_state, confirmed_package, confirmed_email, confirmed_phone, "
         "confirmed_document, confirmed_name, confirmed_at, creation_attempted, contract_id, "
         "contract_product_id, created_by_id, deleted_by_id, integration_id",
         ((i, "automatic", True, "", "", "", p[4], f"usr_{i:016x}", None, activated, "[]", 1, 1, None, None, "",
           0, synced, synced, "", "", "active", PACKAGE, p[2], p[3], p[1], p[0], synced, True, i, 2 * i, None,
           None, integration.pk) for i, p in enumerate(people, 1)))
    period = DUE.replace(day=1)
    copy("billing_invoice", "id, period, issued_on, due_date, amount, credit_applied, paid_amount, status, "
         "paid_at, cancelled_at, cancel_reason, created_at, billing_run_id, contract_id, customer_id",
         ((i, period, period, DUE, "139.80", "0", "0", "open", None, None, "", _at(period, 6), None, i, i)
          for i in range(1, n + 1)))
    copy("billing_invoiceline", "id, description, fiscal_class, unit_price, days, days_in_period, amount, "
         "contract_product_id, invoice_id, product_id",
         (row for i in range(1, n + 1)
          for row in ((2 * i - 1, "Internet 500 Mega", "SCM", "129.90", 30, 30, "129.90", 2 * i - 1, i, internet.pk),
                      (2 * i, "EXA Segurança Básico", "SVA", "9.90", 30, 30, "9.90", 2 * i, i, sva.pk))))
    for table in ("customers_customer", "contracts_contract", "contracts_contractproduct", "sva_svauser",
                  "billing_invoice", "billing_invoiceline"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    cur.execute("SET session_replication_role = DEFAULT")
    cur.execute("CREATE TABLE bench_dataset (params jsonb NOT NULL)")
    cur.execute("INSERT INTO bench_dataset (params) VALUES (%s::jsonb)",
                [json.dumps({"users": n, "version": GENERATOR_VERSION, "due": DUE.isoformat(),
                             "sweep_today": SWEEP_TODAY.isoformat()})])
    raw.commit()
    raw.autocommit = True
    cur.execute("VACUUM (FREEZE, ANALYZE)")
    cur.execute("CHECKPOINT")
    connection.close()

    # The sandbox's side: the same users, active, in the snapshot format of --data/--load.
    stamp = "2024-02-01T13:01:00.000Z"
    users = [{"id": f"usr_{i:016x}", "external_id": p[4], "name": p[0], "email": p[2], "phone": p[3],
              "document": p[1], "package_code": PACKAGE, "status": "active", "created_at": stamp,
              "updated_at": stamp} for i, p in enumerate(people, 1)]
    from exa_sandbox.store import DEFAULT_PACKAGES, save_snapshot

    SEED_DIR.mkdir(parents=True, exist_ok=True)
    save_snapshot({"format": "exa-sandbox/1", "partners": [{
        "prefix": PREFIX, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "packages": [dict(p) for p in DEFAULT_PACKAGES], "users": users}]}, str(seed_path(n)))
    print(f"  seed file {seed_path(n)}; total {time.perf_counter() - t0:.0f}s", flush=True)


# ---------------------------------------------------------------- measuring

def child_sweep() -> None:
    """The sweep, in its own process (Django set up before the clock starts)."""
    import django

    django.setup()
    from django.db import connection

    from agrega.dunning.services import dunning_sweep

    connection.ensure_connection()
    start = time.perf_counter()
    result = dunning_sweep(today=SWEEP_TODAY)
    elapsed = time.perf_counter() - start
    print(json.dumps({"seconds": elapsed, "result": result.as_dict(), "committed_at": time.time()}), flush=True)


class MemorySampler(threading.Thread):
    """VmRSS of a process and its descendants, every ``interval`` s; VmHWM at the end.
    The process itself (``agrega worker``'s SVA loop, which the < 200 MB target is for)
    apart from the whole tree: since decision 0008 the tree also holds the task worker,
    a second Django process that converges nothing."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss_kb = 0
        self.hwm_kb = 0
        self.own_peak_rss_kb = 0
        self.own_hwm_kb = 0
        self.samples = 0
        self.stop_event = threading.Event()

    @staticmethod
    def _status(pid: int) -> dict[str, int]:
        out = {}
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        out[line.split(":")[0]] = int(line.split()[1])
        except OSError:
            pass
        return out

    def _tree(self) -> list[int]:
        pids, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as fh:
                        todo += [int(c) for c in fh.read().split()]
            except OSError:
                pass
        return pids

    def sample(self) -> None:
        rss = hwm = 0
        for pid in self._tree():
            status = self._status(pid)
            rss += status.get("VmRSS", 0)
            hwm += status.get("VmHWM", 0)
            if pid == self.pid:
                self.own_peak_rss_kb = max(self.own_peak_rss_kb, status.get("VmRSS", 0))
                self.own_hwm_kb = max(self.own_hwm_kb, status.get("VmHWM", 0))
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.hwm_kb = max(self.hwm_kb, hwm)
        self.samples += 1

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self.sample()


def sandbox_users(url: str) -> dict:
    import httpx

    return httpx.get(f"{url}/_sandbox/stats", timeout=30).json()


def one_repetition(args, template: str, r: int) -> dict:
    import httpx
    import psycopg

    from exa_sandbox.testing import SandboxProcess

    n, rate = args.users, args.rate
    database = run_name(n)
    copy_s = synthetic.clone(template, database)
    sandbox_args = ["--load", str(seed_path(n)), "--rate-limit-rps", str(rate), "--log-level", "warning"]
    if args.latency_ms:
        sandbox_args += ["--latency-ms", str(args.latency_ms)]
    worker = None
    try:
        with SandboxProcess(args=sandbox_args, startup_timeout=120) as sandbox, \
                psycopg.connect(synthetic.db_url(database), autocommit=True) as db:
            loaded = sandbox_users(sandbox.url)["users"][PREFIX]
            assert loaded == {"total": n, "active": n, "blocked": 0}, loaded
            db.execute("UPDATE integrations_svaintegration SET base_url = %s, updated_at = now()"
                       + (", rate_limit_rps = %s" if args.pace else ""),
                       [sandbox.url] + ([rate] if args.pace else []))
            # the sweep (child process)
            env = django_env(database)
            out = subprocess.run([sys.executable, __file__, "--child-sweep"], env=env, cwd=ROOT, check=True,
                                 stdout=subprocess.PIPE, text=True).stdout
            sweep = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
            committed = sweep["committed_at"]
            pending = db.execute("SELECT count(*) FROM sva_svapendingwork").fetchone()[0]  # sva/pending.py
            if pending != n:
                raise SystemExit(f"the sweep bumped {pending} SVA users, expected {n}: {sweep['result']}")
            load_before = os.getloadavg()
            # the worker (a real `agrega worker` process)
            worker_env = {**env}
            if args.concurrency:
                worker_env["AGREGA_SVA_CONCURRENCY"] = str(args.concurrency)
            command, cwd = [str(ROOT / ".venv" / "bin" / "agrega"), "worker", "--no-jobs"], ROOT
            if args.worker_tree:  # A/B: the worker of another copy of the code (e.g. `git archive` of a commit)
                command, cwd = [sys.executable, "-m", "agrega.cli", "worker", "--no-jobs"], args.worker_tree
                worker_env["PYTHONPATH"] = args.worker_tree
            workers = [subprocess.Popen(command, env=worker_env, cwd=cwd) for _ in range(args.workers)]
            worker = workers
            samplers = [MemorySampler(w.pid) for w in workers]
            for s in samplers:
                s.start()
            done_agrega = None
            progress_at = time.monotonic()
            while True:
                time.sleep(0.25)
                confirmed = db.execute(
                    "SELECT count(*) FROM sva_svauser u WHERE confirmed_state = 'blocked' "
                    "AND NOT EXISTS (SELECT 1 FROM sva_svapendingwork q WHERE q.sva_user_id = u.id)"
                ).fetchone()[0]
                if confirmed == n and done_agrega is None:
                    done_agrega = time.time()
                if done_agrega is not None:
                    users = sandbox_users(sandbox.url)["users"][PREFIX]
                    if users["blocked"] == n:
                        done = time.time()
                        break
                if any(w.poll() is not None for w in workers):
                    raise SystemExit("a worker exited early")
                if time.monotonic() - progress_at > 10:
                    progress_at = time.monotonic()
                    print(f"    {time.time() - committed:6.0f}s: {confirmed:,} confirmed", flush=True)
                if time.time() - committed > args.timeout:
                    raise SystemExit(f"not converged after {args.timeout}s ({confirmed} confirmed)")
            for s in samplers:
                s.sample()
            load_after = os.getloadavg()
            stats = sandbox_users(sandbox.url)
            # Every user, one by one, on the sandbox's own listing.
            listing = httpx.get(f"{sandbox.url}/_sandbox/partners/{PREFIX}/users", timeout=120).json()["users"]
            wrong = [u["external_id"] for u in listing if u["status"] != "blocked"]
            calls = db.execute("SELECT count(*), count(*) FILTER (WHERE status_code = 429) FROM sva_svacall "
                               "WHERE created_at >= to_timestamp(%s)", [committed - 1]).fetchone()
            first = db.execute("SELECT extract(epoch FROM min(created_at)) FROM sva_svacall "
                               "WHERE created_at >= to_timestamp(%s)", [committed - 1]).fetchone()[0]
    finally:
        if worker:
            for w in worker:
                if w.poll() is None:
                    w.send_signal(signal.SIGTERM)
            for w in worker:
                try:
                    w.wait(30)
                except subprocess.TimeoutExpired:
                    w.kill()
        if not args.keep:
            synthetic.drop(database)
    for s in samplers:
        s.stop_event.set()
    seconds = done - committed
    ideal = n / rate
    row = {
        "users": n, "rate": rate, "ideal": ideal, "seconds": seconds, "ratio": seconds / ideal,
        "agrega_seconds": done_agrega - committed, "sweep_seconds": sweep["seconds"],
        "responses_429": stats["responses"].get("429", 0), "requests": stats["requests_total"],
        "recorded_calls": calls[0], "recorded_429": calls[1],
        "first_call_seconds": float(first) - committed if first else None, "peak_rss_mib": max(s.peak_rss_kb for s in samplers) / 1024,
        "vmhwm_mib": max(s.hwm_kb for s in samplers) / 1024, "rss_samples": sum(s.samples for s in samplers),
        "sva_peak_rss_mib": max(s.own_peak_rss_kb for s in samplers) / 1024,
        "sva_vmhwm_mib": max(s.own_hwm_kb for s in samplers) / 1024,
        "load_before": load_before, "load_after": load_after, "not_blocked_on_sandbox": len(wrong),
        "copy_seconds": copy_s,
    }
    print(f"  rep {r + 1}: {seconds:.1f}s (ideal {ideal:.0f}s, ratio {seconds / ideal:.3f}); sweep "
          f"{sweep['seconds']:.1f}s; {row['requests']:,} requests, {row['responses_429']:,} × 429; peak RSS "
          f"SVA worker {row['sva_peak_rss_mib']:.0f} MiB (VmHWM {row['sva_vmhwm_mib']:.0f}), with the task "
          f"worker {row['peak_rss_mib']:.0f} MiB (VmHWM {row['vmhwm_mib']:.0f}); load "
          f"{load_before[0]:.1f} → {load_after[0]:.1f}; not blocked on sandbox: {len(wrong)}", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=500.0, help="the sandbox's limit, requests/s per partner")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the sandbox's latency per call")
    parser.add_argument("--workers", type=int, default=1, help="`agrega worker` processes")
    parser.add_argument("--concurrency", type=int, default=None, help="AGREGA_SVA_CONCURRENCY (default 16)")
    parser.add_argument("--no-pace", dest="pace", action="store_false",
                        help="leave the integration's rate limit unset (the worker paces nothing)")
    parser.add_argument("--worker-tree", help="run the worker from this copy of the code (A/B)")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--force", action="store_true", help="build the dataset again")
    parser.add_argument("--keep", action="store_true", help="keep the last run's database")
    parser.add_argument("--quick", action="store_true", help="2,000 users at 100 req/s, once (./run bench all)")
    parser.add_argument("--generate-into", help=argparse.SUPPRESS)
    parser.add_argument("--child-sweep", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into:
        generate(args.generate_into, args.users)
        return 0
    if args.child_sweep:
        child_sweep()
        return 0
    if args.quick:
        args.users, args.rate, args.repeat = 2000, 100.0, 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # finally blocks drop the copy
    template = ensure_dataset(args.users, force=args.force)
    print(f"convergence — {args.users:,} users, sandbox limit {args.rate:g} req/s, latency "
          f"{args.latency_ms:g} ms, {args.workers} worker(s), pacing {'on' if args.pace else 'off'}, "
          f"{os.cpu_count()} cores (shared); worker code {args.worker_tree or 'this tree'}; load {os.getloadavg()[0]:.2f}", flush=True)
    rows = [one_repetition(args, template, r) for r in range(args.repeat)]

    def med(key):
        return statistics.median(row[key] for row in rows)

    print()
    print(f"convergence — median of {len(rows)} run(s), PostgreSQL, {os.cpu_count()} cores (shared)")
    print(f"  users                          {args.users:>10,}")
    print(f"  sandbox rate limit             {args.rate:>10g} req/s  (latency {args.latency_ms:g} ms)")
    print(f"  ideal (users ÷ rate)           {args.users / args.rate:>10.1f} s")
    print(f"  measured (sweep commit → all blocked on the sandbox) {med('seconds'):.1f} s "
          f"(runs: {', '.join(format(r['seconds'], '.1f') for r in rows)})")
    print(f"  ratio to ideal                 {med('ratio'):>10.3f}   (target <= 1.25)")
    print(f"  Agrega all confirmed after     {med('agrega_seconds'):>10.1f} s")
    print(f"  sweep                          {med('sweep_seconds'):>10.1f} s")
    print(f"  calls made (sandbox requests)  {med('requests'):>10,.0f}   (timeline rows {med('recorded_calls'):,.0f})")
    print(f"  429s received                  {med('responses_429'):>10,.0f}")
    print(f"  first timeline row after       {med('first_call_seconds'):>10.1f} s  (worker start-up included)")
    print(f"  SVA worker peak RSS            {max(r['sva_peak_rss_mib'] for r in rows):>10.0f} MiB sampled, "
          f"VmHWM {max(r['sva_vmhwm_mib'] for r in rows):.0f} MiB  (target < 200 MB)")
    print(f"  with its task worker process   {max(r['peak_rss_mib'] for r in rows):>10.0f} MiB sampled, "
          f"VmHWM {max(r['vmhwm_mib'] for r in rows):.0f} MiB  (both processes of `agrega worker`)")
    print("  load average (1 min) before/after: "
          + "; ".join(f"{r['load_before'][0]:.1f}/{r['load_after'][0]:.1f}" for r in rows))
    print(f"  users not blocked on the sandbox at the end: {max(r['not_blocked_on_sandbox'] for r in rows)}")
    print(json.dumps({"rows": rows}, default=str))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import summary

    summary.emit(f"convergence {args.users:,} users at {args.rate:g} req/s", figure=med("seconds"),
                 baseline=args.users / args.rate, ratio=med("ratio"), target="≤ 1.25", unit="s",
                 verdict=summary.verdict(med("ratio") <= 1.25 and max(r["sva_vmhwm_mib"] for r in rows) * 2**20 < 200e6),
                 note=f"baseline: the ideal, users ÷ the sandbox's limit; worker start-up included; SVA worker "
                      f"VmHWM {max(r['sva_vmhwm_mib'] for r in rows):.0f} MiB (< 200 MB), with the task worker "
                      f"{max(r['vmhwm_mib'] for r in rows):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
