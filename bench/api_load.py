"""The API under load: gunicorn + PostgreSQL with 100,000 contracts, wrk in another process.

By default (issue 21) the reads are measured against a bare WSGI app replaying the same
SQL through psycopg under the same gunicorn (bench/api_load/bare_app.py): throughput with
wrk, p99 at a fixed rate with an open-loop generator (bench/api_load/openloop.py), while
``agrega worker`` converges background activations on the EXA sandbox (20 ms); targets
p99 ≤ 1.5× and throughput ≥ 0.6× the bare app's (bench/README.md, "api_load"), with each
side's server CPU per request beside them. Before measuring, every side is asked the first
``--check-answers`` paths of each read: Agrega's answers must be the bytes it gave when its
SQL was recorded, and the bare app's rows the data of those answers, or the bench stops.
``--closed`` is the earlier mode described below.

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
import pickle
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

import summary  # noqa: E402  (the summary lines bench/all.py reads)
import synthetic  # noqa: E402  (bench/synthetic.py: dataset, server URL, /proc CPU)

os.environ.setdefault("AGREGA_EGRESS_ALLOW", "127.0.0.1/32")  # the EXA sandbox, for the worker

LUA_DIR = ROOT / "bench" / "api_load"
VENV_BIN = Path(sys.executable).parent
BASE_VERSION = 2  # 2: pré-contratos for customers without the EXA product
READS = ("contract_list", "contract_detail", "customer_search")
ACTIONS = ("activate", "block")
ENDPOINTS = READS + ACTIONS
TARGET_MS = {**{e: 50.0 for e in READS}, **{e: 100.0 for e in ACTIONS}}
OPERATOR = "bench-operador"


# ---------------------------------------------------------------- databases

def django_env(database: str) -> dict:
    # PYTHONPATH: this tree's agrega (the package is installed editable from another
    # checkout; bench/ab.py runs an older tree's copy of this file)
    return {**os.environ, "DATABASE_URL": synthetic.db_url(database), "DJANGO_SETTINGS_MODULE": "agrega.settings",
            "AGREGA_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}


def tagged(name: str) -> str:
    """The database's name with ``AGREGA_BENCH_DB_TAG`` (bench/ab.py's two trees apart)."""
    return f"{name}_{synthetic.DB_TAG}" if synthetic.DB_TAG else name


def ensure_base(contracts: int, precontracts: int) -> str:
    """``agrega_apiload_base_<size>``: the dataset plus an operator and pré-contratos,
    made once (through the services, like any entry point) and reused."""
    template = synthetic.ensure_dataset(contracts)
    name = tagged(f"agrega_apiload_base_{synthetic.label(contracts)}")
    wanted = {"version": BASE_VERSION, "contracts": contracts, "precontracts": precontracts,
              "template_rows": synthetic.marker(template).get("rows"),
              "template_version": synthetic.marker(template).get("version")}
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
    from django.db import connection

    # EXA allows one account per customer: customers that hold no contract with that product
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM customers_customer WHERE id NOT IN (SELECT c.customer_id FROM "
                       "contracts_contract c JOIN contracts_contractproduct cp ON cp.contract_id = c.id "
                       "WHERE cp.product_id = %s) ORDER BY id", [sva.pk])
        customer_ids = [r[0] for r in cursor.fetchall()]
    if len(customer_ids) < precontracts:
        raise SystemExit(f"only {len(customer_ids)} customers without {sva.name}: lower --precontracts")
    rng = random.Random(7)
    chosen = rng.sample(customer_ids, precontracts)
    start = time.perf_counter()
    for batch in range(0, precontracts, 500):
        with transaction.atomic():
            for n in range(batch, min(batch + 500, precontracts)):
                contract = contract_services.contract_create(customer_id=chosen[n], actor=user,
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


TRACE: dict = {"folder": None}  # --trace: where the servers' workers write (bench/api_load/trace_conf.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn (or granian) with production settings (DEBUG off, persistent connections)
    on 127.0.0.1."""

    def __init__(self, database: str, config: str, log: Path, source: Path | None = None,
                 app: str = "agrega.wsgi:application", extra_env: dict | None = None):
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
            command = [str(VENV_BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{self.port}",
                       "--workers", workers, "--worker-class", kind, "--backlog", "2048",
                       "--timeout", "60", "--error-logfile", str(log), "--log-level", "warning"]
            if threads:
                command += ["--threads", threads]
            if TRACE["folder"] is not None:  # --trace: the workers log connections, collections, slow requests
                command += ["-c", str(LUA_DIR / "trace_conf.py")]
        env = {**os.environ, "DATABASE_URL": synthetic.db_url(database), "DJANGO_SETTINGS_MODULE": "agrega.settings",
               "AGREGA_DEBUG": "0", "AGREGA_SECRET_KEY": os.urandom(24).hex(),
               "AGREGA_ALLOWED_HOSTS": "127.0.0.1"}
        env.pop("AGREGA_LOG_LEVEL", None)  # production default (INFO)
        # this tree's code, or another copy (A/B): first on sys.path, before the editable install
        env["PYTHONPATH"] = str(source or ROOT)
        if app != "agrega.wsgi:application":  # the bare baseline (bench/api_load/bare_app.py)
            env["PYTHONPATH"] = str(LUA_DIR)
        env.update(extra_env or {})
        if TRACE["folder"] is not None:
            env.update(APILOAD_TRACE=str(TRACE["folder"]), APILOAD_TRACE_LABEL=log.stem.removeprefix("gunicorn-"))
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(command, env=env, cwd=source or ROOT, stderr=self._log)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180  # a loaded machine (load 30) took over a minute to boot gunicorn
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()  # else an orphaned gunicorn holds the output pipe of whoever ran the bench
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
    name = tagged("agrega_apiload_run")
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


# ---------------------------------------------------------------- ratio mode (issue 21): Agrega vs a bare app

P99_RATIO_TARGET = 1.5  # Agrega's p99 at most 1.5× the bare app's, at the same fixed rate
RPS_RATIO_TARGET = 0.6  # Agrega's throughput at least 0.6× the bare app's


def search_paths(documents: list[str], names: list[str], rng: random.Random, count: int) -> list[str]:
    """Customer search as operators type it: half a CPF (punctuated or bare), half name
    fragments — a word of the name and the start of its number ("sintético 4242"), served
    by the trigram index on the folded name (customers 0004)."""
    found = []
    for _ in range(count):
        if rng.random() < 0.5:
            d = rng.choice(documents)
            q = f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}" if rng.random() < 0.5 else d
        else:
            words = rng.choice(names).split()
            number = words[-1] if words[-1].isdigit() else ""
            q = f"{rng.choice(words[:-1] or words).lower()} {number[:max(3, len(number) - 1)]}".strip()
        found.append("/api/customers?" + urllib.parse.urlencode({"q": q}))
    return found


