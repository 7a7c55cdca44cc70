"""The monthly billing run over N synthetic contracts on PostgreSQL: contracts per
second, wall time and the peak RSS of the process that runs it.

Each repetition bills December 2026 on a fresh copy of the dataset (see synthetic.py)
in a child process (``billing_run`` only is timed; the child's maxrss is its peak
memory, Django included), then checks the result against an independent SQL
computation of what should have been billed: a fast wrong run does not pass.

    ./run bench billing_run --contracts 100000 --repeat 3
    ./run bench billing_run --contracts 1000000 --repeat 2
    ./run bench billing_run --quick                  # 10,000 contracts, 3 repetitions

Targets (issue 21, item 5): 1,000,000 contracts in ≤ 45 s wall and ≤ 60 s of CPU in all
(the child's Python and every PostgreSQL backend it used, read from /proc), under
400 MB peak RSS; at a smaller size the time targets are scaled linearly (a smaller run
has the same per-contract budget). The headline is the CPU (the least load-sensitive);
the last line printed is one JSON object (``bench/README.md``, "Summary").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import synthetic  # noqa: E402

TARGET_SECONDS_1M = 45.0  # wall (issue 21, item 5; issue 4's was 120 s)
TARGET_CPU_1M = 60.0  # CPU seconds, Python + PostgreSQL
QUICK_CONTRACTS = 10_000
TARGET_RSS_MIB = 400 * 1000 * 1000 / 2**20  # 400 MB

# What December 2026 should bill, computed from the tables alone (no Agrega code):
# each product from the later of (period start, activation, added) to the earlier of
# (next period, removal), local dates; a whole month is the price, a part price ×
# days ÷ days rounded half up to the cent; credit balances are taken off, never below 0.
EXPECTED_SQL = """
WITH p AS (SELECT %(period)s::date AS first_day, %(next)s::date AS next_day, %(dim)s::int AS dim),
items AS (
    SELECT c.id AS contract_id, coalesce(cp.price, pr.price) AS unit, p.dim,
           least(p.next_day, coalesce((cp.removed_at AT TIME ZONE %(tz)s)::date, p.next_day))
           - greatest(p.first_day, (c.activated_at AT TIME ZONE %(tz)s)::date,
                      (cp.added_at AT TIME ZONE %(tz)s)::date) AS days
    FROM contracts_contract c
    JOIN contracts_contractproduct cp ON cp.contract_id = c.id
    JOIN catalog_product pr ON pr.id = cp.product_id, p
    WHERE c.status = 'A' AND c.activated_at < (p.next_day::timestamp AT TIME ZONE %(tz)s)
      AND NOT EXISTS (SELECT 1 FROM billing_invoice i WHERE i.contract_id = c.id AND i.period = p.first_day)
),
per_contract AS (
    SELECT contract_id, count(*) AS lines,
           sum(CASE WHEN days >= dim THEN unit ELSE round(unit * days / dim, 2) END) AS gross
    FROM items WHERE days > 0 GROUP BY contract_id
),
credit AS (
    SELECT contract_id, sum(amount) AS balance FROM billing_creditentry GROUP BY contract_id HAVING sum(amount) > 0
)
SELECT count(*), coalesce(sum(lines), 0), coalesce(sum(gross), 0),
       coalesce(sum(least(coalesce(balance, 0), gross)), 0),
       count(*) FILTER (WHERE gross - least(coalesce(balance, 0), gross) > 0)
