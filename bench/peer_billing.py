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
copies dropped afterwards); the order of the sides alternates between repetitions. Each
side runs two ways: Tryton as deployed and with ``python -O`` (asserts off: its
``ModelStorage.__init__`` assert is quadratic in N), Agrega with its default threads and
with one. The headline ratio is the slower Agrega (one thread) against the faster Tryton.

    ./run bench peer_billing                       # N = 2,000 and 10,000, 3 repetitions
    ./run bench peer_billing --quick               # N = 200, 1 repetition
    ./run bench peer_billing --drop-all            # drop this bench's agrega_tryton_* databases
    ./run bench peer_billing --quick --prepare     # install Tryton, build the N = 200 templates, exit

Tryton is installed by the bench itself on first use (bench/peers/install_tryton.sh:
pinned versions from PyPI into bench/peers/.venv-tryton). Target (issue 21): Agrega at
least 200× faster than the faster Tryton.
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
import summary  # noqa: E402  (the summary line bench/all.py reads)
import synthetic  # noqa: E402  (child process, CPU readings, BILL_PERIOD, SVA prices)

TARGET_RATIO = 200.0
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
                       "city", "state", "zip_code", "created_at", "updated_at", "ibge_code", "ie", "ind_ie_dest"],
            [(f"Cliente Sintético {c}", "F", make_cpf(c), f"cliente{c}@bench.example.com",
              f"+55119{c:08d}", "Rua das Flores", str(c % 2000 + 1), "Centro", "São Paulo", "SP", "01001000",
              created, created, "3550308", "", "9") for c in range(1, customers + 1)])]
        contract_ids = [row[0] for row in insert_returning(
            Contract, ["customer", "status", "access_status", "billing_day", "description", "version",
                       "dunning_level", "activated_at", "created_at", "updated_at"],
            [(cid, "A", "A", synthetic.BILLING_DAYS[n % len(synthetic.BILLING_DAYS)], "", 1, 0, activated,
              created, activated) for n, cid in enumerate(customer_ids)])]
        insert_returning(ContractProduct, ["contract", "product", "kind", "price", "added_at"],
                         [(cid, pid, "SVA", None, activated) for cid in contract_ids for pid in products],
                         returning=())


def install_tryton() -> None:
    """Tryton's venv and base database (bench/peers/install_tryton.sh): installed on the
    first run from a fresh clone, a quick check afterwards."""
    if subprocess.run([str(PEERS / "install_tryton.sh")]).returncode:
        raise SystemExit("bench/peers/install_tryton.sh failed")


def ensure_tryton(customers: int) -> str:
    """The Tryton template for N customers: a copy of agrega_tryton_base (made by
    install_tryton.sh) set up by the driver; built once, then reused."""
    name = f"{PREFIX}t_{customers}"
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

def agrega_child(threads: list[str]) -> None:
    """Runs inside the measured process: Django, then billing_run alone is timed (with
    ``threads`` workers when given, the code's default otherwise)."""
    import django

    django.setup()
    from agrega.core.heap import freeze_startup_heap

    # the process as it bills in production: `agrega tasks worker` (the billing job's task)
    # and `agrega billing run` freeze their start-up heap (AgregaCommand.run_from_argv)
    freeze_startup_heap()
    from agrega.billing.services import billing_run as run_billing

    options = {"workers": int(threads[0])} if threads else {}
    workers = synthetic.count_worker_backends()
    db_cpu, py_cpu = synthetic.backend_cpu(), synthetic.self_cpu()
    start = time.perf_counter()
    run = run_billing(period=synthetic.BILL_PERIOD, today=synthetic.BILL_PERIOD, **options)
    seconds = time.perf_counter() - start
    py_cpu, db_cpu = synthetic.self_cpu() - py_cpu, synthetic.backend_cpu() - db_cpu + sum(workers)
    from django.conf import settings

    print(json.dumps({"seconds": seconds, "run_id": run.pk, "py_cpu": py_cpu, "db_cpu": db_cpu,
                      "first_due_min_days": settings.BILLING_FIRST_DUE_MIN_DAYS,
                      "invoices": run.invoices_created, "lines": run.lines_created,
                      "total": str(run.total_amount)}), flush=True)


