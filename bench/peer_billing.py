"""Agrega's billing run against a peer ERP, Tryton, on the same workload, in one run.

N customers, each with one monthly subscription of two services (two of the synthetic
SVA products: R$ 9,90 and R$ 19,90), running since before December 2026 and not yet
billed for it. For each N, in the same run and on the same PostgreSQL server:

* Agrega: ``billing_run(period=12/2026)`` in a child process (Django set up before the
  clock), on a fresh copy of a database built with Agrega's migrations and services;
  checked with bench/billing_run.py's independent SQL plus N títulos, 2N lines and
  N × R$ 29,80.
* Tryton 8.2 (trytond + sale_subscription + account_invoice, installed from PyPI into
  bench/peers/.venv-tryton by bench/peers/install_tryton.sh): the subscription module's
  two batch jobs for the period — create consumptions, then create invoices — driven by
  bench/peers/tryton_driver.py in the Tryton venv (pool loaded before the clock), on a
  fresh copy of a database set up through Tryton's own wizards and ORM; checked for N
  draft invoices of two lines adding up to R$ 29,80, 2N consumptions invoiced.

Every repetition starts from the same un-invoiced state (``CREATE DATABASE … TEMPLATE``;
copies dropped afterwards); the order of the two sides alternates between repetitions.

    ./run bench peer_billing --customers 2000 10000 --repeat 3
    ./run bench peer_billing --drop-all     # drop this bench's agrega_tryton_* databases

Target (issue 6): Agrega at least 20× faster.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import billing_run  # noqa: E402  (its independent expected/verify SQL)
import synthetic  # noqa: E402  (child process, CPU readings, BILL_PERIOD, SVA prices)

TARGET_RATIO = 20.0
PEERS = HERE / "peers"
TRYTON_PYTHON = PEERS / ".venv-tryton" / "bin" / "python"
PREFIX = "agrega_tryton_"
# Bump when what either side's template holds changes: templates are rebuilt then.
WORKLOAD_VERSION = 1
SERVICES = synthetic.SVA[:2]  # (name, price, EXA package)
PER_CUSTOMER = sum(Decimal(price) for _, price, _ in SERVICES)


# ---------------------------------------------------------------- databases

def set_marker(name: str, params: dict) -> None:
    import psycopg

    with psycopg.connect(synthetic.db_url(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_peer_dataset (params jsonb NOT NULL, "
                     "created_at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO bench_peer_dataset (params) VALUES (%s::jsonb)", [json.dumps(params)])
        conn.execute("VACUUM (FREEZE, ANALYZE)")
        conn.execute("CHECKPOINT")


def tryton_version() -> str:
    return subprocess.run([str(TRYTON_PYTHON), "-c", "import trytond; print(trytond.__version__)"],
                          check=True, capture_output=True, text=True).stdout.strip()


# ---------------------------------------------------------------- the two workloads

def ensure_agrega(customers: int) -> str:
    """The Agrega template for N customers: built once, then reused (migrated first)."""
    name = f"{PREFIX}agrega_{customers}"
    wanted = {"side": "agrega", "customers": customers, "version": WORKLOAD_VERSION}
    env = {**os.environ, "DATABASE_URL": synthetic.db_url(name), "DJANGO_SETTINGS_MODULE": "agrega.settings",
           "AGREGA_LOG_LEVEL": "WARNING"}
    have = synthetic.marker(name, "bench_peer_dataset")
    if have is not None and {k: have.get(k) for k in wanted} == wanted:
        subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, cwd=HERE.parent, check=True)
        return name
    synthetic.drop(name)
    with synthetic.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--generate-agrega", name, "--customers", str(customers)],
                   env=env, cwd=HERE.parent, check=True)
    set_marker(name, wanted)
    print(f"  agrega template {name}: built in {time.perf_counter() - start:.0f}s", flush=True)
    return name


def generate_agrega(name: str, customers: int) -> None:
    """N customers, one active contract each with the two SVA products at the catalogue
    price, activated on 20/11/2026 (before the billed month), nothing billed yet. The
    catalogue through Agrega's services; the N rows through core.bulk (COPY)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from agrega.catalog.services import product_create
    from agrega.contracts.models import Contract, ContractProduct
    from agrega.core.br import make_cpf
    from agrega.core.bulk import insert_returning
    from agrega.customers.models import Customer
    from agrega.integrations.services import integration_create

    call_command("migrate", verbosity=0)
    integration = integration_create(
        name="EXA bench", platform="exa", base_url="http://127.0.0.1:9/exa", prefix="bench",
        auto_create_users=True, timeout_seconds=0.5, credentials={"client_id": "bench", "client_secret": "bench"})
    products = []
    for pname, price, code in SERVICES:
        product, _ = product_create(name=pname, price=price, fiscal_class="SVA",
                                    sva_integration_id=integration.pk, sva_package_code=code)
        products.append(product.pk)
    activated = datetime(2026, 11, 20, 10, tzinfo=synthetic.TZ)
    created = activated - timedelta(days=3)
    with transaction.atomic():
        customer_ids = [row[0] for row in insert_returning(
            Customer, ["name", "person_type", "document", "email", "mobile_phone", "street", "number", "district",
                       "city", "state", "zip_code", "created_at", "updated_at"],
            [(f"Cliente Sintético {c}", "F", make_cpf(c), f"cliente{c}@bench.example.com",
              f"+55119{c:08d}", "Rua das Flores", str(c % 2000 + 1), "Centro", "São Paulo", "SP", "01001000",
              created, created) for c in range(1, customers + 1)])]
        contract_ids = [row[0] for row in insert_returning(
            Contract, ["customer", "status", "access_status", "billing_day", "description", "version",
                       "dunning_level", "activated_at", "created_at", "updated_at"],
            [(cid, "A", "A", synthetic.BILLING_DAYS[n % len(synthetic.BILLING_DAYS)], "", 1, 0, activated,
              created, activated) for n, cid in enumerate(customer_ids)])]
        insert_returning(ContractProduct, ["contract", "product", "kind", "price", "added_at"],
                         [(cid, pid, "SVA", None, activated) for cid in contract_ids for pid in products],
                         returning=())