FROM per_contract LEFT JOIN credit USING (contract_id)
"""

CHECKS = {
    # every título's lines add up to its amount plus the credit taken off
    "invoice_vs_lines": """
        SELECT count(*) FROM billing_invoice i
        WHERE i.period = %(period)s AND i.amount + i.credit_applied
              <> (SELECT coalesce(sum(l.amount), 0) FROM billing_invoiceline l WHERE l.invoice_id = i.id)""",
    # oldest_open_due is the oldest open due date, on every contract
    "oldest_open_due": """
        SELECT count(*) FROM contracts_contract c
        WHERE c.oldest_open_due IS DISTINCT FROM
              (SELECT min(i.due_date) FROM billing_invoice i WHERE i.contract_id = c.id AND i.status = 'open')""",
    # due on the billing day (or the month's last day); a contract's first título (no
    # earlier one: the customer was never told the billing day) no sooner than
    # AGREGA_FIRST_DUE_MIN_DAYS after it is issued (docs/decisions/0006, "first título")
    "due_date": """
        SELECT count(*) FROM billing_invoice i JOIN contracts_contract c ON c.id = i.contract_id
        WHERE i.period = %(period)s AND i.due_date <> CASE
            WHEN EXISTS (SELECT 1 FROM billing_invoice e WHERE e.contract_id = c.id AND e.period < %(period)s)
            THEN make_date(2026, 12, least(c.billing_day, 31))
            ELSE greatest(make_date(2026, 12, least(c.billing_day, 31)), %(first_due)s::date) END""",
    # the credit consumed is recorded in the ledger
    "credit_ledger": """
        SELECT abs((SELECT coalesce(sum(credit_applied), 0) FROM billing_invoice WHERE period = %(period)s)
                   + (SELECT coalesce(sum(amount), 0) FROM billing_creditentry WHERE invoice_id IS NOT NULL))""",
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CONTRACTS:,} contracts, 3 repetitions")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=None, help="billing_run chunk_size (default: the code's)")
    parser.add_argument("--workers", type=int, default=None, help="billing_run workers (default: the code's)")
    parser.add_argument("--profile", metavar="FILE", help="pyinstrument the first repetition into FILE (.html/.txt)")
    parser.add_argument("--keep", action="store_true", help="keep the last copy (agrega_bench_*_billing) to inspect")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args()


def child(chunk_size: int | None, workers: int | None, profile: str | None) -> None:
    """Runs inside the measured process: Django, then billing_run alone is timed."""
    import django

    django.setup()
    from agrega.billing.services import billing_run

    kwargs = {"chunk_size": chunk_size} if chunk_size else {}
    if workers:
        kwargs["workers"] = workers
    baseline = synthetic.rss_mib()
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    workers = synthetic.count_worker_backends()
    db_cpu, py_cpu = synthetic.backend_cpu(), synthetic.self_cpu()
    start = time.perf_counter()
    run = billing_run(period=synthetic.BILL_PERIOD, today=synthetic.BILL_PERIOD, **kwargs)
    seconds = time.perf_counter() - start
    py_cpu, db_cpu = synthetic.self_cpu() - py_cpu, synthetic.backend_cpu() - db_cpu + sum(workers)
    if profiler:
        profiler.stop()
        Path(profile).write_text(profiler.output_html() if profile.endswith(".html") else profiler.output_text())
    from django.conf import settings

    print(json.dumps({"seconds": seconds, "baseline_rss": baseline, "run_id": run.pk, "py_cpu": py_cpu,
                      "first_due_min_days": settings.BILLING_FIRST_DUE_MIN_DAYS,
                      "db_cpu": db_cpu,
                      "contracts_seen": run.contracts_seen, "invoices": run.invoices_created,
                      "lines": run.lines_created, "total": str(run.total_amount)}), flush=True)


def expected(database: str) -> dict:
    import psycopg

    period = synthetic.BILL_PERIOD
    with psycopg.connect(synthetic.db_url(database)) as conn:
        invoices, lines, gross, credit, open_ = conn.execute(EXPECTED_SQL, {
            "period": period, "next": date(2027, 1, 1), "dim": 31, "tz": "America/Sao_Paulo"}).fetchone()
    return {"invoices": invoices, "lines": lines, "gross": gross, "credit": credit, "net": gross - credit,
            "open": open_}


def verify(database: str, want: dict, got: dict) -> list[str]:
    import psycopg

    problems = []
    period = synthetic.BILL_PERIOD
    with psycopg.connect(synthetic.db_url(database)) as conn:
        invoices, net, credit, open_ = conn.execute(
            "SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(credit_applied), 0), "
            "count(*) FILTER (WHERE status = 'open') FROM billing_invoice WHERE period = %s", [period]).fetchone()
        lines, gross = conn.execute(
            "SELECT count(*), coalesce(sum(l.amount), 0) FROM billing_invoiceline l "
            "JOIN billing_invoice i ON i.id = l.invoice_id WHERE i.period = %s", [period]).fetchone()
        run = conn.execute("SELECT invoices_created, lines_created, total_amount, finished_at IS NOT NULL "
                           "FROM billing_billingrun WHERE id = %s", [got["run_id"]]).fetchone()
        for name, sql in CHECKS.items():
            first_due = period + timedelta(days=got["first_due_min_days"])  # issued on the period's first day
            bad = conn.execute(sql, {"period": period, "first_due": first_due}).fetchone()[0]
            if bad:
                problems.append(f"check {name}: {bad}")
    for what, have, should in (("invoices", invoices, want["invoices"]), ("lines", lines, want["lines"]),
                               ("sum of lines", gross, want["gross"]), ("credit applied", credit, want["credit"]),
                               ("sum of títulos", net, want["net"]), ("open títulos", open_, want["open"]),
                               ("run.invoices_created", run[0], want["invoices"]),
                               ("run.lines_created", run[1], want["lines"]), ("run.total_amount", run[2], want["net"]),
                               ("run finished", run[3], True)):
        if have != should:
            problems.append(f"{what}: {have} (expected {should})")
    return problems


def main() -> None:
    args = parse_args()
    if args.child is not None:
        return child(args.chunk_size, args.workers, args.profile)
    if args.quick:
        args.contracts, args.repeat = QUICK_CONTRACTS, 3
    synthetic.stop_cleanly()
    template = synthetic.ensure_dataset(args.contracts, args.seed)
    work = f"{template}_billing"
    results = []
    print(f"billing_run: {args.contracts:,} contracts, period {synthetic.BILL_PERIOD:%m/%Y}, "
          f"{args.repeat} repetition(s), each on a fresh copy of {template}; load average "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    try:
        for rep in range(1, args.repeat + 1):
            clone_seconds = synthetic.clone(template, work)
            want = expected(work)
            child_args = []
            if args.chunk_size:
                child_args += ["--chunk-size", str(args.chunk_size)]
            if args.workers:
                child_args += ["--workers", str(args.workers)]
            if args.profile and rep == 1:
                child_args += ["--profile", args.profile]
            wal_before = synthetic.wal_counters()
            wall_start = time.perf_counter()
            got, peak = synthetic.run_child(__file__, child_args, work)
            process_seconds = time.perf_counter() - wall_start
            wal = synthetic.wal_delta(wal_before, synthetic.wal_counters())
            problems = verify(work, want, got)
            rate = got["invoices"] / got["seconds"] if got["seconds"] else 0.0
            results.append({"seconds": got["seconds"], "rate": rate, "peak": peak, "process": process_seconds,
                            "py_cpu": got["py_cpu"], "db_cpu": got["db_cpu"], "load": os.getloadavg()[0],
                            "cpu": got["py_cpu"] + got["db_cpu"], "wal": wal})
            print(f"  #{rep}: {got['seconds']:7.1f} s  {rate:8,.0f} contracts/s  peak RSS {peak:6.1f} MiB "
                  f"cpu python {got['py_cpu']:.1f} s + postgres {got['db_cpu']:.1f} s  "
                  f"load {os.getloadavg()[0]:.1f}  "
                  f"(after setup {got['baseline_rss']:.0f})  invoices {got['invoices']:,}  lines {got['lines']:,}  "
                  f"total R$ {got['total']}  [copy {clone_seconds:.1f}s]  "
                  f"[server meanwhile: WAL {wal['wal_mib']:,.0f} MiB, {wal['fpi']:,.0f} full-page images, "
                  f"{wal['checkpoints']:.0f} checkpoint(s), {wal['backend_writes']:,.0f} buffers written by backends]  "
                  f"{'verified' if not problems else 'WRONG: ' + '; '.join(problems)}", flush=True)
            if problems:
                raise SystemExit(1)
            if not (args.keep and rep == args.repeat):
                synthetic.drop(work)
    finally:
        if not args.keep:
            synthetic.drop(work)
    seconds = statistics.median(r["seconds"] for r in results)
    rate = statistics.median(r["rate"] for r in results)
    peak = statistics.median(r["peak"] for r in results)
    py_cpu = statistics.median(r["py_cpu"] for r in results)
    db_cpu = statistics.median(r["db_cpu"] for r in results)
    cpu = statistics.median(r["cpu"] for r in results)
    scale = args.contracts / 1_000_000
    target_wall, target_cpu = TARGET_SECONDS_1M * scale, TARGET_CPU_1M * scale
    loads = [r["load"] for r in results]
    met = {"cpu": cpu <= target_cpu, "wall": seconds <= target_wall, "rss": peak <= TARGET_RSS_MIB}
    print(f"median of {len(results)}: {seconds:.2f} s wall, {rate:,.0f} contracts/s, peak RSS {peak:.0f} MiB "
          f"({peak * 2**20 / 1e6:.0f} MB); cpu python {py_cpu:.2f} s + postgres {db_cpu:.2f} s = {cpu:.2f} s; "
          f"load {min(loads):.1f}–{max(loads):.1f}")
    print(f"targets{' (scaled from 1,000,000)' if scale != 1 else ''}: CPU ≤ {target_cpu:.1f} s "
          f"{'met' if met['cpu'] else 'NOT met'}; wall ≤ {target_wall:.1f} s {'met' if met['wall'] else 'NOT met'}; "
          f"< 400 MB {'met' if met['rss'] else 'NOT met'}")
    print(json.dumps({"bench": "billing_run", "size": args.contracts, "figure": "CPU s (Python + PostgreSQL)",
                      "value": round(cpu, 3), "baseline": None, "ratio": round(cpu / target_cpu, 3),
                      "target": 1.0, "target_cpu": round(target_cpu, 2), "better": "lower",
                      "verdict": "met" if all(met.values()) else "not met",
                      "wall": round(seconds, 3), "target_wall": round(target_wall, 2), "rss_mib": round(peak, 1),
                      "rounds": len(results), "load": [round(min(loads), 1), round(max(loads), 1)],
                      "server_meanwhile": [r["wal"] for r in results]},
                     ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