def ratio_paths(database: str, folder: Path, *, per_endpoint: int, seed: int) -> dict[str, int]:
    import psycopg

    rng = random.Random(seed)
    with psycopg.connect(synthetic.db_url(database)) as conn:
        contract_ids = [r[0] for r in conn.execute("SELECT id FROM contracts_contract")]
        pre = [r[0] for r in conn.execute("SELECT id FROM contracts_contract WHERE status = 'P'")]
        customers = conn.execute("SELECT document, name FROM customers_customer").fetchall()
    paths = {
        "contract_list": [f"/api/contracts?cursor={rng.choice(contract_ids)}&limit=50" for _ in range(per_endpoint)],
        "contract_detail": [f"/api/contracts/{rng.choice(contract_ids)}" for _ in range(per_endpoint)],
        "customer_search": search_paths([c[0] for c in customers], [c[1] for c in customers], rng, per_endpoint),
    }
    rng.shuffle(pre)
    paths["activate"] = [f"/api/contracts/{i}/activate" for i in pre]
    counts = {}
    for endpoint, lines in paths.items():
        (folder / f"{endpoint}.txt").write_text("\n".join(lines) + "\n")
        counts[endpoint] = len(lines)
    return counts


def run_openloop(url: str, paths: Path, token: str, *, rate: float, seconds: float, connections: int,
                 method: str = "GET", unique: bool = False) -> subprocess.Popen:
    command = [sys.executable, str(LUA_DIR / "openloop.py"), "--url", url, "--paths", str(paths), "--rate", str(rate),
               "--seconds", str(seconds), "--connections", str(connections), "--token", token, "--method", method]
    if unique:
        command.append("--unique")
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def openloop_result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"openloop failed ({proc.returncode}): {out[-2000:]}")
    return json.loads(lines[-1])


