"""Synthetic ISP data for the billing and dunning benches, on PostgreSQL only.

One database per size (``agrega_bench_100k``, ``agrega_bench_1m``, …), migrated with
Django and filled with COPY: customers (valid CPFs), an SVA integration with three
packages, internet plans (SCM) and fees (OUTRO), N active contracts with 2–3 products,
a confirmed SVA user per SVA product, and the invoices before the benched period:
90 % of the contracts paid November, 10 % owe from August–November (open títulos,
``oldest_open_due`` set), so every Anatel stage has contracts to act on. A marker
table keeps the parameters: a dataset with the same ones is reused. Each measured run
works on a copy (``CREATE DATABASE … TEMPLATE``), dropped afterwards.

    .venv/bin/python bench/synthetic.py --contracts 100000          # build (or reuse)
    .venv/bin/python bench/synthetic.py --contracts 100000 --force  # build again
    .venv/bin/python bench/synthetic.py --drop-all                   # drop these datasets and copies

The calendar is fixed: the billing bench bills ``BILL_PERIOD`` (December 2026), the
sweep runs on ``SWEEP_TODAY`` (5 December 2026), before that billing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_URL = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
# Agrega refuses development secrets without DEBUG (agrega/core/keys.py): the benchmarks'
# `agrega web`/`worker` processes get fixed bench keys (stable, so a kept database decrypts).
os.environ.setdefault("AGREGA_SECRET_KEY", "agrega-bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("AGREGA_CREDENTIALS_KEY", "YmVuY2gtY3JlZGVudGlhbHMta2V5LTMyLWJ5dGVzLSE=")
GENERATOR_VERSION = 4  # 2: contracts built with the schema's fillfactor (contracts 0005); 3: SVA users too (sva 0005);
# 4: the indexes rebuilt after the load keep their columns' statistics targets (customers 0006)
TZ = ZoneInfo("America/Sao_Paulo")

HISTORY = (date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1))
BILL_PERIOD = date(2026, 12, 1)
SWEEP_TODAY = date(2026, 12, 5)

INTERNET = (("Internet 300 Mega", "99.90"), ("Internet 500 Mega", "129.90"),
            ("Internet 700 Mega", "159.90"), ("Internet 1 Giga", "199.90"))
SVA = (("EXA Segurança Básico", "9.90", "EXA-SEG-BASICO"), ("EXA Família", "19.90", "EXA-SEG-FAMILIA"),
       ("EXA Backup 100 GB", "14.90", "EXA-BACKUP-100"))
FEES = (("Instalação em 12x", "10.00"), ("Aluguel de roteador", "15.00"))
BILLING_DAYS = (1, 5, 5, 10, 10, 10, 15, 15, 20, 20, 25, 28, 30, 31)
DDDS = (11, 21, 31, 41, 48, 51, 61, 71, 81, 85, 91, 92)
# Months behind for the oldest open título of an overdue contract: Nov, Oct, Sep, Aug.
OVERDUE_MONTHS = ((1, 0.50), (2, 0.25), (3, 0.15), (4, 0.10))


def label(contracts: int) -> str:
    if contracts % 1_000_000 == 0:
        return f"{contracts // 1_000_000}m"
    if contracts % 1000 == 0:
        return f"{contracts // 1000}k"
    return str(contracts)


# Several people (or two trees, bench/ab.py) may share one PostgreSQL server: a tag
# (letters, digits) in AGREGA_BENCH_DB_TAG keeps their datasets and copies apart.
DB_TAG = os.environ.get("AGREGA_BENCH_DB_TAG", "")


def dataset_name(contracts: int, seed: int = 1) -> str:
    return (f"agrega_bench_{label(contracts)}" + (f"_s{seed}" if seed != 1 else "")
            + (f"_{DB_TAG}" if DB_TAG else ""))


def db_url(name: str) -> str:
    return f"{SERVER_URL}/{name}"


# ---------------------------------------------------------------- databases

def admin():
    import psycopg

    return psycopg.connect(db_url("postgres"), autocommit=True)


# Every bench's databases (this dataset, api_load, convergence, peer_billing): the only
# names ``drop`` and ``clone`` will touch.
BENCH_DB_PREFIXES = ("agrega_bench", "agrega_apiload", "agrega_converge_", "agrega_tryton_")


def _check_name(name: str) -> None:
    if not name.startswith(BENCH_DB_PREFIXES) or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to touch database {name!r}: bench databases are "
                         + ", ".join(p + "*" for p in BENCH_DB_PREFIXES))


def exists(name: str) -> bool:
    with admin() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def drop(name: str) -> None:
    _check_name(name)
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clone(template: str, name: str) -> float:
    """A copy of ``template`` as ``name``; returns the seconds it took. FILE_COPY copies
    the files (two checkpoints) instead of writing every page to the WAL."""
    _check_name(name)
    start = time.perf_counter()
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    return time.perf_counter() - start


def wal_counters() -> dict[str, int]:
    """The cluster's WAL and checkpoint counters (pg_stat_wal, pg_stat_bgwriter), to say
    what the server did around a timed run besides the run's own backends: WAL written,
    full-page images, checkpoints, and buffers the backends had to write out themselves.
    Cluster-wide: meaningful on a machine where nothing else writes meanwhile."""
    with admin() as conn:
        wal = conn.execute("SELECT wal_bytes::bigint, wal_fpi FROM pg_stat_wal").fetchone()
        bg = conn.execute("SELECT checkpoints_timed + checkpoints_req, buffers_backend "
                          "FROM pg_stat_bgwriter").fetchone()
    return {"wal_mib": wal[0] / 2**20, "fpi": wal[1], "checkpoints": bg[0], "backend_writes": bg[1]}


def wal_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    return {key: round(after[key] - before[key], 1) for key in before}


def stop_cleanly() -> None:
    """SIGTERM ends a bench like Ctrl-C: its ``finally`` blocks drop the copies."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@contextmanager
