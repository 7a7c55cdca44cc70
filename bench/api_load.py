"""The API under load: gunicorn + PostgreSQL with 100,000 contracts, wrk in another process.

Endpoints: contract list (keyset page of 50 from a random cursor), contract detail (a
random contract), customer search (``?q=`` a customer's CPF), activate (a
different pré-contrato each request) and block-manual (a different active, released
contract each request). Per endpoint it prints requests/s, p50/p99/p99.9, non-2xx
answers, and the server's CPU per request (gunicorn workers and the PostgreSQL backends
serving them, from /proc), as medians over ``--rounds``; then the verdict against the
targets at 20 connections (reads p99 ≤ 50 ms, actions p99 ≤ 100 ms).

    ./run bench api_load                                  # gunicorn sync:2, 3 rounds, 10 s per endpoint
    ./run bench api_load --configs sync:2,sync:3,sync:5,gthread:2x4 --rounds 2 --seconds 6
    ./run bench api_load --configs sync:2,granian:2 --rounds 2    # gunicorn vs granian (pip install granian)
    ./run bench api_load --connections 2                  # service time without queueing
    ./run bench api_load --drop-base                      # drop this bench's databases
    ./run bench api_load --profile contract_detail        # py-spy on one worker during that endpoint
    ./run bench api_load --source /tmp/before             # serve another copy of the code (A/B)

The dataset is ``bench/synthetic.py``'s ``agrega_bench_100k`` (built or reused). Once, a
base copy ``agrega_apiload_base_100k`` gets what the actions need, through Agrega's own
services: an operator (role operador) and N pré-contratos (customer of the dataset,
internet plan + one EXA product). Each round works on a fresh copy of that base
(``agrega_apiload_run``, dropped afterwards, also on Ctrl-C/SIGTERM), with a token made
by ``agrega create_token``. wrk is Debian's (``apt-get install wrk``); the Lua scripts
are in ``bench/api_load/``.

Closed loop: 20 connections each wait for their answer before sending the next, so by
Little's law mean latency = 20 / throughput. On 2 shared cores the latency targets are
throughput targets: p99 ≤ 50 ms needs well over 400 requests/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import synthetic  # noqa: E402  (bench/synthetic.py: dataset, server URL, /proc CPU)

LUA_DIR = ROOT / "bench" / "api_load"
VENV_BIN = Path(sys.executable).parent
BASE_VERSION = 1
READS = ("contract_list", "contract_detail", "customer_search")
ACTIONS = ("activate", "block")
ENDPOINTS = READS + ACTIONS
TARGET_MS = {**{e: 50.0 for e in READS}, **{e: 100.0 for e in ACTIONS}}
OPERATOR = "bench-operador"


# ---------------------------------------------------------------- databases

def django_env(database: str) -> dict:
    return {**os.environ, "DATABASE_URL": synthetic.db_url(database), "DJANGO_SETTINGS_MODULE": "agrega.settings",
            "AGREGA_LOG_LEVEL": "WARNING"}


def ensure_base(contracts: int, precontracts: int) -> str:
    """``agrega_apiload_base_<size>``: the dataset plus an operator and pré-contratos,
    made once (through the services, like any entry point) and reused."""
    template = synthetic.ensure_dataset(contracts)
    name = f"agrega_apiload_base_{synthetic.label(contracts)}"
    wanted = {"version": BASE_VERSION, "contracts": contracts, "precontracts": precontracts,
              "template_rows": synthetic.marker(template).get("rows")}
    have = synthetic.marker(name, "bench_apiload")
    if have == wanted:
        print(f"base {name}: reused ({precontracts:,} pré-contratos)", flush=True)
        return name
    seconds = synthetic.clone(template, name)
    print(f"base {name}: copied from {template} in {seconds:.1f}s; adding {precontracts:,} pré-contratos …",
          flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=django_env(name), cwd=ROOT, check=True)
    subprocess.run([sys.executable, __file__, "--prepare-child", str(precontracts)], env=django_env(name), cwd=ROOT,
                   check=True)
    import psycopg

    with psycopg.connect(synthetic.db_url(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_apiload (params jsonb NOT NULL)")
        conn.execute("INSERT INTO bench_apiload (params) VALUES (%s::jsonb)", [json.dumps(wanted)])
        conn.execute("VACUUM (ANALYZE)")
    print(f"base {name}: ready in {time.perf_counter() - start:.0f}s", flush=True)
    return name


def prepare_child(precontracts: int) -> None:
    """Runs inside Django against the base copy: the operator and the pré-contratos."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from agrega.catalog.models import Product
    from agrega.contracts import services as contract_services
    from agrega.core.roles import Role, assign_role
    from agrega.customers.models import Customer

    user = get_user_model().objects.create_user(OPERATOR, password=os.urandom(16).hex())
    assign_role(user, Role.OPERATOR)
    internet = Product.objects.filter(fiscal_class="SCM").order_by("id").first()
    sva = Product.objects.exclude(sva_integration=None).order_by("id").first()
    customer_ids = list(Customer.objects.order_by("id").values_list("id", flat=True))
    rng = random.Random(7)
    start = time.perf_counter()
    for batch in range(0, precontracts, 500):
        with transaction.atomic():
            for _ in range(batch, min(batch + 500, precontracts)):
                contract = contract_services.contract_create(customer_id=rng.choice(customer_ids), actor=user,
                                                             description="pré-contrato (api_load)")
                contract_services.contract_add_product(contract=contract, product_id=internet.pk, actor=user)
                contract_services.contract_add_product(contract=contract, product_id=sva.pk, actor=user)
        done = min(batch + 500, precontracts)
        print(f"  {done:,} pré-contratos ({done / (time.perf_counter() - start):.0f}/s)", flush=True)