def measure_agrega(template: str, customers: int, threads: int | None = None) -> dict:
    work = f"{template}_run"
    synthetic.clone(template, work)
    try:
        want = billing_run.expected(work)
        got, _ = synthetic.run_child(__file__, [] if threads is None else [str(threads)], work)
        # every contract here gets its first título: due at least the notice after issue (billing
        # services' BILLING_FIRST_DUE_MIN_DAYS, reported by the child), which billing_run.py's
        # due-date check knows, and first_due_problems checks once more against the environment
        problems = billing_run.verify(work, want, got) + first_due_problems(work)
        for what, have, should in (("invoices", got["invoices"], customers), ("lines", got["lines"], 2 * customers),
                                   ("total", Decimal(got["total"]), customers * PER_CUSTOMER)):
            if have != should:
                problems.append(f"{what}: {have} (expected {should})")
    finally:
        synthetic.drop(work)
    return {**got, "problems": problems}


def first_due_problems(database: str) -> list[str]:
    import psycopg

    notice = max(0, int(os.environ.get("AGREGA_FIRST_DUE_MIN_DAYS", "5")))
    with psycopg.connect(synthetic.db_url(database)) as conn:
        bad = conn.execute(
            "SELECT count(*) FROM billing_invoice i JOIN contracts_contract c ON c.id = i.contract_id "
            "WHERE i.period = %(period)s AND i.due_date <> greatest(make_date(2026, 12, least(c.billing_day, 31)), "
            "%(period)s::date + %(notice)s)", {"period": synthetic.BILL_PERIOD, "notice": notice}).fetchone()[0]
    return [f"check first due date: {bad}"] if bad else []