def copies(template: str, *names: str):
    """Fresh copies of the dataset, dropped on the way out whatever happened."""
    try:
        for name in names:
            clone(template, name)
        yield names
    finally:
        for name in names:
            drop(name)


def marker(name: str, table: str = "bench_dataset") -> dict | None:
    """The parameters a bench recorded in ``table`` when it built ``name`` (None: not built)."""
    import psycopg

    try:
        with psycopg.connect(db_url(name)) as conn:
            row = conn.execute(f"SELECT params FROM {table}").fetchone()
            return row[0] if row else None
    except psycopg.Error:
        return None


def ensure_dataset(contracts: int, seed: int = 1, *, force: bool = False, quiet: bool = False) -> str:
    """The dataset's database name, built if missing (or ``force``), else reused; either
    way migrated to the code's current migrations (an index added by a migration is
    then part of every copy)."""
    name = dataset_name(contracts, seed)
    wanted = {"contracts": contracts, "seed": seed, "version": GENERATOR_VERSION}
    have = None if force or not exists(name) else marker(name)
    env = {**os.environ, "DATABASE_URL": db_url(name), "DJANGO_SETTINGS_MODULE": "agrega.settings",
           "AGREGA_LOG_LEVEL": "WARNING"}
    if have is not None and {k: have.get(k) for k in wanted} == wanted:
        subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
        if not quiet:
            print(f"dataset {name}: reused ({have.get('rows')})", flush=True)
        return name
    drop(name)
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--generate-into", name, "--contracts", str(contracts),
                    "--seed", str(seed)], env=env, cwd=ROOT, check=True)
    if not quiet:
        print(f"dataset {name}: built in {time.perf_counter() - start:.0f}s ({marker(name).get('rows')})",
              flush=True)
    return name


# ---------------------------------------------------------------- measuring

