"""The daily dunning sweep over N synthetic contracts (10 % overdue) on PostgreSQL,
against a bare SQL UPDATE that leaves the same contracts in the same state.

Each repetition makes two fresh copies of the dataset (see synthetic.py). On one,
``dunning_sweep(today=5 Dec 2026)`` runs in a child process (timed alone: stages,
events, notices, SVA bumps). On the other, the bare UPDATE sets status, access status
and stage of the same contracts straight from ``oldest_open_due`` (a CASE per column)
and commits — with the sweep's resources: split by id range over as many connections as
the sweep writes with (``dunning.services.SWEEP_WORKERS``, 2), all at once. Their order
alternates between repetitions. Both end states are compared row by row, and the
sweep's side effects are checked against what the data implies: events, notices, SVA
users bumped (once per access change).

    ./run bench dunning_sweep --contracts 100000 --repeat 3
    ./run bench dunning_sweep --contracts 1000000 --repeat 2
    ./run bench dunning_sweep --quick                 # 10,000 contracts, 3 repetitions

Headline (issue 21, item 1): the CPU ratio — the sweep's CPU (its Python process and
every PostgreSQL backend it used) over the bare UPDATE's (its backends and the bench
process) — target ≤ 2.5; the wall ratio is printed beside it (issue 4's ≤ 3). The last
line printed is one JSON object (``bench/README.md``, "Summary").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import synthetic  # noqa: E402

TARGET_CPU_RATIO = 2.5  # issue 21, item 1: the headline
TARGET_RATIO = 3.0  # issue 4: wall time
QUICK_CONTRACTS = 10_000
# The Anatel régua of the default policy (dunning/presets.py), which every synthetic
# contract follows: days late → level, and what the level does to the access status.
# The overdue contracts are found through the open títulos (index invoice_open_by_due),
# as the sweep finds them: Contract.oldest_open_due has no index (docs/decisions/0006).
OVERDUE = ("status = 'A' AND oldest_open_due <= %(d1)s AND dunning_level < 4 AND trust_release_until IS NULL "
           "AND id IN (SELECT contract_id FROM billing_invoice WHERE status = 'open' AND due_date <= %(d1)s)")
LEVEL = ("CASE WHEN oldest_open_due <= %(d76)s THEN 4 WHEN oldest_open_due <= %(d46)s THEN 3 "
         "WHEN oldest_open_due <= %(d16)s THEN 2 ELSE 1 END")
BARE_UPDATE = f"""
UPDATE contracts_contract SET
    dunning_level = {LEVEL},
    status = CASE WHEN oldest_open_due <= %(d76)s THEN 'N' ELSE status END,
    access_status = CASE
        WHEN oldest_open_due <= %(d76)s THEN 'D'
        WHEN oldest_open_due <= %(d46)s AND access_status IN ('A', 'FA') THEN 'CA'
        WHEN oldest_open_due <= %(d16)s AND access_status = 'A' THEN 'FA'
        ELSE access_status END,
    ended_at = CASE WHEN oldest_open_due <= %(d76)s THEN %(now)s ELSE ended_at END,
    version = version + 1,
    updated_at = %(now)s
WHERE {OVERDUE}
"""
# Per contract, before the sweep: its level to be, and how many times its access
# status will change (A → FA → CA → D: one per stage crossed; CM only at rescission).
# The level is one stage record (event) per stage crossed.
EXPECTED = f"""
WITH c AS (
    SELECT id, {LEVEL} AS level, access_status,
           CASE WHEN access_status = 'A' THEN
                (oldest_open_due <= %(d16)s)::int + (oldest_open_due <= %(d46)s)::int
                + (oldest_open_due <= %(d76)s)::int
                ELSE (oldest_open_due <= %(d76)s)::int END AS changes
    FROM contracts_contract WHERE {OVERDUE}
)
SELECT count(*), coalesce(sum(level), 0), coalesce(sum(changes), 0),
       (SELECT count(*) FROM sva_svauser u JOIN c ON c.id = u.contract_id
        WHERE u.deleted_at IS NULL AND c.changes > 0)