def ensure_tryton(customers: int) -> str:
    """The Tryton template for N customers: a copy of agrega_tryton_base (made by
    install_tryton.sh) set up by the driver; built once, then reused."""
    name = f"{PREFIX}t_{customers}"
    if subprocess.run([str(PEERS / "install_tryton.sh")]).returncode:  # quick when already done
        raise SystemExit("bench/peers/install_tryton.sh failed")
    version = tryton_version()
    wanted = {"side": "tryton", "customers": customers, "version": WORKLOAD_VERSION, "tryton": version,
              "driver": _driver_digest()}
    have = synthetic.marker(name, "bench_peer_dataset")
    if have is not None and {k: have.get(k) for k in wanted} == wanted:
        return name
    start = time.perf_counter()
    synthetic.clone(f"{PREFIX}base", name)
    try:
        subprocess.run([str(TRYTON_PYTHON), str(PEERS / "tryton_driver.py"), "setup", "--db", name,
                        "--customers", str(customers)], check=True, stdout=subprocess.DEVNULL)
    except BaseException:
        synthetic.drop(name)
        raise
    set_marker(name, wanted)
    print(f"  tryton template {name}: set up in {time.perf_counter() - start:.0f}s", flush=True)
    return name


def _driver_digest() -> str:
    import hashlib

    source = (PEERS / "tryton_driver.py").read_text()
    setup_part = source[source.index("def setup("):source.index("def invoice(")]
    return hashlib.sha1(setup_part.encode()).hexdigest()[:12]


# ---------------------------------------------------------------- one measurement each

def agrega_child() -> None:
    """Runs inside the measured process: Django, then billing_run alone is timed."""
    import django

    django.setup()
    from agrega.billing.services import billing_run as run_billing

    workers = synthetic.count_worker_backends()
    db_cpu, py_cpu = synthetic.backend_cpu(), synthetic.self_cpu()
    start = time.perf_counter()
    run = run_billing(period=synthetic.BILL_PERIOD, today=synthetic.BILL_PERIOD)
    seconds = time.perf_counter() - start
    py_cpu, db_cpu = synthetic.self_cpu() - py_cpu, synthetic.backend_cpu() - db_cpu + sum(workers)
    print(json.dumps({"seconds": seconds, "run_id": run.pk, "py_cpu": py_cpu, "db_cpu": db_cpu,
                      "invoices": run.invoices_created, "lines": run.lines_created,
                      "total": str(run.total_amount)}), flush=True)


def measure_agrega(template: str, customers: int) -> dict:
    work = f"{template}_run"
    synthetic.clone(template, work)
    try:
        want = billing_run.expected(work)
        got, _ = synthetic.run_child(__file__, [], work)
        problems = billing_run.verify(work, want, got)
        for what, have, should in (("invoices", got["invoices"], customers), ("lines", got["lines"], 2 * customers),
                                   ("total", Decimal(got["total"]), customers * PER_CUSTOMER)):
            if have != should:
                problems.append(f"{what}: {have} (expected {should})")
    finally:
        synthetic.drop(work)
    return {**got, "problems": problems}


def measure_tryton(template: str, customers: int) -> dict:
    work = f"{template}_run"
    synthetic.clone(template, work)
    try:
        proc = subprocess.run([str(TRYTON_PYTHON), str(PEERS / "tryton_driver.py"), "invoice", "--db", work,
                               "--customers", str(customers)], capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if not lines:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"tryton driver failed (exit {proc.returncode})")
        got = json.loads(lines[-1])
    finally:
        synthetic.drop(work)
    return got


