"""A/B of one bench between an older commit ("before") and this tree ("after"), in one
window: the rounds alternate which side runs first (after, before; before, after; …),
and the medians of each side's figures are compared.

    .venv/bin/python bench/ab.py --before 9d38c08 --rounds 4 dunning_sweep --contracts 100000 --repeat 1
    .venv/bin/python bench/ab.py --before 9d38c08 --rounds 3 billing_run --contracts 100000 --repeat 1

The before side is a git worktree of that commit (made once, under /tmp, kept for the next
run; ``--remove`` deletes it at the end). Both sides run *this* tree's bench/ directory
(copied into the worktree), so the measuring code is the same and only the application
differs; each side has its own datasets (``AGREGA_BENCH_DB_TAG``) unless the two
trees have the same migrations. Every bench compared this way prints one JSON line last with its
``ratio`` (against its own baseline, measured in the same run) and ``better``
("lower"/"higher"). Target (issue 16): the after side's ratio within 10 % of the before
side's, or better.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 0.10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="9d38c08", help="the commit to compare with")
    parser.add_argument("--tree", help="where its worktree goes (default /tmp/agrega_ab_<commit>)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--remove", action="store_true", help="remove the before worktree at the end")
    parser.add_argument("bench")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the bench's own arguments (e.g. --repeat 1)")
    return parser.parse_args()


def before_tree(commit: str, path: Path) -> Path:
    """The worktree of ``commit`` with this tree's bench/ in it."""
    if not (path / ".git").exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit], check=True,
                       stdout=subprocess.DEVNULL)
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    want = subprocess.run(["git", "-C", str(ROOT), "rev-parse", commit], check=True, capture_output=True,
                          text=True).stdout.strip()
    if head != want:
        raise SystemExit(f"{path} is at {head[:9]}, not {commit}: remove it or pass --tree")
    shutil.copytree(ROOT / "bench", path / "bench", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return path


def run_side(tree: Path, tag: str, bench: str, args: list[str]) -> list[dict]:
    """Every summary line the bench printed (JSON objects with a ``ratio``): one for most
    benches, one per figure for api_load."""
    env = {**os.environ, "AGREGA_BENCH_DB_TAG": tag, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, str(tree / "bench" / f"{bench}.py"), *args], cwd=tree, env=env,
                          capture_output=True, text=True)
    lines = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict) and isinstance(record.get("ratio"), (int, float)):
                lines.append(record)
                continue
        print(f"    {line}", flush=True)
    if proc.returncode != 0 or not lines:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{bench} failed on {tree} (exit {proc.returncode})")
    return lines


def direction(record: dict) -> str:
    """"lower" or "higher": the bench's ``better``, else read from its target text."""
    if record.get("better") in ("lower", "higher"):
        return record["better"]
    return "higher" if str(record.get("target", "")).lstrip().startswith(("≥", ">")) else "lower"


def main() -> None:
    args = parse_args()
    tree = before_tree(args.before, Path(args.tree or f"/tmp/agrega_ab_{args.before}"))
    base = os.environ.get("AGREGA_BENCH_DB_TAG", "ab")
    # the before side's own datasets, unless its migrations are this tree's (then both
    # sides read copies of the same dataset)
    same_schema = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", args.before, "--", "agrega/*/migrations/*"]
                                 ).returncode == 0
    short = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=7", args.before], check=True,
                           capture_output=True, text=True).stdout.strip()
    sides = {"after": (ROOT, base), "before": (tree, base if same_schema else f"{base}b{short}")}
    results: dict[str, list[list[dict]]] = {"after": [], "before": []}
    loads: list[float] = []
    print(f"ab: {args.bench} {' '.join(args.args)}; before = {args.before} ({tree}), after = {ROOT}; "
          f"{args.rounds} round(s); load average {'/'.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    try:
        for round_ in range(1, args.rounds + 1):
            order = ("after", "before") if round_ % 2 else ("before", "after")
            for side in order:
                print(f"  round {round_}, {side}:", flush=True)
                got = run_side(*sides[side], args.bench, args.args)
                loads.append(os.getloadavg()[0])
                results[side].append(got)
                for r in got:
                    print(f"  round {round_}, {side}: {r['bench']}: ratio {r['ratio']:.3f} (value "
                          f"{r.get('value', r.get('figure'))}, baseline {r.get('baseline')}), load {loads[-1]:.1f}",
                          flush=True)
    finally:
        if args.remove:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)])
    # one comparison per figure (a bench's summary line, by its "bench" name)
    names = [r["bench"] for r in results["after"][0]]
    figures, all_ok = [], True
    for name in names:
        per_side = {side: [r for lines in rs for r in lines if r["bench"] == name] for side, rs in results.items()}
        if not per_side["before"]:
            continue
        better = direction(per_side["after"][0])
        med = {side: {key: statistics.median(r[key] for r in rs if isinstance(r.get(key), (int, float)))
                      for key in ("ratio", "value", "figure", "baseline", "wall", "wall_baseline", "wall_ratio")
                      if any(isinstance(r.get(key), (int, float)) for r in rs)}
               for side, rs in per_side.items()}
        change = med["after"]["ratio"] / med["before"]["ratio"]
        ok = change <= 1 + TOLERANCE if better == "lower" else change >= 1 - TOLERANCE
        all_ok &= ok
        for side in ("before", "after"):
            print(f"{name}: median {side}: " + ", ".join(f"{k} {v:.3f}" for k, v in med[side].items()))
        print(f"{name}: after ÷ before, ratio: {change:.3f} ({better} is better; target within {TOLERANCE:.0%} "
              f"or better: {'met' if ok else 'not met'})")
        figures.append({"figure": name, "ratio_before": round(med["before"]["ratio"], 3),
                        "ratio_after": round(med["after"]["ratio"], 3), "ratio": round(change, 3),
                        "better": better, "verdict": "met" if ok else "not met"})
    print(f"load {min(loads):.1f}–{max(loads):.1f}")
    head = figures[0]
    print(json.dumps({"bench": f"ab:{args.bench}", "args": args.args, "before": args.before,
                      "ratio_before": head["ratio_before"], "ratio_after": head["ratio_after"],
                      "ratio": head["ratio"], "target": 1 + TOLERANCE if head["better"] == "lower" else 1 - TOLERANCE,
                      "better": head["better"], "verdict": "met" if all_ok else "not met", "rounds": args.rounds,
                      "figures": figures if len(figures) > 1 else None,
                      "load": [round(min(loads), 1), round(max(loads), 1)]}, ensure_ascii=False))

if __name__ == "__main__":
    main()