FROM c
"""
STATE = ("SELECT md5(string_agg(id || status || access_status || dunning_level, ',' ORDER BY id)), "
         "count(*) FILTER (WHERE dunning_level > 0) FROM contracts_contract")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CONTRACTS:,} contracts, 3 repetitions")
    parser.add_argument("--connections", type=int, default=2,
                        help="connections the bare UPDATE is split over (the sweep's SWEEP_WORKERS)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", metavar="FILE", help="pyinstrument the first sweep into FILE (.html/.txt)")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args()


def moments():
    today = synthetic.SWEEP_TODAY
    now = datetime(today.year, today.month, today.day, 6, tzinfo=synthetic.TZ)
    days = {f"d{n}": today - timedelta(days=n) for n in (1, 16, 46, 76)}
    return today, now, days


def child(profile: str | None) -> None:
    import django

    django.setup()
    from agrega.dunning import services
    from agrega.dunning.services import dunning_sweep

    today, now, _ = moments()
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    workers = synthetic.count_worker_backends()
    db_cpu, py_cpu = synthetic.backend_cpu(), synthetic.self_cpu()
    start = time.perf_counter()
    result = dunning_sweep(today=today, now=now)
    seconds = time.perf_counter() - start
    py_cpu, db_cpu = synthetic.self_cpu() - py_cpu, synthetic.backend_cpu() - db_cpu + sum(workers)
    if profiler:
        profiler.stop()
        Path(profile).write_text(profiler.output_html() if profile.endswith(".html") else profiler.output_text())
    print(json.dumps({"seconds": seconds, "py_cpu": py_cpu, "db_cpu": db_cpu, "result": result.as_dict(),
                      "workers": getattr(services, "SWEEP_WORKERS", 1)}), flush=True)


def expected(database: str) -> dict:
    import psycopg

    _, now, days = moments()
    with psycopg.connect(synthetic.db_url(database)) as conn:
        contracts, events, changes, users = conn.execute(EXPECTED, days).fetchone()
    return {"contracts": contracts, "events": events, "changes": changes, "users": users}


def bare(database: str, connections: int) -> tuple[float, float, int]:
    """Seconds, CPU seconds (PostgreSQL backends + this process) and rows of the bare
    UPDATE, split into ``connections`` id ranges, each on its own connection and in its
    own transaction, all at once (threads), as the sweep writes its chunks."""
    import threading

    import psycopg

    _, now, days = moments()
    conns = [psycopg.connect(synthetic.db_url(database)) for _ in range(connections)]
    try:
        low, high = conns[0].execute("SELECT min(id), max(id) + 1 FROM contracts_contract").fetchone()
        bounds = [low + (high - low) * k // connections for k in range(connections + 1)]
        for conn in conns:
            conn.execute("SELECT 1")  # connected and warm before the clock starts
            conn.commit()
        pids = [conn.info.backend_pid for conn in conns]
        rows = [0] * connections
        go = threading.Barrier(connections + 1)

        def write(k: int) -> None:
            go.wait()
            with conns[k].transaction():
                rows[k] = conns[k].execute(BARE_UPDATE + " AND id >= %(lo)s AND id < %(hi)s",
                                           {**days, "now": now, "lo": bounds[k], "hi": bounds[k + 1]}).rowcount

        threads = [threading.Thread(target=write, args=(k,)) for k in range(connections)]
        for thread in threads:
            thread.start()
        cpu = sum(synthetic.proc_cpu(pid) for pid in pids) + synthetic.self_cpu()
        start = time.perf_counter()
        go.wait()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
        cpu = sum(synthetic.proc_cpu(pid) for pid in pids) + synthetic.self_cpu() - cpu
        return seconds, cpu, sum(rows)
    finally:
        for conn in conns:
            conn.close()


def verify(sweep_db: str, bare_db: str, want: dict, got: dict) -> list[str]:
    import psycopg

    problems = []
    result = got["result"]
    with psycopg.connect(synthetic.db_url(sweep_db)) as conn:
        state_sweep = conn.execute(STATE).fetchone()
        events = conn.execute("SELECT count(*) FROM contracts_contractevent "
                              "WHERE actor_label = 'régua de cobrança'").fetchone()[0]
        notices = conn.execute("SELECT count(*) FROM dunning_dunningnotice").fetchone()[0]
        # the synthetic contracts start at access A or CM and status A: those that
        # moved are the ones whose users must have been bumped (once or more)
        bumped, bumped_right = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE c.status <> 'A' OR c.access_status IN ('FA', 'CA')) "
            "FROM sva_svauser u JOIN contracts_contract c ON c.id = u.contract_id "
            "JOIN sva_svapendingwork q ON q.sva_user_id = u.id").fetchone()  # queued: sva/pending.py
    with psycopg.connect(synthetic.db_url(bare_db)) as conn:
        state_bare = conn.execute(STATE).fetchone()
    if state_sweep != state_bare:
        problems.append(f"end state differs from the bare UPDATE's ({state_sweep[1]} vs {state_bare[1]} at a stage)")
    for what, have, should in (
        ("contracts at a stage", state_sweep[1], want["contracts"]),
        ("events", events, want["events"]),
        ("notices", notices, want["contracts"]), ("result.notices", result["notices"], want["contracts"]),
        ("result.access_changed", result["access_changed"], want["changes"]),
        ("SVA users bumped", bumped, want["users"]),
        ("SVA users bumped whose contract moved", bumped_right, want["users"]),
    ):
        if have != should:
            problems.append(f"{what}: {have} (expected {should})")
    return problems


def main() -> None:
    args = parse_args()
    if args.child is not None:
        return child(args.profile)
    if args.quick:
        args.contracts, args.repeat = QUICK_CONTRACTS, 3
    synthetic.stop_cleanly()
    template = synthetic.ensure_dataset(args.contracts, args.seed)
    sweep_db, bare_db = f"{template}_sweep", f"{template}_bare"
    print(f"dunning_sweep: {args.contracts:,} contracts, today {synthetic.SWEEP_TODAY:%d/%m/%Y}, "
          f"{args.repeat} repetition(s), each on two fresh copies of {template}; bare UPDATE on "
          f"{args.connections} connection(s); load average {'/'.join(f'{x:.1f}' for x in os.getloadavg())}",
          flush=True)
    results = []
    for rep in range(1, args.repeat + 1):
        with synthetic.copies(template, sweep_db, bare_db):
            want = expected(sweep_db)
            child_args = ["--profile", args.profile] if args.profile and rep == 1 else []
            if rep % 2:
                got, peak = synthetic.run_child(__file__, child_args, sweep_db)
                bare_seconds, bare_cpu, bare_rows = bare(bare_db, args.connections)
            else:
                bare_seconds, bare_cpu, bare_rows = bare(bare_db, args.connections)
                got, peak = synthetic.run_child(__file__, child_args, sweep_db)
            problems = verify(sweep_db, bare_db, want, got)
            if bare_rows != want["contracts"]:
                problems.append(f"bare UPDATE touched {bare_rows} rows (expected {want['contracts']})")
            if got.get("workers", 1) != args.connections:
                print(f"  note: the sweep wrote on {got.get('workers', 1)} connection(s), the bare UPDATE on "
                      f"{args.connections}", flush=True)
        ratio = got["seconds"] / bare_seconds
        cpu_ratio = (got["py_cpu"] + got["db_cpu"]) / bare_cpu if bare_cpu else float("nan")
        results.append({"sweep": got["seconds"], "bare": bare_seconds, "ratio": ratio, "peak": peak,
                        "py_cpu": got["py_cpu"], "db_cpu": got["db_cpu"], "cpu_ratio": cpu_ratio,
                        "bare_cpu": bare_cpu, "load": os.getloadavg()[0]})
        r = got["result"]
        print(f"  #{rep}: sweep {got['seconds']:6.2f} s (cpu python {got['py_cpu']:.1f} + postgres "
              f"{got['db_cpu']:.1f})  bare UPDATE {bare_seconds:6.2f} s (cpu {bare_cpu:.2f})  "
              f"ratio {ratio:4.2f} (cpu {cpu_ratio:.2f})  "
              f"rows {want['contracts']:,}  access changed {r['access_changed']:,}  events {want['events']:,}  "
              f"SVA users bumped {want['users']:,}  peak RSS {peak:.0f} MiB  load {os.getloadavg()[0]:.1f}  "
              f"{'verified' if not problems else 'WRONG: ' + '; '.join(problems)}", flush=True)
        if problems:
            raise SystemExit(1)
    sweep = statistics.median(r["sweep"] for r in results)
    bare_s = statistics.median(r["bare"] for r in results)
    ratio = statistics.median(r["ratio"] for r in results)
    cpu_ratio = statistics.median(r["cpu_ratio"] for r in results)
    sweep_cpu = statistics.median(r["py_cpu"] + r["db_cpu"] for r in results)
    bare_cpu = statistics.median(r["bare_cpu"] for r in results)
    verdict = "met" if cpu_ratio <= TARGET_CPU_RATIO else "not met"
    loads = [r["load"] for r in results]
    print(f"median of {len(results)}: CPU sweep {sweep_cpu:.2f} s vs bare UPDATE {bare_cpu:.2f} s: "
          f"CPU ratio {cpu_ratio:.2f} (target ≤ {TARGET_CPU_RATIO}: {verdict}); wall sweep {sweep:.2f} s vs "
          f"bare UPDATE {bare_s:.2f} s on {args.connections} connection(s): ratio {ratio:.2f} "
          f"(≤ {TARGET_RATIO:.0f}: {'met' if ratio <= TARGET_RATIO else 'not met'}); "
          f"load {min(loads):.1f}–{max(loads):.1f}")
    print(json.dumps({"bench": "dunning_sweep", "size": args.contracts, "figure": "CPU sweep ÷ bare UPDATE",
                      "value": round(sweep_cpu, 3), "baseline": round(bare_cpu, 3), "ratio": round(cpu_ratio, 3),
                      "target": TARGET_CPU_RATIO, "better": "lower", "verdict": verdict,
                      "wall": round(sweep, 3), "wall_baseline": round(bare_s, 3), "wall_ratio": round(ratio, 3),
                      "connections": args.connections, "rounds": len(results),
                      "load": [round(min(loads), 1), round(max(loads), 1)]}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