# ---------------------------------------------------------------- request paths

def write_paths(database: str, folder: Path, *, per_endpoint: int, seed: int) -> dict[str, int]:
    """One file of request paths per endpoint, shuffled: reads spread over the whole
    dataset; actions each name a different eligible contract."""
    import psycopg

    rng = random.Random(seed)
    with psycopg.connect(synthetic.db_url(database)) as conn:
        contract_ids = [r[0] for r in conn.execute("SELECT id FROM contracts_contract")]
        pre = [r[0] for r in conn.execute("SELECT id FROM contracts_contract WHERE status = 'P'")]
        blockable = [r[0] for r in conn.execute(
            "SELECT id FROM contracts_contract WHERE status = 'A' AND access_status = 'A'")]
        documents = [r[0] for r in conn.execute("SELECT document FROM customers_customer")]
    paths: dict[str, list[str]] = {}
    paths["contract_list"] = [f"/api/contracts?cursor={rng.choice(contract_ids)}&limit=50"
                              for _ in range(per_endpoint)]
    paths["contract_detail"] = [f"/api/contracts/{rng.choice(contract_ids)}" for _ in range(per_endpoint)]
    search = []
    for _ in range(per_endpoint):
        document = rng.choice(documents)
        # a customer's CPF, half punctuated as an operator types it, half as bare digits
        q = f"{document[:3]}.{document[3:6]}.{document[6:9]}-{document[9:]}" if rng.random() < 0.5 else document
        search.append("/api/customers?" + urllib.parse.urlencode({"q": q}))
    paths["customer_search"] = search
    rng.shuffle(pre)
    rng.shuffle(blockable)
    paths["activate"] = [f"/api/contracts/{i}/activate" for i in pre]
    paths["block"] = [f"/api/contracts/{i}/block-manual" for i in blockable]
    counts = {}
    for endpoint, lines in paths.items():
        (folder / f"{endpoint}.txt").write_text("\n".join(lines) + "\n")
        counts[endpoint] = len(lines)
    return counts


# ---------------------------------------------------------------- processes and CPU

def proc_cpu(pid: int) -> float:
    try:
        return synthetic.proc_cpu(pid)
    except (OSError, ValueError, IndexError):
        return 0.0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def backend_pids(database: str) -> list[int]:
    with synthetic.admin() as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database])]