# ---------------------------------------------------------------- main

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lock", metavar="FILE",
                        help="flock FILE around each repetition (both sides), released between them: "
                             "the machine-wide bench lock, held < 15 min at N = 10,000")
    parser.add_argument("--drop-all", action="store_true", help="drop this bench's agrega_tryton_* databases")
    parser.add_argument("--generate-agrega", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args()


@contextmanager
def machine_lock(path: str | None):
    if not path:
        yield
        return
    import fcntl

    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def drop_all() -> None:
    with synthetic.admin() as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'agrega\\_tryton\\_%'")]
    for name in names:
        synthetic.drop(name)
        print(f"dropped {name}")


def main() -> None:
    args = parse_args()
    if args.child is not None:
        return agrega_child()
    if args.generate_agrega:
        return generate_agrega(args.generate_agrega, args.customers[0])
    if args.drop_all:
        return drop_all()
    synthetic.stop_cleanly()
    print(f"peer_billing: Agrega billing_run vs Tryton {tryton_version()} sale_subscription, "
          f"period {synthetic.BILL_PERIOD:%m/%Y}, N = {', '.join(f'{n:,}' for n in args.customers)}, "
          f"{args.repeat} repetition(s); 2 cores, shared", flush=True)
    print(f"  before: {uptime()}", flush=True)
    summary = []
    for customers in args.customers:
        agrega_db, tryton_db = ensure_agrega(customers), ensure_tryton(customers)
        rows = []
        for rep in range(1, args.repeat + 1):
            order = ("agrega", "tryton") if rep % 2 else ("tryton", "agrega")
            got = {}
            with machine_lock(args.lock):
                print(f"    {uptime()}", flush=True)
                for side in order:
                    got[side] = (measure_agrega(agrega_db, customers) if side == "agrega"
                                 else measure_tryton(tryton_db, customers))
            a, t = got["agrega"], got["tryton"]
            problems = [f"agrega {p}" for p in a["problems"]] + [f"tryton {p}" for p in t["problems"]]
            ratio = t["seconds"] / a["seconds"]
            rows.append({"agrega": a["seconds"], "tryton": t["seconds"], "ratio": ratio,
                         "agrega_cpu": a["py_cpu"] + a["db_cpu"], "tryton_cpu": t["py_cpu"] + t["db_cpu"],
                         "load": os.getloadavg()[0]})
            print(f"  N={customers:,} #{rep} ({' first, '.join(order)} second): "
                  f"tryton {t['seconds']:8.2f} s (consumptions {t['consumption_seconds']:.2f} + invoices "
                  f"{t['invoice_seconds']:.2f}; cpu python {t['py_cpu']:.1f} + postgres {t['db_cpu']:.1f})  "
                  f"agrega {a['seconds']:6.2f} s (cpu python {a['py_cpu']:.1f} + postgres {a['db_cpu']:.1f})  "
                  f"ratio {ratio:6.1f}x  load {os.getloadavg()[0]:.1f}  "
                  f"[{t['invoices']:,}/{a['invoices']:,} invoices, {t['lines']:,}/{a['lines']:,} lines, "
                  f"R$ {t['total']}/{a['total']}] {'verified' if not problems else 'WRONG: ' + '; '.join(problems)}",
                  flush=True)
            if problems:
                raise SystemExit(1)
        summary.append((customers, rows))
    print(f"  after: {uptime()}", flush=True)
    print("\n| N | Tryton (median) | Agrega (median) | ratio (median of runs) | invoices/s Tryton | "
          "invoices/s Agrega | CPU s Tryton / Agrega (py + pg) | runs |")
    print("|---|---|---|---|---|---|---|---|")
    for customers, rows in summary:
        tryton = statistics.median(r["tryton"] for r in rows)
        agrega = statistics.median(r["agrega"] for r in rows)
        ratio = statistics.median(r["ratio"] for r in rows)
        print(f"| {customers:,} | {tryton:.2f} s | {agrega:.2f} s | **{ratio:.1f}×** | {customers / tryton:,.0f} | "
              f"{customers / agrega:,.0f} | {statistics.median(r['tryton_cpu'] for r in rows):.1f} / "
              f"{statistics.median(r['agrega_cpu'] for r in rows):.1f} | {len(rows)} |")
    worst = min(statistics.median(r["ratio"] for r in rows) for _, rows in summary)
    print(f"\ntarget (Agrega at least {TARGET_RATIO:.0f}x faster): {'met' if worst >= TARGET_RATIO else 'NOT met'} "
          f"(lowest median ratio {worst:.1f}x)")


if __name__ == "__main__":
    main()