def record_child(paths_file: str, token: str, out: str) -> None:
    import django

    django.setup()
    import bare_app

    paths = [p for p in Path(paths_file).read_text().splitlines() if p]
    print(json.dumps(bare_app.record(paths, token, out)), flush=True)


def ratio_round(base: str, args, round_no: int, folder: Path) -> dict[str, dict]:
    """One round: the run copy, the EXA sandbox (20 ms) and `agrega worker` converging the
    activations sent in the background; per read endpoint, Agrega and the bare app (order
    alternating by round) each measured for throughput (wrk, closed loop, 20 connections)
    and for latency (open loop at ``--rate``)."""
    from exa_sandbox.testing import SandboxAdmin, SandboxProcess

    name = tagged("agrega_apiload_run")
    round_start = time.time()
    if args.trace:
        TRACE["folder"] = folder / f"trace-{round_no}"
        TRACE["folder"].mkdir()
    copy_seconds = synthetic.clone(base, name)
    results: dict[str, dict] = {}
    servers: list[Server] = []
    worker = None
    sandbox = SandboxProcess(args=["--latency-ms", str(args.latency_ms), "--log-level", "warning"])
    try:
        sandbox.start()
        SandboxAdmin(sandbox.url).create_partner("bench", "bench", "bench")
        env = django_env(name)
        migrated = subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, cwd=ROOT,
                                  capture_output=True, text=True)
        if migrated.returncode != 0:
            raise SystemExit(f"migrate failed:\n{migrated.stderr}")
        import psycopg

        with psycopg.connect(synthetic.db_url(name), autocommit=True) as db:
            db.execute("UPDATE integrations_svaintegration SET base_url = %s, updated_at = now()", [sandbox.url])
        counts = ratio_paths(name, folder, per_endpoint=args.paths, seed=round_no)
        token = subprocess.run([str(VENV_BIN / "agrega"), "create_token", OPERATOR, "--name", "api_load"],
                               env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
        # the statements Agrega runs for every read path, for the bare app (one file, all endpoints)
        reads = [e for e in args.endpoints if e in READS]
        all_reads = folder / "reads.txt"
        all_reads.write_text("".join((folder / f"{e}.txt").read_text() for e in reads))
        statements = folder / "statements.pickle"
        rec_env = {**env, "PYTHONPATH": f"{LUA_DIR}{os.pathsep}{ROOT}", "AGREGA_DEBUG": "0", "AGREGA_ALLOWED_HOSTS": "127.0.0.1,testserver"}
        recorded = subprocess.run([sys.executable, __file__, "--record-child", str(all_reads), token, str(statements)],
                                  env=rec_env, cwd=ROOT, capture_output=True, text=True)
        if recorded.returncode != 0:
            raise SystemExit(f"recording failed:\n{recorded.stdout[-2000:]}\n{recorded.stderr[-3000:]}")
        rec = json.loads(recorded.stdout.strip().splitlines()[-1])
        worker_env = {**env, "AGREGA_LOG_LEVEL": "WARNING"}
        worker = subprocess.Popen([str(VENV_BIN / "agrega"), "worker", "--no-jobs"], env=worker_env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=open(folder / "worker.log", "ab"))
        agrega = Server(name, args.configs.split(",")[0], folder / "gunicorn-agrega.log")
        servers.append(agrega)
        # The background activations go to an Agrega server of their own (one sync worker),
        # measured by neither side: the machine carries the same background for every side,
        # and no measured server's workers serve a request the bare app never sees (until
        # 2026-12-07 they went to the measured Agrega, whose CPU per read and p99 included them).
        if args.background_server == "separate":
            background_server = Server(name, "sync:1", folder / "gunicorn-background.log")
            servers.append(background_server)
        else:
            background_server = agrega
        bare = Server(name, args.configs.split(",")[0], folder / "gunicorn-bare.log", app="bare_app:application",
                      extra_env={"APILOAD_BARE_STATEMENTS": str(statements), "APILOAD_TOKEN": token})
        servers.append(bare)
        print(f"  [round {round_no}] copy {copy_seconds:.1f}s; {rec['paths']:,} read paths recorded "
              f"({rec['min']}–{rec['max']} statements each); pré-contratos {counts['activate']:,}; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        for server in servers:  # warm every worker on a read that is not measured
            run_wrk(server, "contract_detail", folder / "contract_detail.txt", token, seconds=args.warmup,
                    connections=args.connections, threads=args.threads)
        sides = [("agrega", agrega), ("bare", bare)]
        for label, (_, extra, source) in variants(args).items():  # A/B: another setting, or another tree
            other = Server(name, args.configs.split(",")[0], folder / f"gunicorn-{label}.log", source,
                           extra_env=extra)
            servers.append(other)
            sides.append((label, other))
            run_wrk(other, "contract_detail", folder / "contract_detail.txt", token, seconds=args.warmup,
                    connections=args.connections, threads=args.threads)
        checked = check_answers(sides, statements, token, reads, folder, per_endpoint=args.check_answers)
        print(f"  [round {round_no}] answers checked: {checked}", flush=True)
        shift = (round_no - 1) % len(sides)  # each side goes first in turn
        sides = sides[shift:] + sides[:shift]
        activations_sent = 0
        windows: list[tuple] = []  # the open loops: endpoint, side, start, end (wall clock), slowest requests

        def with_background(measure):
            """``measure()`` while activations go to Agrega at --actions-rate (each pré-contrato
            once: the file is consumed from the front), converged by the worker."""
            nonlocal activations_sent
            background = run_openloop(background_server.url, folder / "activate.txt", token, rate=args.actions_rate,
                                      seconds=args.seconds + 0.5, connections=2, method="POST", unique=True)
            got = measure()
            bg = openloop_result(background)
            activations_sent += bg["ok"]
            consume(folder / "activate.txt", bg["due"])
            return got, bg

        for endpoint in reads:
            results[endpoint] = {side: {} for side, _ in sides}
            for side, server in sides:  # throughput: closed loop, as many requests as answered
                cpu_before = server_cpu(server.proc.pid, name)
                capacity, bg = with_background(lambda: run_wrk(
                    server, endpoint, folder / f"{endpoint}.txt", token, seconds=args.seconds,
                    connections=args.connections, threads=args.threads))
                cpu_after = server_cpu(server.proc.pid, name)
                # CPU per request of the server's processes (and of all the database's backends,
                # the worker's included: the same background for every side), from /proc:
                # far steadier than req/s on a loaded machine
                served = max(1, capacity["requests"])
                results[endpoint][side].update(
                    rps=capacity["requests"] / (capacity["duration_us"] / 1e6), capacity_non2xx=capacity["non2xx"],
                    cpu_ms=1000 * cpu_delta(cpu_before[0], cpu_after[0]) / served,
                    pg_cpu_ms=1000 * cpu_delta(cpu_before[1], cpu_after[1]) / served,
                    background_ok=bg["ok"], background_due=bg["due"])
            # latency: the same fixed rate for both, by default half of what Agrega answered closed-loop
            rate = args.rate or max(5.0, round(args.rate_share * results[endpoint]["agrega"]["rps"]))
            for side, server in sides:
                latency, bg = with_background(lambda: openloop_result(run_openloop(
                    server.url, folder / f"{endpoint}.txt", token, rate=rate, seconds=args.seconds,
                    connections=args.connections)))
                windows.append((endpoint, side, latency["started_at"], latency["started_at"] + latency["seconds"],
                                latency["worst"], latency["generator_late_ms"]))
                r = results[endpoint][side]
                r.update(rate=rate, p50=latency["latency_ms"]["p50"], p99=latency["latency_ms"]["p99"],
                         p999=latency["latency_ms"]["p999"], answered=latency["answered"], due=latency["due"],
                         non2xx=latency["non2xx"], errors=latency["errors"], rate_answered=latency["rate_answered"],
                         generator_cpu=latency["generator_cpu"], background_ok=r["background_ok"] + bg["ok"],
                         background_due=r["background_due"] + bg["due"])
            for side, _ in sides:
                r = results[endpoint][side]
                print(f"    {endpoint:16} {side:6} closed loop {r['rps']:7.1f} req/s, CPU {r['cpu_ms']:.2f} ms/req "
                      f"(+ PostgreSQL {r['pg_cpu_ms']:.2f}); open loop {rate:g}/s: "
                      f"p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms  p99.9 {r['p999']:6.1f} ms "
                      f"({r['answered']}/{r['due']} answered, non-2xx {r['non2xx'] + r['capacity_non2xx']}); "
                      f"background activations {r['background_ok']}/{r['background_due']} 2xx; "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
        if TRACE["folder"] is not None:
            print_trace(windows, round_start)
        converged = wait_converged(name, activations_sent, timeout=60)
        on_sandbox = len(SandboxAdmin(sandbox.url).users("bench"))
        results["_background"] = {"activations": activations_sent, "users_on_sandbox": on_sandbox, **converged}
        print(f"    background: {activations_sent} activations answered 2xx; worker left "
              f"{converged['pending_sva_work']} SVA work pending; {on_sandbox} users on the EXA sandbox", flush=True)
        if converged["pending_sva_work"] or on_sandbox < activations_sent:
            raise SystemExit(f"the worker did not converge the activations: {results['_background']}")
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        for server in servers:
            server.stop()
        sandbox.stop()
        synthetic.drop(name)
    return results


def print_trace(windows: list[tuple], round_start: float) -> None:
    """--trace: for each open-loop window, its slowest requests as the client saw them, how late
    the load generator itself was at most (its own stall, not the server's), and what every
    server's workers logged meanwhile (new database connections, collections over 5 ms,
    requests over 50 ms), times in seconds since the round began."""
    events = []
    for file in sorted(Path(TRACE["folder"]).glob("*.jsonl")):
        server = file.name.split(".")[0]
        for line in file.read_text().splitlines():
            event = json.loads(line)
            events.append((event.pop("t"), server, event))
    events.sort(key=lambda e: e[0])
    for endpoint, side, start, end, worst, (late_ms, late_at) in windows:
        print(f"    trace {endpoint} {side} [{start - round_start:.1f}–{end - round_start:.1f} s]: slowest "
              + ", ".join(f"{ms:g} ms at +{at:.2f} s" for at, ms in worst)
              + f"; the generator itself at most {late_ms:g} ms late (+{late_at:.2f} s)", flush=True)
        for t, server, event in events:
            if start - 0.5 <= t <= end:
                detail = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("kind", "pid"))
                print(f"      {t - start:+6.2f} s {server}[{event['pid']}] {event['kind']} {detail}", flush=True)


def check_answers(sides: list[tuple[str, Server]], statements: Path, token: str, reads: list[str], folder: Path,
                  *, per_endpoint: int) -> str:
    """A faster wrong answer must not pass: for the first ``per_endpoint`` paths of each
    read, Agrega's server must answer the very bytes Agrega answered when its statements
    were recorded, so must every variant (another setting or tree), and the bare app's
    rows must be the data of that answer (``bare_app.same_answers``: the same ids in the
    same order, the fields both name equal). Any difference stops the bench."""
    sys.path.insert(0, str(LUA_DIR))
    import bare_app

    with open(f"{statements}.answers", "rb") as fh:
        recorded = pickle.load(fh)
    problems, count = [], 0
    for endpoint in reads:
        paths = [p for p in (folder / f"{endpoint}.txt").read_text().splitlines() if p][:per_endpoint]
        for path in paths:
            count += 1
            answers = {}
            for side, server in sides:
                request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {token}"})
                with urllib.request.urlopen(request, timeout=60) as answer:
                    answers[side] = answer.read()
            for side, body in answers.items():
                if side != "bare" and body != recorded[path]:
                    problems.append(f"{side} {path}: not the bytes recorded ({body[:120]!r} vs {recorded[path][:120]!r})")
            problems += [f"bare {path}: {p}" for p in bare_app.same_answers(json.loads(recorded[path]),
                                                                            json.loads(answers["bare"]))]
    if problems:
        raise SystemExit("answers differ:\n  " + "\n  ".join(problems[:20]))
    return f"{count} paths, {len(sides)} sides, the same data"


def variants(args) -> dict[str, tuple[str, dict, Path | None]]:
    """Agrega served again with another setting or another tree's code, measured beside
    the default: label -> (title, environment, source tree or None)."""
    found = {}
    if args.prepared_variant:
        found["agrega_prepared"] = (f"prepared statements (threshold {args.prepared_variant})",
                                    {"AGREGA_DB_PREPARE_THRESHOLD": str(args.prepared_variant)}, None)
    if args.token_cache_variant:
        found["agrega_token_cache"] = (f"token cached {args.token_cache_variant:g} s",
                                       {"AGREGA_API_TOKEN_CACHE_SECONDS": str(args.token_cache_variant)}, None)
    if args.source_variant:
        found["agrega_source"] = (f"code of {args.source_variant}", {}, args.source_variant)
    for spec in args.env_variant:  # NAME:K=V,K=V
        label, _, assignments = spec.partition(":")
        env = dict(pair.split("=", 1) for pair in assignments.split(",") if pair)
        if not label.isidentifier() or not env:
            raise SystemExit(f"--env-variant NAME:KEY=VALUE[,KEY=VALUE], not {spec!r}")
        found[f"agrega_{label}"] = (", ".join(f"{k}={v}" for k, v in env.items()), env, None)
    return found


def consume(paths: Path, count: int) -> None:
    """Drop the first ``count`` paths (sent already: each activation goes once)."""
    lines = paths.read_text().splitlines()
    paths.write_text("\n".join(lines[count:]) + "\n")


def wait_converged(database: str, activated: int, timeout: float) -> dict:
    """The worker's side of the background: SVA work still pending, and the users it
    confirmed on the sandbox, once the pending queue is empty (or ``timeout``)."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(synthetic.db_url(database), autocommit=True) as db:
        while True:
            pending = db.execute("SELECT count(*) FROM sva_svapendingwork").fetchone()[0]
            if pending == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return {"pending_sva_work": pending}


def ratio_report(all_results: list[dict[str, dict]], args) -> list[str]:
    """The table and the summary lines: medians over the rounds."""
    med = statistics.median
    print(f"\nAgrega vs the bare app (same gunicorn {args.configs.split(',')[0]}, same SQL through psycopg), "
          f"medians of {len(all_results)} round(s); throughput: wrk closed loop, {args.connections} connections, "
          f"{args.seconds:g} s; latency: open loop at {f'{args.rate:g} req/s' if args.rate else f'{args.rate_share:g} × Agrega throughput'}, {args.connections} connections; "
          f"background: activations at {args.actions_rate:g}/s converged by `agrega worker` against the EXA "
          f"sandbox at {args.latency_ms:g} ms\n")
    print("| endpoint | Agrega req/s | bare req/s | throughput ratio (≥ 0.6) | open-loop rate | Agrega p50 / p99 ms | "
          "bare p50 / p99 ms | p99 ratio (≤ 1.5) | verdict | server CPU ms/req Agrega / bare | bare ÷ Agrega CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    problems, lines = [], []
    for endpoint in [e for e in READS if e in all_results[0]]:
        rows = [r[endpoint] for r in all_results]
        a = {k: med(r["agrega"][k] for r in rows) for k in ("rps", "p50", "p99")}
        b = {k: med(r["bare"][k] for r in rows) for k in ("rps", "p50", "p99")}
        rps_ratio = med(r["agrega"]["rps"] / r["bare"]["rps"] for r in rows)
        p99_ratio = med(r["agrega"]["p99"] / r["bare"]["p99"] for r in rows)
        ok = rps_ratio >= RPS_RATIO_TARGET and p99_ratio <= P99_RATIO_TARGET
        cpu = {side: med(r[side]["cpu_ms"] for r in rows) for side in ("agrega", "bare")}
        cpu_ratio = med(r["bare"]["cpu_ms"] / max(1e-9, r["agrega"]["cpu_ms"]) for r in rows)
        print(f"| {endpoint} | {a['rps']:.0f} | {b['rps']:.0f} | {rps_ratio:.2f} | "
              f"{med(r['agrega']['rate'] for r in rows):g}/s | {a['p50']:.1f} / {a['p99']:.1f} | "
              f"{b['p50']:.1f} / {b['p99']:.1f} | {p99_ratio:.2f} | {summary.verdict(ok)} | "
              f"{cpu['agrega']:.2f} / {cpu['bare']:.2f} | {cpu_ratio:.2f} |")
        for label, (title, _, _) in variants(args).items():
            v = {k: med(r[label][k] for r in rows) for k in ("rps", "p50", "p99")}
            v_rps = med(r[label]["rps"] / r["bare"]["rps"] for r in rows)
            v_p99 = med(r[label]["p99"] / r["bare"]["p99"] for r in rows)
            v_ok = v_rps >= RPS_RATIO_TARGET and v_p99 <= P99_RATIO_TARGET
            v_cpu = med(r[label]["cpu_ms"] for r in rows)
            v_cpu_ratio = med(r["bare"]["cpu_ms"] / max(1e-9, r[label]["cpu_ms"]) for r in rows)
            print(f"| {endpoint}, {title} | {v['rps']:.0f} | "
                  f"{b['rps']:.0f} | {v_rps:.2f} | {med(r['agrega']['rate'] for r in rows):g}/s | "
                  f"{v['p50']:.1f} / {v['p99']:.1f} | {b['p50']:.1f} / {b['p99']:.1f} | {v_p99:.2f} | "
                  f"{summary.verdict(v_ok)} | {v_cpu:.2f} / {cpu['bare']:.2f} | {v_cpu_ratio:.2f} |")
        for r in rows:
            for side in r:
                x = r[side]
                if x["non2xx"] or x["capacity_non2xx"] or any(x["errors"].values()) or x["answered"] < x["due"]:
                    problems.append(f"{endpoint} {side}: non-2xx {x['non2xx'] + x['capacity_non2xx']}, "
                                    f"errors {x['errors']}, answered {x['answered']}/{x['due']}")
                if x["background_ok"] < x["background_due"]:
                    problems.append(f"background activations during {endpoint} {side}: "
                                    f"{x['background_ok']}/{x['background_due']} 2xx")
        rate = med(r["agrega"]["rate"] for r in rows)
        lines.append(summary.line(f"api_load {endpoint} p99 (open loop {rate:g}/s)", figure=a["p99"],
                                  baseline=b["p99"], ratio=p99_ratio, target=f"≤ {P99_RATIO_TARGET}", unit="ms",
                                  verdict=summary.verdict(p99_ratio <= P99_RATIO_TARGET)))
        lines.append(summary.line(f"api_load {endpoint} throughput", figure=a["rps"], baseline=b["rps"],
                                  ratio=rps_ratio, target=f"≥ {RPS_RATIO_TARGET}", unit="req/s",
                                  verdict=summary.verdict(rps_ratio >= RPS_RATIO_TARGET)))
    background = [r["_background"] for r in all_results]
    print(f"\nbackground per round: {background}; load average (1 min) now {os.getloadavg()[0]:.2f}\n")
    print("\n".join(lines), flush=True)
    return problems


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
    parser.add_argument("--paths", type=int, default=None,
                        help="request paths per read endpoint (default 50,000; 2,000 in the ratio mode, "
                             "where each is recorded for the bare app)")
    parser.add_argument("--endpoints", default=None, help="default: the reads (ratio mode), all (--closed)")
    parser.add_argument("--closed", action="store_true",
                        help="the earlier mode: wrk only, absolute targets, reads and actions, no bare app")
    parser.add_argument("--rate", type=float, default=None,
                        help="ratio mode: the open loop's requests/s (default: --rate-share of Agrega's throughput)")
    parser.add_argument("--prepared-variant", type=int, metavar="N", default=0,
                        help="ratio mode: also serve Agrega with AGREGA_DB_PREPARE_THRESHOLD=N (psycopg's "
                             "prepared statements, decision 0009), measured beside the other two")
    parser.add_argument("--token-cache-variant", type=float, metavar="SECONDS", default=0,
                        help="ratio mode: also serve Agrega with AGREGA_API_TOKEN_CACHE_SECONDS=SECONDS")
    parser.add_argument("--source-variant", type=Path, metavar="TREE",
                        help="ratio mode: also serve Agrega from this tree's code (a before/after A/B in one round; "
                             "the database, worker and recorded SQL are this tree's)")
    parser.add_argument("--rate-share", type=float, default=0.5,
                        help="ratio mode: the open loop's rate as a share of Agrega's closed-loop throughput "
                             "measured in the same round (the same rate for the bare app)")
    parser.add_argument("--actions-rate", type=float, default=5.0,
                        help="ratio mode: background activations/s on Agrega (the worker converges them)")
    parser.add_argument("--check-answers", type=int, default=60, metavar="N",
                        help="ratio mode: per read, the first N paths asked of every side before the measure; "
                             "Agrega's answers must be the bytes recorded, the bare app's rows their data")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="ratio mode: the EXA sandbox's latency")
    parser.add_argument("--quick", action="store_true",
                        help="small: 20,000 contracts, 1 round × 2 s per side and step (./run bench all)")
    parser.add_argument("--record-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--background-server", choices=("separate", "agrega"), default="separate",
                        help="ratio mode: where the background activations go — a server of their own "
                             "(default: the same background for every side) or the measured Agrega (before 2026-12-07)")
    parser.add_argument("--profile", choices=ENDPOINTS, help="py-spy record one worker during this endpoint")
    parser.add_argument("--source", type=Path,
                        help="serve the agrega package from this copy of the tree (before/after comparisons)")
    parser.add_argument("--keep-files", action="store_true", help="keep the paths, logs and profiles folder")
    parser.add_argument("--env-variant", action="append", default=[], metavar="NAME:KEY=VALUE[,KEY=VALUE]",
                        help="ratio mode: also serve Agrega with these environment settings (repeatable), e.g. "
                             "age60:AGREGA_DB_CONN_MAX_AGE=60")
    parser.add_argument("--trace", action="store_true",
                        help="ratio mode: the servers' workers log new database connections, collections over 5 ms "
                             "and requests over 50 ms; printed per open-loop window (bench/api_load/trace_conf.py)")
    parser.add_argument("--drop-base", action="store_true", help="drop the base copy (and a stray run copy)")
    parser.add_argument("--prepare-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare_child is not None:
        prepare_child(args.prepare_child)
        return
    if args.record_child:
        record_child(*args.record_child)
        return
    if args.quick:
        args.contracts, args.precontracts, args.rounds, args.seconds, args.warmup = 20_000, 400, 1, 2, 1
        args.paths = args.paths or 150
    if args.paths is None:
        args.paths = 50_000 if args.closed else 2_000
    if args.endpoints is None:
        args.endpoints = ",".join(ENDPOINTS if args.closed else READS)
    if args.drop_base:
        for name in (tagged(f"agrega_apiload_base_{synthetic.label(args.contracts)}"), tagged("agrega_apiload_run")):
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
    if not args.closed:
        if set(args.endpoints) - set(READS):
            raise SystemExit("the ratio mode measures the reads; the actions run in the background (--closed for wrk)")
        rounds = []
        try:
            for round_no in range(1, args.rounds + 1):
                rounds.append(ratio_round(base, args, round_no, folder))
        finally:
            if args.keep_files:
                print(f"files kept in {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
        print(f"\nuptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        problems = ratio_report(rounds, args)
        if problems:
            print("\nERRORS:\n  " + "\n  ".join(problems), file=sys.stderr)
            raise SystemExit(1)
        return
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
