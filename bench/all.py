"""Every bench in bench/, one after the other, and one summary table at the end.

    ./run bench all --quick                  # every bench at a small size, < 10 minutes
    ./run bench all --quick --only api_load,peer_billing
    ./run bench all --markdown /tmp/summary.md
    ./run bench all                          # every bench at full size (hours): its defaults, or
                                             # the runs FULL names (the sizes the targets are for)

Each bench runs as its own process (``bench/<name>.py``, with ``--quick`` when asked) and
ends with its summary line(s) (bench/summary.py): figure, baseline measured beside it,
ratio, target, verdict. The runner collects those lines and prints the table with the
date, the commit, the machine (cores, CPU model) and the load average before each bench.
A bench that prints no summary line gets the verdict "no summary"; one that does not know
``--quick`` yet runs with the small arguments kept here (``FALLBACK``); one that fails or
overruns its time is reported as such and the run goes on. Each bench's whole output is
kept in ``$AGREGA_VAR_DIR/bench-all/<date>/<bench>.log`` (``var/`` by default).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import summary  # noqa: E402

# The benches in the order they run, and the seconds each may take with --quick. The
# quick budget adds up to under 10 minutes.
BENCHES: dict[str, float] = {
    "billing_run": 45,
    "dunning_sweep": 40,
    "sync_throughput": 35,
    "task_worker_beside": 45,
    "convergence": 40,
    "customer_search": 25,
    "import_customers": 25,
    "api_load": 120,
    "peer_billing": 80,
    "nfcom_emit": 20,
    "sefaz_authorise": 25,
    "pix_cobv": 25,
    "payment_to_access": 45,
}
# Small arguments for a bench that does not accept --quick (yet).
FALLBACK: dict[str, list[str]] = {
    "billing_run": ["--contracts", "10000", "--repeat", "1"],
    "dunning_sweep": ["--contracts", "10000", "--repeat", "1"],
    "sync_throughput": ["--users", "200", "--rounds", "1"],
    "task_worker_beside": ["--users", "100", "--contracts", "2000", "--rounds", "1"],
    "nfcom_emit": ["--documents", "200", "--rounds", "1"],
    "sefaz_authorise": ["--documents", "100", "--rounds", "1"],
    "pix_cobv": ["--count", "1000", "--rounds", "1"],
    "payment_to_access": ["--contracts", "20", "--rate", "10", "--burst", "20"],
}
# What a bench builds once on a new machine and reuses (a peer ERP's install, its
# templates), run before the bench's timed run and outside its budget, with this much
# time: a first run from a fresh clone needs no hand step; on later runs it takes seconds.
PREPARE: dict[str, list[str]] = {
    "peer_billing": ["--prepare"],
}
PREPARE_BUDGET = 1200.0
# The full run (no --quick): the runs issue 21's targets are written for, where a bench's own
# default size is not that run — a list of (label, arguments, environment) per bench; a
# bench not listed runs once with its defaults. The row's bench name carries the label.
PG = "postgres://postgres@127.0.0.1:5432/"
FULL: dict[str, list[tuple[str, list[str], dict[str, str]]]] = {
    # item 5 is the 1,000,000-contract run (the default 100,000 scales its targets)
    "billing_run": [("1m", ["--contracts", "1000000", "--repeat", "2"], {})],
    # item 1: the CPU ratio at 100,000 and at 1,000,000
    "dunning_sweep": [("100k", ["--contracts", "100000", "--repeat", "3"], {}),
                      ("1m", ["--contracts", "1000000", "--repeat", "2"], {})],
    # item 4's target is PostgreSQL's (the bench's default database is SQLite)
    "sync_throughput": [("postgresql", ["--users", "1000", "--rounds", "4"],
                         {"DATABASE_URL": PG + "agrega_bench_sync"})],
    # Tryton bills N = 2,000 in 3–12 min per side and N = 10,000 takes it over an hour with
    # its templates (bench/README.md, "peer_billing"): one repetition at 2,000 in the full run
    "peer_billing": [("2k", ["--customers", "2000", "--repeat", "1"], {})],
}


def full_runs(name: str) -> list[tuple[str, list[str], dict[str, str]]]:
    """The bench's full runs: FULL's, or one with its own defaults."""
    return FULL.get(name, [("", [], {})])


NOT_BENCHES = {"all", "ab", "summary", "synthetic", "pix_cobv_agrega"}  # helpers: the A/B runner, datasets,
#                                                                  Agrega's side of pix_cobv


def known_benches() -> list[str]:
    """The listed benches first, in order, then any other bench/*.py (a new one still runs)."""
    found = sorted(p.stem for p in HERE.glob("*.py") if p.stem not in NOT_BENCHES and not p.stem.startswith("_"))
    return [b for b in BENCHES if b in found] + [b for b in found if b not in BENCHES]


def machine() -> str:
    model = "?"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                model = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {model}, {mem:.0f} GiB"


def commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "?"
    return head + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_one(name: str, args: list[str], timeout: float | None, log: Path, echo: bool,
            env: dict[str, str] | None = None) -> tuple[int | None, str, float]:
    """The bench's exit code (None on timeout), its output (stdout and stderr together)
    and its seconds. Timed out: SIGTERM to its process group (the benches drop their
    database copies on it), SIGKILL 30 s later."""
    import threading

    command = [sys.executable, str(HERE / f"{name}.py"), *args]
    start = time.monotonic()
    chunks: list[str] = []
    with open(log, "w") as out:
        out.write("$ " + " ".join([*(f"{k}={v}" for k, v in (env or {}).items()), *command]) + "\n")
        out.flush()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1, start_new_session=True,
                                env={**os.environ, **env} if env else None)

        def read() -> None:
            for text in proc.stdout:
                chunks.append(text)
                out.write(text)
                out.flush()
                if echo:
                    sys.stdout.write(f"  {name}| {text}")
                    sys.stdout.flush()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(proc)
        reader.join(timeout=10)
    return (None if timed_out else proc.returncode), "".join(chunks), time.monotonic() - start


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def rows_for(name: str, code: int | None, output: str, seconds: float, load: float, timeout: float | None) -> list[dict]:
    """The bench's summary rows, or one row saying why there is none."""
    found = summary.parse(output)
    if code is None:
        note = f"stopped after {timeout:.0f} s"
    elif code != 0:
        note = f"exit {code}"
    else:
        note = ""
    if not found:
        verdict = "timeout" if code is None else "failed" if code != 0 else "no summary"
        return [{"bench": name, "verdict": verdict, "note": note, "seconds": seconds, "load": load}]
    rows = []
    for record in found:
        row = {**record, "seconds": seconds, "load": load}
        if note:
            row["note"] = f"{row['note']}; {note}" if row.get("note") else note
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every bench at a small size (under 10 minutes in all)")
    parser.add_argument("--only", help="comma-separated benches to run")
    parser.add_argument("--skip", default="", help="comma-separated benches to leave out")
    parser.add_argument("--timeout", type=float, help="seconds per bench (default: the quick budget with --quick, "
                                                      "none without)")
    parser.add_argument("--verbose", action="store_true", help="echo every bench's output as it runs")
    parser.add_argument("--markdown", type=Path, help="also write the summary to this file")
    args = parser.parse_args(argv)

    names = known_benches()
    if args.only:
        wanted = [b for b in args.only.split(",") if b]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise SystemExit(f"benches desconhecidos: {', '.join(unknown)} (há: {', '.join(names)})")
        names = wanted
    names = [b for b in names if b not in set(args.skip.split(","))]

    started = datetime.now(timezone.utc)
    var = Path(os.environ.get("AGREGA_VAR_DIR", ROOT / "var"))
    logs = var / "bench-all" / started.strftime("%Y%m%dT%H%M%SZ")
    logs.mkdir(parents=True, exist_ok=True)
    header = {"date": started.strftime("%Y-%m-%d %H:%M UTC"), "commit": commit(), "machine": machine(),
              "load average at the start (1, 5, 15 min)": loadavg(),
              "mode": "--quick" if args.quick else "full sizes (each bench's defaults, or FULL's runs)"}
    print(f"bench all: {len(names)} benches, {header['mode']}; {header['machine']}; load {header['load average at the start (1, 5, 15 min)']}; "
          f"logs in {logs}", flush=True)
    rows: list[dict] = []
    prepared: dict[str, float] = {}
    for name in names:
        timeout = args.timeout if args.timeout is not None else (BENCHES.get(name, 60) if args.quick else None)
        bench_args = ["--quick"] if args.quick else []
        if name in PREPARE:
            # for the size the bench will run at: --quick's, or the (first) full run's
            prep_args = [*PREPARE[name], *(bench_args if args.quick else full_runs(name)[0][1])]
            code, output, seconds = run_one(name, prep_args, PREPARE_BUDGET, logs / f"{name}.prepare.log",
                                            args.verbose)
            prepared[name] = seconds
            print(f"  {name:20s} {seconds:6.1f} s  prepared ({' '.join(prep_args)}; outside its budget)", flush=True)
            if code != 0:
                rows += rows_for(name, code, "", seconds, os.getloadavg()[0], PREPARE_BUDGET)
                rows[-1]["note"] = f"preparing: {rows[-1]['note'] or 'no output'}"
                continue
        runs = [("", bench_args, {})] if args.quick else full_runs(name)
        for label, run_args, env in runs:
            load = os.getloadavg()[0]
            log = logs / (f"{name}.{label}.log" if label else f"{name}.log")
            code, output, seconds = run_one(name, run_args, timeout, log, args.verbose, env)
            if args.quick and code == 2 and "unrecognized arguments: --quick" in output:
                fallback = FALLBACK.get(name)
                if fallback is None:
                    rows.append({"bench": name, "verdict": "no --quick", "seconds": seconds, "load": load})
                    print(f"  {name:20s} no --quick and no small size known: skipped", flush=True)
                    continue
                spent = seconds
                code, output, seconds = run_one(name, fallback, None if timeout is None else max(5.0, timeout - spent),
                                                log, args.verbose)
                seconds += spent
            these = rows_for(name, code, output, seconds, load, timeout)
            if label:
                for row in these:
                    row["bench"] = f"{row['bench']} [{label}]"
            rows += these
            print(f"  {name:20s} {seconds:6.1f} s  " + "; ".join(
                f"{r.get('bench')}: {r.get('verdict')}" for r in these), flush=True)
    header["load average at the end (1, 5, 15 min)"] = loadavg()
    header["wall time"] = f"{(datetime.now(timezone.utc) - started).total_seconds() / 60:.1f} min"
    if prepared:
        header["of which preparing (outside the budgets)"] = ", ".join(
            f"{name} {seconds:.0f} s" for name, seconds in prepared.items())
    table = summary.render(header, rows)
    print("\n" + table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    (logs / "summary.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