def run_child(script: str, args: list[str], database: str) -> tuple[dict, float]:
    """Run ``script --child …`` against ``database``; return what it printed as its last
    JSON line and its peak RSS in MiB (the child's own maxrss, from wait4)."""
    env = {**os.environ, "DATABASE_URL": db_url(database), "DJANGO_SETTINGS_MODULE": "agrega.settings",
           "AGREGA_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, script, "--child", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        if line.startswith("{"):
            lines.append(line)
        else:
            print(line, end="", flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{Path(script).name} child failed (exit {proc.returncode})")
    return json.loads(lines[-1]), usage.ru_maxrss / 1024


def backend_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL backend serving this thread's Django
    connection (same machine): with the machine shared, CPU time says more than wall
    time."""
    from django.db import connection

    connection.ensure_connection()
    return proc_cpu(connection.connection.info.backend_pid)


def count_worker_backends() -> list[float]:
    """Collect the CPU of the backends of threads that close their connections
    (``connections.close_all()``, as the billing run's worker threads do) into the
    returned list, read just before each closes."""
    from django.db import connection, connections

    spent: list[float] = []
    close_all = connections.close_all

    def counting_close_all():
        raw = connection.connection
        if raw is not None and not raw.closed:
            spent.append(proc_cpu(raw.info.backend_pid))
        close_all()

    connections.close_all = counting_close_all
    return spent


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    usage = os.times()
    return usage.user + usage.system


def rss_mib() -> float:
    """This process's resident memory now (VmRSS), in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- the data

def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ)


def _due(period: date, billing_day: int) -> date:
    import calendar

    return period.replace(day=min(billing_day, calendar.monthrange(period.year, period.month)[1]))


def plan(contracts: int, seed: int, products: dict) -> list[tuple]:
    """What every contract is, decided up front (the tables are then written one by one).

    Contract ``i`` (1-based) is new — activated in the billed month, billed pro rata —
    when ``i % 50 == 7`` (2 %), and overdue when ``i % 10 == 3`` (10 %); 1 % carry a
    credit (``i % 100 == 11``). The rest is drawn from ``random.Random(seed)``."""
    rng = random.Random(seed)
    customers = max(1, contracts * 4 // 5)
    first, last = date(2024, 1, 1), date(2026, 6, 30)
    span = (last - first).days
    out = []
    for i in range(1, contracts + 1):
        new = i % 50 == 7
        overdue = i % 10 == 3
        if new:
            activated = _at(BILL_PERIOD + timedelta(days=rng.randint(1, 27)), rng.randint(8, 18))
        else:
            activated = _at(first + timedelta(days=rng.randrange(span)), rng.randint(8, 18))
        internet = rng.choice(products["internet"])
        items = [(internet, Decimal(internet[2]) - Decimal("10.00") if rng.random() < 0.1 else None, None)]
        sva = rng.sample(products["sva"], 2)
        items.append((sva[0], None, None))
        third = rng.random()
        if third < 0.25:
            items.append((sva[1], None, None))
        elif third < 0.5:
            removed = None
            roll = rng.random()
            if roll < 0.1 and not new:  # taken off before the history: billed nowhere
                removed = _at(date(2026, 6, 1) + timedelta(days=rng.randint(0, 49)), 14)
            elif roll < 0.2:  # taken off within the billed month: pro rata
                removed = _at(BILL_PERIOD + timedelta(days=rng.randint(max(1, activated.day), 28)), 14) \
                    if new else _at(BILL_PERIOD + timedelta(days=rng.randint(1, 28)), 14)
            items.append((rng.choice(products["fees"]), None, removed))
        months = 0
        if overdue:
            roll, acc = rng.random(), 0.0
            for months, weight in OVERDUE_MONTHS:
                acc += weight
                if roll < acc:
                    break
        access = "CM" if overdue and rng.random() < 0.05 else "A"
        credit = Decimal(rng.randint(5, 40)) if i % 100 == 11 else None
        out.append((i, (i - 1) % customers + 1, rng.choice(BILLING_DAYS), activated, items, new, months,
                    access, credit))
    return out


def generate(name: str, contracts: int, seed: int) -> None:
    os.environ["DATABASE_URL"] = db_url(name)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from agrega.catalog.services import product_create
    from agrega.core.br import make_cpf
    from agrega.integrations.services import integration_create

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    integration = integration_create(
        name="EXA bench", platform="exa", base_url="http://127.0.0.1:9/exa", prefix="bench",
        auto_create_users=True, timeout_seconds=0.5, credentials={"client_id": "bench", "client_secret": "bench"},
    )
    products = {"internet": [], "sva": [], "fees": []}
    for pname, price in INTERNET:
        p, _ = product_create(name=pname, price=price, fiscal_class="SCM")
        products["internet"].append((p.pk, "OUTRO", price, pname, "SCM", ""))
    for pname, price, code in SVA:
        p, _ = product_create(name=pname, price=price, fiscal_class="SVA", sva_integration_id=integration.pk,
                              sva_package_code=code)
        products["sva"].append((p.pk, "SVA", price, pname, "SVA", code))
    for pname, price in FEES:
        p, _ = product_create(name=pname, price=price, fiscal_class="OUTRO")
        products["fees"].append((p.pk, "OUTRO", price, pname, "OUTRO", ""))
    contracts_plan = plan(contracts, seed, products)
    print(f"  planned {contracts:,} contracts in {time.perf_counter() - t0:.1f}s", flush=True)

    connection.ensure_connection()
    raw = connection.connection  # the psycopg connection under Django's
    raw.autocommit = False
    cur = raw.cursor()
    cur.execute("SET session_replication_role = replica")  # no FK triggers while loading
    cur.execute("SET maintenance_work_mem = '512MB'")
    tables = ["customers_customer", "contracts_contract", "contracts_contractproduct", "sva_svauser",
              "billing_invoice", "billing_invoiceline", "billing_creditentry"]
    # Plain indexes are dropped during the load and built again after it (faster).
    cur.execute("""SELECT i.indexname, i.indexdef FROM pg_indexes i
                   WHERE i.tablename = ANY(%s) AND i.schemaname = 'public'
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""", [tables])
    index_defs = cur.fetchall()
    # A migration's per-column statistics target on an index (customers 0006: 1,000 histogram
    # entries for the search's trigram expressions) is no part of its definition: kept here and
    # set again on the rebuilt index, or the dataset's planner is not the migrated schema's.
    cur.execute("""SELECT c.relname, a.attnum, a.attstattarget FROM pg_attribute a
                   JOIN pg_class c ON c.oid = a.attrelid
                   WHERE c.relname = ANY(%s) AND a.attstattarget > 0""", [[name for name, _ in index_defs]])
    index_statistics = cur.fetchall()
    for index_name, _ in index_defs:
        cur.execute(f'DROP INDEX "{index_name}"')
    rows: dict[str, int] = {}

    from django.apps import apps

    models_by_table = {m._meta.db_table: m for m in apps.get_models()}

    def copy(table: str, columns: str, generator) -> None:
        # A NOT NULL column another app added later (the customer's NFCom fields) gets
        # Django's own default ("" for text), as core/bulk.py's inserts do.
        listed = {c.strip() for c in columns.split(",")}
        extra = [f for f in models_by_table[table]._meta.concrete_fields
                 if f.column not in listed and not f.null and not f.primary_key]
        tail = tuple(f.get_default() for f in extra)
        columns = ", ".join([columns, *(f.column for f in extra)])
        start, count = time.perf_counter(), 0
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
            for row in generator:
                cp.write_row(row + tail if tail else row)
                count += 1
        rows[table] = count
        print(f"  {table}: {count:,} rows in {time.perf_counter() - start:.1f}s", flush=True)

    created = _at(date(2023, 12, 1), 9)
    customers = max(1, contracts * 4 // 5)

    cpfs = [""] + [make_cpf(c) for c in range(1, customers + 1)]

    # The NFCom fields (customers 0005: IBGE code of São Paulo, no IE, "9" non-contributor) when
    # the schema has them (bench/ab.py builds the dataset of an older tree with this file too).
    cur.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'customers_customer' "
                "AND column_name = 'ibge_code'")
    fiscal = ("3550308", "", "9") if cur.fetchone() else ()

    def customer_rows():
        for c in range(1, customers + 1):
            ddd = DDDS[c % len(DDDS)]
            yield (c, f"Cliente Sintético {c}", "F", cpfs[c], f"cliente{c}@bench.example.com",
                   f"+55{ddd}9{c % 100_000_000:08d}", "Rua das Flores", str(c % 2000 + 1), "Centro",
                   "São Paulo", "SP", "01001000", created, created, *fiscal)

    copy("customers_customer", "id, name, person_type, document, email, mobile_phone, street, number, "
         "district, city, state, zip_code, created_at, updated_at"
         + (", ibge_code, ie, ind_ie_dest" if fiscal else ""), customer_rows())

    # Every invoice and its lines, decided per contract; oldest_open_due follows.
    oldest: dict[int, date] = {}
    for i, _, day, _, _, new, months, _, _ in contracts_plan:
        if months:
            oldest[i] = _due(HISTORY[-months], day)

    def contract_rows():
        for i, customer, day, activated, _, _, _, access, _ in contracts_plan:
            yield (i, "A", access, day, "", 1, activated, None, activated - timedelta(days=3), activated,
                   customer, 0, None, oldest.get(i), None, None)

    copy("contracts_contract", "id, status, access_status, billing_day, description, version, activated_at, "
         "ended_at, created_at, updated_at, customer_id, dunning_level, dunning_policy_id, oldest_open_due, "
         "sales_plan_id, trust_release_until", contract_rows())

    cp_ids: list[list[int]] = []
    next_cp = 0
    for entry in contracts_plan:
        ids = list(range(next_cp + 1, next_cp + 1 + len(entry[4])))
        next_cp += len(entry[4])
        cp_ids.append(ids)

    def product_rows():
        for entry, ids in zip(contracts_plan, cp_ids):
            i, activated, items = entry[0], entry[3], entry[4]
            for cp_id, (product, price, removed) in zip(ids, items):
                yield (cp_id, product[1], price, activated, removed, i, product[0])

    copy("contracts_contractproduct", "id, kind, price, added_at, removed_at, contract_id, product_id",
         product_rows())

    def sva_rows():
        user_id = 0
        for entry, ids in zip(contracts_plan, cp_ids):
            i, customer, activated, items, access = entry[0], entry[1], entry[3], entry[4], entry[7]
            for cp_id, (product, _, _) in zip(ids, items):
                if product[1] != "SVA":
                    continue
                user_id += 1
                ddd = DDDS[customer % len(DDDS)]
                synced = activated + timedelta(minutes=1)
                yield (user_id, "automatic", True, "", "", "", f"agr-{cp_id:032x}", f"exa-{cp_id}", None,
                       activated, "[]", 1, 1, None, None, "", 0, synced, synced, "", "",
                       "active" if access == "A" else "blocked", product[5], f"cliente{customer}@bench.example.com",
                       f"+55{ddd}9{customer % 100_000_000:08d}", cpfs[customer],
                       f"Cliente Sintético {customer}", synced, True, i, cp_id, None, None, integration.pk)

    copy("sva_svauser", "id, origin, use_customer_data, email, phone, document, external_id, remote_id, "
         "deleted_at, created_at, registration_problems, version, synced_version, next_attempt_at, "
         "claimed_until, claimed_by, failures, last_attempt_at, last_success_at, last_error_code, "
         "last_error_message, confirmed_state, confirmed_package, confirmed_email, confirmed_phone, "
         "confirmed_document, confirmed_name, confirmed_at, creation_attempted, contract_id, "
         "contract_product_id, created_by_id, deleted_by_id, integration_id", sva_rows())

    # Invoices: November for everyone already active (paid unless overdue), plus the
    # earlier months an overdue contract still owes. Whole months (no pro rata here).
    invoices: list[tuple] = []  # (invoice id, contract index into plan, period)
    invoice_id = 0
    history_rng = random.Random(seed + 1)

    def invoice_rows():
        nonlocal invoice_id
        for n, entry in enumerate(contracts_plan):
            i, customer, day, _, items, new, months, _, _ = entry
            if new:
                continue
            periods = HISTORY[-months:] if months else HISTORY[-1:]
            for period in periods:
                amount = sum((Decimal(price if price is not None else product[2])
                              for product, price, removed in items if removed is None or removed.date() >= period),
                             Decimal("0"))
                due = _due(period, day)
                invoice_id += 1
                invoices.append((invoice_id, n, period))
                if months:
                    yield (invoice_id, period, period, due, amount, Decimal("0"), Decimal("0"), "open", None,
                           None, "", _at(period, 6), None, i, customer)
                else:
                    paid_on = due + timedelta(days=history_rng.randint(-5, 3))
                    yield (invoice_id, period, period, due, amount, Decimal("0"), amount, "paid", paid_on,
                           None, "", _at(period, 6), None, i, customer)

    copy("billing_invoice", "id, period, issued_on, due_date, amount, credit_applied, paid_amount, status, "
         "paid_at, cancelled_at, cancel_reason, created_at, billing_run_id, contract_id, customer_id",
         invoice_rows())

    def line_rows():
        line_id = 0
        for inv, n, period in invoices:
            entry = contracts_plan[n]
            for cp_id, (product, price, removed) in zip(cp_ids[n], entry[4]):
                if removed is not None and removed.date() < period:
                    continue
                unit = Decimal(price if price is not None else product[2])
                line_id += 1
                yield (line_id, product[3], product[4], unit, 30, 30, unit, cp_id, inv, product[0])

    copy("billing_invoiceline", "id, description, fiscal_class, unit_price, days, days_in_period, amount, "
         "contract_product_id, invoice_id, product_id", line_rows())

    def credit_rows():
        entry_id = 0
        for i, _, _, _, _, _, _, _, credit in contracts_plan:
            if credit is not None:
                entry_id += 1
                yield (entry_id, credit, "Pagamento a maior (dados sintéticos)", _at(date(2026, 11, 20), 10),
                       i, None, None)

    copy("billing_creditentry", "id, amount, description, created_at, contract_id, invoice_id, payment_id",
         credit_rows())

    start = time.perf_counter()
    for _, definition in index_defs:
        cur.execute(definition)
    for index_name, column, target in index_statistics:
        cur.execute(f'ALTER INDEX "{index_name}" ALTER COLUMN {column} SET STATISTICS {target}')
    for table in tables:
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))")
    cur.execute("SET session_replication_role = DEFAULT")
    cur.execute("CREATE TABLE bench_dataset (params jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
    params = {"contracts": contracts, "seed": seed, "version": GENERATOR_VERSION, "rows": rows,
              "bill_period": BILL_PERIOD.isoformat(), "sweep_today": SWEEP_TODAY.isoformat()}
    cur.execute("INSERT INTO bench_dataset (params) VALUES (%s::jsonb)", [json.dumps(params)])
    raw.commit()
    print(f"  indexes in {time.perf_counter() - start:.1f}s", flush=True)
    start = time.perf_counter()
    raw.autocommit = True
    cur.execute("VACUUM (FREEZE, ANALYZE)")
    cur.execute("CHECKPOINT")
    print(f"  vacuum in {time.perf_counter() - start:.1f}s; total {time.perf_counter() - t0:.0f}s", flush=True)
    connection.close()


DATASET_NAME = re.compile(r"^agrega_bench_\d+[km]?(_s\d+)?" + (f"_{DB_TAG}" if DB_TAG else "")
                          + r"(_(billing|sweep|bare\d*))?$")  # this tag's only


def drop_all() -> None:
    """Drop this module's datasets and any copy left behind (other benches' databases,
    e.g. ``agrega_bench_import``, and the test databases are left alone)."""
    with admin() as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database ORDER BY 1")]
    for name in names:
        if DATASET_NAME.match(name):
            drop(name)
            print(f"dropped {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="build again even if a dataset exists")
    parser.add_argument("--drop-all", action="store_true", help="drop this module's datasets and copies")
    parser.add_argument("--generate-into", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drop_all:
        drop_all()
    elif args.generate_into:
        generate(args.generate_into, args.contracts, args.seed)
    else:
        ensure_dataset(args.contracts, args.seed, force=args.force)


if __name__ == "__main__":
    main()
