"""The daily dunning sweep over N synthetic contracts (10 % overdue) on PostgreSQL,
against bare SQL that leaves the same contracts in the same state.

Each repetition makes three fresh copies of the dataset (see synthetic.py). On one,
``dunning_sweep(today=5 Dec 2026)`` runs in a child process (timed alone: stages,
events, notices, SVA bumps). On the second, **the same work in bare SQL** (issue 21: a
baseline that does the same work with the same resources): one statement per connection
that moves the same contracts (the régua as CASEs on ``oldest_open_due``) and writes the
same records — a Histórico event per stage crossed, a notice per contract, the SVA users
of every contract whose access changed queued — through data-modifying CTEs. On the
third, the bare UPDATE alone (the contracts' status, access status and stage; the
baseline until 2026-12-07, kept as context). Both bare sides run with the sweep's
resources: split by id range over as many connections as the sweep writes with
(``dunning.services.SWEEP_WORKERS``, 2), all at once, each its own transaction. The order
of the three alternates between repetitions. Verified: every record the sweep wrote
(contracts with their version and dates, events, notices, queued users) equals the
same-work SQL's, row by row; the end state equals the bare UPDATE's; and the counts
match what the data implies.

    ./run bench dunning_sweep --contracts 100000 --repeat 3
    ./run bench dunning_sweep --contracts 1000000 --repeat 2
    ./run bench dunning_sweep --quick                 # 10,000 contracts, 3 repetitions

Headline (issue 21, item 1): the CPU ratio — the sweep's CPU (its Python process and
every PostgreSQL backend it used) over the same-work SQL's (its backends and the bench
process) — target ≤ 2.5; beside it the CPU ratio to the UPDATE alone (same target, not
the same work) and the wall ratios (issue 4's ≤ 3, to the UPDATE alone). The last line
printed is one JSON object (``bench/README.md``, "Summary").
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
ACTOR_LABEL = "régua de cobrança"  # who the sweep's events name
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
# The same work in bare SQL (issue 21: a baseline that does the same work): the same
# UPDATE, plus the records the régua keeps — one Histórico event per stage crossed, one
# notice per contract (stage 1, a notice), the live SVA users of every contract whose
# access changed queued (sva_svapendingwork, the same upsert) — as one statement per
# connection (data-modifying CTEs), no ORDER BY. Written from the régua's table below, not
# from the code under test: every synthetic contract starts at stage 0, access A or CM.
STAGE_DAYS = {1: 1, 2: 16, 3: 46, 4: 76}
STAGE_ACTIONS = {1: "notice", 2: "partial_suspension", 3: "block_automatic", 4: "rescind"}
# (start access, level) → (event action, from status, to status, from access, to access)
STEPS = {
    ("A", 1): ("dunning_notice", "A", "A", "A", "A"), ("A", 2): ("dunning_stage", "A", "A", "A", "FA"),
    ("A", 3): ("dunning_stage", "A", "A", "FA", "CA"), ("A", 4): ("rescind", "A", "N", "CA", "D"),
    ("CM", 1): ("dunning_notice", "A", "A", "CM", "CM"), ("CM", 2): ("dunning_stage", "A", "A", "CM", "CM"),
    ("CM", 3): ("dunning_stage", "A", "A", "CM", "CM"), ("CM", 4): ("rescind", "A", "N", "CM", "D"),
}
POLICY_NAME = "Anatel (RGC)"
# access changes per (start access, level reached): the version goes up by as many
CHANGES = ("CASE WHEN access_status = 'A' THEN (oldest_open_due <= %(d16)s)::int + (oldest_open_due <= %(d46)s)::int "
           "+ (oldest_open_due <= %(d76)s)::int ELSE (oldest_open_due <= %(d76)s)::int END")
SAME_WORK = f"""
WITH w AS (
    UPDATE contracts_contract c SET
        dunning_level = o.level,
        status = CASE WHEN o.level = 4 THEN 'N' ELSE c.status END,
        access_status = CASE
            WHEN o.level = 4 THEN 'D'
            WHEN o.level = 3 AND c.access_status IN ('A', 'FA') THEN 'CA'
            WHEN o.level = 2 AND c.access_status = 'A' THEN 'FA'
            ELSE c.access_status END,
        ended_at = CASE WHEN o.level = 4 THEN %(now)s ELSE c.ended_at END,
        version = c.version + o.changes,
        updated_at = %(now)s
    FROM (SELECT id, access_status AS access0, {LEVEL} AS level, {CHANGES} AS changes
          FROM contracts_contract WHERE {OVERDUE} AND id >= %(lo)s AND id < %(hi)s) AS o
    WHERE c.id = o.id
    RETURNING c.id, o.access0, o.level, o.changes, c.oldest_open_due
), ev AS (
    INSERT INTO contracts_contractevent (contract_id, action, actor_id, actor_label, from_status, to_status,
                                         from_access_status, to_access_status, detail, created_at)
    SELECT w.id, s.action, NULL, %(actor)s, s.fs, s.ts, s.fa, s.ta, s.detail, %(now)s
    FROM w JOIN (VALUES {{steps}}) AS s(access0, level, action, fs, ts, fa, ta, detail)
         ON s.access0 = w.access0 AND s.level <= w.level
), notices AS (
    INSERT INTO dunning_dunningnotice (contract_id, level, oldest_due, created_at, send_error)
    SELECT w.id, 1, w.oldest_open_due, %(now)s, '' FROM w
), queued AS (
    INSERT INTO sva_svapendingwork (sva_user_id, due_at, queued_at, bumps)
    SELECT u.id, %(now)s, %(now)s, 0 FROM sva_svauser u JOIN w ON u.contract_id = w.id
    WHERE w.changes > 0 AND u.deleted_at IS NULL
    ON CONFLICT (sva_user_id) DO UPDATE SET due_at = LEAST(sva_svapendingwork.due_at, excluded.due_at),
                                            bumps = sva_svapendingwork.bumps + 1
)
SELECT count(*) FROM w
"""


def same_work_sql() -> tuple[str, dict]:
    """SAME_WORK with the régua's steps as a VALUES list, and their parameters."""
    rows, params = [], {}
    for n, ((access0, level), (action, fs, ts, fa, ta)) in enumerate(sorted(STEPS.items())):
        rows.append(f"(%(a{n})s, %(l{n})s::smallint, %(x{n})s, %(fs{n})s, %(ts{n})s, %(fa{n})s, %(ta{n})s, "
                    f"%(j{n})s::jsonb)")
        detail = {"level": level, "days_after_due": STAGE_DAYS[level], "policy": POLICY_NAME,
                  "action": STAGE_ACTIONS[level]}
        params.update({f"a{n}": access0, f"l{n}": level, f"x{n}": action, f"fs{n}": fs, f"ts{n}": ts,
                       f"fa{n}": fa, f"ta{n}": ta, f"j{n}": json.dumps(detail)})
    return SAME_WORK.replace("{steps}", ", ".join(rows)), params


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
# Everything the sweep writes, row by row, as digests: contracts (version and dates too),
# Histórico events (by contract and stage), notices, queued SVA users. The sweep's and the
# same-work baseline's must be equal (the queue's times are the writer's clock: left out).
RECORDS = """
SELECT (SELECT md5(string_agg(concat_ws('|', id, status, access_status, dunning_level, version, ended_at, updated_at),
                              ',' ORDER BY id)) FROM contracts_contract),
       (SELECT md5(string_agg(concat_ws('|', contract_id, action, actor_id, actor_label, from_status, to_status,
                                        from_access_status, to_access_status, detail::text, created_at),
                              ',' ORDER BY contract_id, (detail->>'level')::int)) FROM contracts_contractevent),
       (SELECT md5(string_agg(concat_ws('|', contract_id, level, oldest_due, created_at, sent_at, send_error),
                              ',' ORDER BY contract_id, level)) FROM dunning_dunningnotice),
       (SELECT md5(string_agg(sva_user_id || '|' || bumps, ',' ORDER BY sva_user_id)) FROM sva_svapendingwork)
"""
# Events of one contract written out of stage order (the sweep records the stages in order)
EVENTS_OUT_OF_ORDER = """
SELECT count(*) FROM (SELECT (detail->>'level')::int - lag((detail->>'level')::int)
                             OVER (PARTITION BY contract_id ORDER BY id) AS step
                      FROM contracts_contractevent) AS e WHERE step <= 0
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


def bare(database: str, connections: int, same_work: bool = False) -> tuple[float, float, int]:
    """Seconds, CPU seconds (PostgreSQL backends + this process) and rows of the bare
    UPDATE (``same_work``: SAME_WORK, the UPDATE and the records), split into
    ``connections`` id ranges, each on its own connection and in its own transaction, all
    at once (threads), as the sweep writes its chunks."""
    import threading

    import psycopg

    _, now, days = moments()
    if same_work:
        statement, extra = same_work_sql()
    else:
        statement, extra = BARE_UPDATE + " AND id >= %(lo)s AND id < %(hi)s", {}
    params = {**days, **extra, "now": now, "actor": ACTOR_LABEL}
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
                cursor = conns[k].execute(statement, {**params, "lo": bounds[k], "hi": bounds[k + 1]})
                rows[k] = cursor.fetchone()[0] if same_work else cursor.rowcount

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


def verify(sweep_db: str, bare_db: str, same_db: str, want: dict, got: dict) -> list[str]:
    import psycopg

    problems = []
    result = got["result"]
    with psycopg.connect(synthetic.db_url(sweep_db)) as conn:
        records_sweep = conn.execute(RECORDS).fetchone()
        if conn.execute(EVENTS_OUT_OF_ORDER).fetchone()[0]:
            problems.append("the sweep wrote a contract's events out of stage order")
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
    with psycopg.connect(synthetic.db_url(same_db)) as conn:
        records_same = conn.execute(RECORDS).fetchone()
    for what, mine, theirs in zip(("contracts", "events", "notices", "queued SVA users"), records_sweep, records_same):
        if mine != theirs:
            problems.append(f"{what} differ from the same-work baseline's")
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
    sweep_db, bare_db, same_db = f"{template}_sweep", f"{template}_bare", f"{template}_same"
    print(f"dunning_sweep: {args.contracts:,} contracts, today {synthetic.SWEEP_TODAY:%d/%m/%Y}, "
          f"{args.repeat} repetition(s), each on three fresh copies of {template}; the bare SQL (the same "
          f"work; the UPDATE alone) on {args.connections} connection(s); load average "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    results = []
    for rep in range(1, args.repeat + 1):
        with synthetic.copies(template, sweep_db, bare_db, same_db):
            want = expected(sweep_db)
            child_args = ["--profile", args.profile] if args.profile and rep == 1 else []
            sides = ["sweep", "same", "update"] if rep % 2 else ["update", "same", "sweep"]  # alternate the order
            for side in sides:
                if side == "sweep":
                    got, peak = synthetic.run_child(__file__, child_args, sweep_db)
                elif side == "same":
                    same_seconds, same_cpu, same_rows = bare(same_db, args.connections, same_work=True)
                else:
                    bare_seconds, bare_cpu, bare_rows = bare(bare_db, args.connections)
            problems = verify(sweep_db, bare_db, same_db, want, got)
            for what, rows in (("bare UPDATE", bare_rows), ("same-work SQL", same_rows)):
                if rows != want["contracts"]:
                    problems.append(f"{what} touched {rows} rows (expected {want['contracts']})")
            if got.get("workers", 1) != args.connections:
                print(f"  note: the sweep wrote on {got.get('workers', 1)} connection(s), the bare SQL on "
                      f"{args.connections}", flush=True)
        sweep_cpu = got["py_cpu"] + got["db_cpu"]
        results.append({"sweep": got["seconds"], "bare": bare_seconds, "same": same_seconds, "peak": peak,
                        "py_cpu": got["py_cpu"], "db_cpu": got["db_cpu"], "sweep_cpu": sweep_cpu,
                        "bare_cpu": bare_cpu, "same_cpu": same_cpu,
                        "cpu_ratio": sweep_cpu / same_cpu if same_cpu else float("nan"),
                        "cpu_ratio_update": sweep_cpu / bare_cpu if bare_cpu else float("nan"),
                        "ratio": got["seconds"] / same_seconds, "ratio_update": got["seconds"] / bare_seconds,
                        "load": os.getloadavg()[0]})
        r, res = got["result"], results[-1]
        print(f"  #{rep}: sweep {got['seconds']:5.2f} s (cpu python {got['py_cpu']:.2f} + postgres "
              f"{got['db_cpu']:.2f})  same-work SQL {same_seconds:5.2f} s (cpu {same_cpu:.2f})  "
              f"UPDATE alone {bare_seconds:5.2f} s (cpu {bare_cpu:.2f})  CPU ratio {res['cpu_ratio']:.2f} "
              f"(to the UPDATE alone {res['cpu_ratio_update']:.2f})  wall ratio {res['ratio']:.2f} "
              f"({res['ratio_update']:.2f})  rows {want['contracts']:,}  access changed {r['access_changed']:,}  "
              f"events {want['events']:,}  SVA users bumped {want['users']:,}  peak RSS {peak:.0f} MiB  "
              f"load {os.getloadavg()[0]:.1f}  {'verified' if not problems else 'WRONG: ' + '; '.join(problems)}",
              flush=True)
        if problems:
            raise SystemExit(1)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    cpu_ratio, cpu_ratio_update = med("cpu_ratio"), med("cpu_ratio_update")
    verdict = "met" if cpu_ratio <= TARGET_CPU_RATIO else "not met"
    verdict_update = "met" if cpu_ratio_update <= TARGET_CPU_RATIO else "not met"
    loads = [r["load"] for r in results]
    print(f"median of {len(results)}: CPU sweep {med('sweep_cpu'):.2f} s vs the same work in bare SQL "
          f"{med('same_cpu'):.2f} s: CPU ratio {cpu_ratio:.2f} (target ≤ {TARGET_CPU_RATIO}: {verdict}); "
          f"vs the UPDATE alone {med('bare_cpu'):.2f} s: {cpu_ratio_update:.2f} ({verdict_update}); "
          f"wall sweep {med('sweep'):.2f} s vs {med('same'):.2f} s / {med('bare'):.2f} s on {args.connections} "
          f"connection(s): ratio {med('ratio'):.2f} / {med('ratio_update'):.2f} "
          f"(≤ {TARGET_RATIO:.0f}: {'met' if med('ratio_update') <= TARGET_RATIO else 'not met'}); "
          f"load {min(loads):.1f}–{max(loads):.1f}")
    print(json.dumps({"bench": "dunning_sweep", "size": args.contracts,
                      "figure": "CPU sweep ÷ the same work in bare SQL",
                      "value": round(med("sweep_cpu"), 3), "baseline": round(med("same_cpu"), 3),
                      "ratio": round(cpu_ratio, 3), "target": TARGET_CPU_RATIO, "better": "lower", "verdict": verdict,
                      "baseline_update_only": round(med("bare_cpu"), 3),
                      "ratio_update_only": round(cpu_ratio_update, 3), "verdict_update_only": verdict_update,
                      "wall": round(med("sweep"), 3), "wall_baseline": round(med("same"), 3),
                      "wall_ratio": round(med("ratio"), 3), "wall_update_only": round(med("bare"), 3),
                      "wall_ratio_update_only": round(med("ratio_update"), 3),
                      "connections": args.connections, "rounds": len(results),
                      "load": [round(min(loads), 1), round(max(loads), 1)]}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