def measure_tryton(template: str, customers: int, optimize: bool = False) -> dict:
    work = f"{template}_run"
    synthetic.clone(template, work)
    try:
        python = [str(TRYTON_PYTHON), "-O"] if optimize else [str(TRYTON_PYTHON)]
        proc = subprocess.run([*python, str(PEERS / "tryton_driver.py"), "invoice", "--db", work,
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
    parser.add_argument("--quick", action="store_true", help="N = 200, one repetition (./run bench all --quick)")
    parser.add_argument("--lock", metavar="FILE",
                        help="flock FILE around each repetition (both sides), released between them: "
                             "the machine-wide bench lock, held < 15 min at N = 10,000")
    parser.add_argument("--drop-all", action="store_true", help="drop this bench's agrega_tryton_* databases")
    parser.add_argument("--prepare", action="store_true",
                        help="install Tryton and build both sides' templates for the sizes asked, then exit "
                             "(./run bench all runs it before the timed run)")
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


SIDES = {  # side: what runs it
    "agrega": "Agrega, default threads",
    "agrega-1": "Agrega, one thread",
    "tryton": "Tryton as deployed",
    "tryton-O": "Tryton with python -O",
}


def measure(side: str, agrega_db: str, tryton_db: str, customers: int) -> dict:
    if side == "agrega":
        return measure_agrega(agrega_db, customers)
    if side == "agrega-1":
        return measure_agrega(agrega_db, customers, threads=1)
    return measure_tryton(tryton_db, customers, optimize=side == "tryton-O")


def main() -> None:
    args = parse_args()
    if args.child is not None:
        return agrega_child(args.child)
    if args.generate_agrega:
        return generate_agrega(args.generate_agrega, args.customers[0])
    if args.drop_all:
        return drop_all()
    if args.quick:
        args.customers, args.repeat = [200], 1
    synthetic.stop_cleanly()
    install_tryton()
    if args.prepare:
        for customers in args.customers:
            ensure_agrega(customers), ensure_tryton(customers)
        print(f"peer_billing: Tryton {tryton_version()} and the templates for N = "
              f"{', '.join(f'{n:,}' for n in args.customers)} ready", flush=True)
        return
    print(f"peer_billing: Agrega billing_run vs Tryton {tryton_version()} sale_subscription, "
          f"period {synthetic.BILL_PERIOD:%m/%Y}, N = {', '.join(f'{n:,}' for n in args.customers)}, "
          f"{args.repeat} repetition(s); {os.cpu_count()} cores, shared", flush=True)
    print(f"  before: {uptime()}", flush=True)
    summary_rows = []
    for customers in args.customers:
        agrega_db, tryton_db = ensure_agrega(customers), ensure_tryton(customers)
        rows = []
        for rep in range(1, args.repeat + 1):
            order = list(SIDES) if rep % 2 else list(reversed(SIDES))
            got = {}
            with machine_lock(args.lock):
                print(f"    {uptime()}", flush=True)
                for side in order:
                    got[side] = measure(side, agrega_db, tryton_db, customers)
            problems = [f"{side} {p}" for side in SIDES for p in got[side]["problems"]]
            tryton_best = min(got["tryton"]["seconds"], got["tryton-O"]["seconds"])
            row = {side: got[side]["seconds"] for side in SIDES}
            row.update({f"{side}_cpu": got[side]["py_cpu"] + got[side]["db_cpu"] for side in SIDES})
            row.update(cpu_ratio=min(row["tryton_cpu"], row["tryton-O_cpu"]) / max(1e-3, row["agrega-1_cpu"]))
            row.update(tryton_best=tryton_best, ratio=tryton_best / got["agrega-1"]["seconds"],
                       ratio_default=tryton_best / got["agrega"]["seconds"], load=os.getloadavg()[0])
            rows.append(row)
            t, o = got["tryton"], got["tryton-O"]
            print(f"  N={customers:,} #{rep} (order {', '.join(order)}): "
                  f"tryton {t['seconds']:.2f} s (consumptions {t['consumption_seconds']:.2f} + invoices "
                  f"{t['invoice_seconds']:.2f}; cpu {t['py_cpu']:.1f} + pg {t['db_cpu']:.1f}), "
                  f"tryton -O {o['seconds']:.2f} s (cpu {o['py_cpu']:.1f} + pg {o['db_cpu']:.1f}), "
                  f"agrega {got['agrega']['seconds']:.3f} s, agrega 1 thread {got['agrega-1']['seconds']:.3f} s; "
                  f"faster Tryton ÷ Agrega 1 thread {row['ratio']:.0f}x, ÷ Agrega default {row['ratio_default']:.0f}x, "
                  f"by CPU {row['cpu_ratio']:.0f}x; "
                  f"load {os.getloadavg()[0]:.1f} "
                  f"[{t['invoices']:,}/{o['invoices']:,}/{got['agrega']['invoices']:,}/{got['agrega-1']['invoices']:,} "
                  f"invoices] {'verified' if not problems else 'WRONG: ' + '; '.join(problems)}", flush=True)
            if problems:
                raise SystemExit(1)
        summary_rows.append((customers, rows))
    print(f"  after: {uptime()}", flush=True)
    print("\n| N | Tryton | Tryton -O | Agrega (default threads) | Agrega (1 thread) | faster Tryton ÷ Agrega 1 thread "
          "| ÷ Agrega default | by CPU | CPU s Tryton / -O / Agrega / Agrega 1 (py + pg) | runs |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    med = statistics.median
    for customers, rows in summary_rows:
        print(f"| {customers:,} | {med(r['tryton'] for r in rows):.2f} s | {med(r['tryton-O'] for r in rows):.2f} s | "
              f"{med(r['agrega'] for r in rows):.3f} s | {med(r['agrega-1'] for r in rows):.3f} s | "
              f"**{med(r['ratio'] for r in rows):.0f}×** | {med(r['ratio_default'] for r in rows):.0f}× | "
              f"{med(r['cpu_ratio'] for r in rows):.0f}× | "
              + " / ".join(f"{med(r[f'{side}_cpu'] for r in rows):.1f}" for side in ("tryton", "tryton-O", "agrega",
                                                                                   "agrega-1"))
              + f" | {len(rows)} |")
    worst = min(med(r["ratio"] for r in rows) for _, rows in summary_rows)
    print(f"\ntarget (Agrega, one thread, at least {TARGET_RATIO:.0f}x faster than the faster Tryton): "
          f"{'met' if worst >= TARGET_RATIO else 'NOT met'} (lowest median ratio {worst:.1f}x)")
    for customers, rows in summary_rows:
        ratio = med(r["ratio"] for r in rows)
        summary.emit(f"peer_billing N={customers:,} (Agrega 1 thread vs faster Tryton)",
                     figure=med(r["agrega-1"] for r in rows), baseline=med(r["tryton_best"] for r in rows),
                     ratio=ratio, target=f"≥ {TARGET_RATIO:.0f}× faster", verdict=summary.verdict(ratio >= TARGET_RATIO),
                     unit="s", note=f"by CPU (process + its PostgreSQL backends) {med(r['cpu_ratio'] for r in rows):.0f}×")


if __name__ == "__main__":
    main()