def server_cpu(master: int, database: str) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds so far of the gunicorn master and its workers, and of the database's
    backends (the connections the workers hold)."""
    return ({pid: proc_cpu(pid) for pid in [master, *children(master)]},
            {pid: proc_cpu(pid) for pid in backend_pids(database)})


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn (or granian) with production settings (DEBUG off, persistent connections)
    on 127.0.0.1."""

    def __init__(self, database: str, config: str, log: Path, source: Path | None = None):
        kind, _, size = config.partition(":")
        workers, _, threads = size.partition("x")
        self.port = free_port()
        if kind == "granian":  # granian:2 = 2 worker processes, one Python thread each, keep-alive
            if not (VENV_BIN / "granian").exists():
                raise SystemExit("granian is not installed (it is no dependency): .venv/bin/pip install granian")
            command = [str(VENV_BIN / "granian"), "--interface", "wsgi", "agrega.wsgi:application",
                       "--host", "127.0.0.1", "--port", str(self.port), "--workers", workers,
                       "--blocking-threads", threads or "1", "--runtime-mode", "st", "--backlog", "2048",
                       "--log-level", "warning", "--no-access-log"]
        else:
            command = [str(VENV_BIN / "gunicorn"), "agrega.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                       "--workers", workers, "--worker-class", kind, "--backlog", "2048",
                       "--timeout", "60", "--error-logfile", str(log), "--log-level", "warning"]
            if threads:
                command += ["--threads", threads]
        env = {**os.environ, "DATABASE_URL": synthetic.db_url(database), "DJANGO_SETTINGS_MODULE": "agrega.settings",
               "AGREGA_DEBUG": "0", "AGREGA_SECRET_KEY": os.urandom(24).hex(),
               "AGREGA_ALLOWED_HOSTS": "127.0.0.1"}
        env.pop("AGREGA_LOG_LEVEL", None)  # production default (INFO)
        if source is not None:  # another copy of the code (A/B): first on sys.path, before the editable install
            env["PYTHONPATH"] = str(source)
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(command, env=env, cwd=source or ROOT, stderr=self._log)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start (see {log})")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def run_wrk(server: Server, endpoint: str, paths: Path, token: str, *, seconds: float, connections: int,
            threads: int) -> dict:
    env = {**os.environ, "APILOAD_DIR": str(LUA_DIR), "APILOAD_PATHS": str(paths), "APILOAD_TOKEN": token,
           "APILOAD_UNIQUE": "1" if endpoint in ACTIONS else "0", "APILOAD_THREADS": str(threads)}
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(LUA_DIR / f"{endpoint}.lua"), server.url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    result = json.loads(lines[-1])
    result["wrk_cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not shutil.which("wrk"):
        raise SystemExit("wrk não encontrado: sudo apt-get install wrk")


# ---------------------------------------------------------------- one round

def one_round(base: str, config: str, args, round_no: int, folder: Path) -> dict[str, dict]:
    name = "agrega_apiload_run"
    seconds = synthetic.clone(base, name)
    results: dict[str, dict] = {}
    server = None
    try:
        # migrated by the code that will serve it (``--source``: its own migrations only)
        env = django_env(name)
        if args.source is not None:
            env["PYTHONPATH"] = str(args.source)
        migrated = subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env,
                                  cwd=args.source or ROOT, capture_output=True, text=True)
        if migrated.returncode != 0:
            raise SystemExit(f"migrate failed:\n{migrated.stderr}")
        counts = write_paths(name, folder, per_endpoint=args.paths, seed=round_no)
        token = subprocess.run([str(VENV_BIN / "agrega"), "create_token", OPERATOR, "--name", "api_load"],
                               env=django_env(name), cwd=ROOT, check=True, capture_output=True,
                               text=True).stdout.strip()
        server = Server(name, config, folder / f"gunicorn-{config.replace(':', '-')}.log", args.source)
        print(f"  [{config} round {round_no}] copy {seconds:.1f}s; pré-contratos {counts['activate']:,}, "
              f"blockable {counts['block']:,}; load {os.getloadavg()[0]:.2f}", flush=True)
        # warm every worker (imports, connections, caches) on a read that is not measured
        run_wrk(server, "contract_detail", folder / "contract_detail.txt", token, seconds=args.warmup,
                connections=args.connections, threads=args.threads)
        for endpoint in args.endpoints:
            before = server_cpu(server.proc.pid, name)
            profiler = None
            if args.profile == endpoint:
                worker = children(server.proc.pid)[0]
                out = folder / f"profile-{endpoint}-{config.replace(':', '-')}.svg"
                profiler = subprocess.Popen([str(VENV_BIN / "py-spy"), "record", "-p", str(worker), "-o", str(out),
                                             "-d", str(int(args.seconds)), "-r", "200", "--nonblocking"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            result = run_wrk(server, endpoint, folder / f"{endpoint}.txt", token, seconds=args.seconds,
                             connections=args.connections, threads=args.threads)
            after = server_cpu(server.proc.pid, name)
            if profiler is not None:
                profiler.wait()
                print(f"  profile: {out}", flush=True)
            result["python_cpu"] = cpu_delta(before[0], after[0])
            result["pg_cpu"] = cpu_delta(before[1], after[1])
            result["server_cpu"] = result["python_cpu"] + result["pg_cpu"]
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            results[endpoint] = result
            lat = result["latency_us"]
            print(f"    {endpoint:16} {result['rps']:7.1f} req/s  p50 {lat['p50'] / 1000:6.1f} ms  "
                  f"p99 {lat['p99'] / 1000:6.1f} ms  p99.9 {lat['p999'] / 1000:6.1f} ms  "
                  f"non-2xx {result['non2xx']} {result['non2xx_codes'].strip()}  "
                  f"CPU/req {1000 * result['python_cpu'] / max(1, result['requests']):.2f} ms gunicorn + "
                  f"{1000 * result['pg_cpu'] / max(1, result['requests']):.2f} ms PostgreSQL "
                  f"(wrk {1000 * result['wrk_cpu'] / max(1, result['requests']):.2f} ms)", flush=True)
        verify_state_changes(name, counts, results, args.connections)
    finally:
        if server is not None:
            server.stop()
        synthetic.drop(name)
    return results


def verify_state_changes(database: str, counts: dict[str, int], results: dict[str, dict], connections: int) -> None:
    """Every 2xx of an action changed one contract: the database must say so."""
    import psycopg

    with psycopg.connect(synthetic.db_url(database)) as conn:
        pre = conn.execute("SELECT count(*) FROM contracts_contract WHERE status = 'P'").fetchone()[0]
        blockable = conn.execute(
            "SELECT count(*) FROM contracts_contract WHERE status = 'A' AND access_status = 'A'").fetchone()[0]
    activated = counts["activate"] - pre
    blocked = counts["block"] + activated - blockable  # activated contracts became blockable
    for endpoint, changed in (("activate", activated), ("block", blocked)):
        if endpoint in results:
            results[endpoint]["changed_in_db"] = changed
            # wrk stops with up to one request per connection in flight: those acted unseen
            ok = results[endpoint]["ok"]
            if not ok <= changed <= ok + connections:
                raise SystemExit(f"{endpoint}: {ok} answers 2xx but {changed} contracts changed")
    print(f"    state changes checked: {activated:,} activated, {blocked:,} blocked "
          f"(2xx answers, plus at most one in flight per connection when wrk stopped)", flush=True)


def check_errors(endpoint: str, result: dict) -> list[str]:
    problems = []
    if result["threads_ran_out"]:
        problems.append(f"{endpoint}: ran out of eligible contracts (raise --precontracts)")
    if result["non2xx"]:
        problems.append(f"{endpoint}: {result['non2xx']} non-2xx answers ({result['non2xx_codes'].strip()})")
    socket_errors = {k: v for k, v in result["errors"].items() if k != "status" and v}
    if socket_errors:
        problems.append(f"{endpoint}: socket errors {socket_errors}")
    return problems


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--precontracts", type=int, default=12_000,
                        help="pré-contratos in the base copy (activate needs one per request)")
    parser.add_argument("--configs", default="sync:2",
                        help="gunicorn worker class:count[xthreads], comma-separated (e.g. sync:3,gthread:2x4), "
                             "or granian:count[xthreads] (granian's WSGI server); "
                             "sync:2 measured best on 2 cores (bench/README.md)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10, help="wrk duration per endpoint")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--paths", type=int, default=50_000, help="request paths per read endpoint")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--profile", choices=ENDPOINTS, help="py-spy record one worker during this endpoint")
    parser.add_argument("--source", type=Path,
                        help="serve the agrega package from this copy of the tree (before/after comparisons)")
    parser.add_argument("--keep-files", action="store_true", help="keep the paths, logs and profiles folder")
    parser.add_argument("--drop-base", action="store_true", help="drop the base copy (and a stray run copy)")
    parser.add_argument("--prepare-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare_child is not None:
        prepare_child(args.prepare_child)
        return
    if args.drop_base:
        for name in (f"agrega_apiload_base_{synthetic.label(args.contracts)}", "agrega_apiload_run"):
            synthetic.drop(name)
            print(f"dropped {name}")
        return
    args.endpoints = [e for e in args.endpoints.split(",") if e]
    unknown = set(args.endpoints) - set(ENDPOINTS)
    if unknown:
        raise SystemExit(f"unknown endpoints: {sorted(unknown)}")
    synthetic.stop_cleanly()
    ensure_wrk()
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"machine: {machine()}; {wrk_version.strip()}", flush=True)
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", flush=True)
    base = ensure_base(args.contracts, args.precontracts)
    folder = Path(tempfile.mkdtemp(prefix="agrega_apiload_"))
    all_results: dict[str, dict[str, list[dict]]] = {}
    problems: list[str] = []
    loads = []
    try:
        for config in args.configs.split(","):
            for round_no in range(1, args.rounds + 1):
                loads.append(os.getloadavg()[0])
                for endpoint, result in one_round(base, config, args, round_no, folder).items():
                    all_results.setdefault(config, {}).setdefault(endpoint, []).append(result)
                    problems += [f"[{config} round {round_no}] {p}" for p in check_errors(endpoint, result)]
    finally:
        if args.keep_files:
            print(f"files kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nuptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"load average (1 min) at the start of each round: {', '.join(f'{x:.1f}' for x in loads)}")
    print(f"\nMedians of {args.rounds} round(s), {args.connections} connections, {args.seconds:g} s per endpoint, "
          f"{args.contracts:,} contracts, machine: {machine()}\n")
    print("| gunicorn | endpoint | req/s | p50 ms | p99 ms | p99.9 ms | Little N/X ms | non-2xx | "
          "CPU ms/req gunicorn + PostgreSQL | target p99 | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for config, per_endpoint in all_results.items():
        for endpoint, results in per_endpoint.items():
            med = lambda f: statistics.median(f(r) for r in results)  # noqa: E731
            rps = med(lambda r: r["rps"])
            p50 = med(lambda r: r["latency_us"]["p50"]) / 1000
            p99 = med(lambda r: r["latency_us"]["p99"]) / 1000
            p999 = med(lambda r: r["latency_us"]["p999"]) / 1000
            cpu = med(lambda r: 1000 * r["server_cpu"] / max(1, r["requests"]))
            py_cpu = med(lambda r: 1000 * r["python_cpu"] / max(1, r["requests"]))
            pg_cpu = med(lambda r: 1000 * r["pg_cpu"] / max(1, r["requests"]))
            errors = sum(r["non2xx"] for r in results)
            target = TARGET_MS[endpoint]
            verdict = "met" if p99 <= target else "NOT met"
            summary[(config, endpoint)] = {"rps": rps, "p50": p50, "p99": p99, "p999": p999, "cpu": cpu,
                                           "cpu_gunicorn": py_cpu, "cpu_postgresql": pg_cpu}
            print(f"| {config} | {endpoint} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {p999:.1f} | "
                  f"{1000 * args.connections / rps:.1f} | {errors} | {py_cpu:.1f} + {pg_cpu:.1f} | ≤ {target:.0f} | {verdict} |")
    print("\nJSON " + json.dumps({f"{c}/{e}": v for (c, e), v in summary.items()}))
    if problems:
        print("\nERRORS:\n  " + "\n  ".join(problems), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
