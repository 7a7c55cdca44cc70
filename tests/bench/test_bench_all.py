"""bench/all.py: it runs each bench as a process, reads the summary lines they print and
renders the table. Real subprocesses of small stand-in benches; no timing is asserted."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture()
def runner(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    for name in ("all", "summary"):
        sys.modules.pop(name, None)
    module = importlib.import_module("all")
    benches = tmp_path / "benches"
    benches.mkdir()
    monkeypatch.setattr(module, "HERE", benches)
    monkeypatch.setenv("AGREGA_VAR_DIR", str(tmp_path / "var"))
    return module, benches


def write_bench(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text("import argparse, json, sys\n" + body)


SUMMARY = {"bench": "fast", "figure": 2.5, "baseline": 1.25, "ratio": 2.0, "target": "≤ 2.5", "verdict": "met"}


def test_parse_keeps_only_summary_lines():
    sys.path.insert(0, str(BENCH_DIR))
    import summary

    output = "\n".join([
        "setting up …",
        json.dumps({"seconds": 1.0}),  # a child's report: no "bench" key
        "JSON {\"x\": 1}",
        "{not json}",
        summary.line("api_load/contract_list p99", figure=12.0, baseline=10.0, ratio=1.2, target="≤ 1.5",
                     verdict=summary.verdict(True), unit="ms"),
        json.dumps(SUMMARY),
    ])
    found = summary.parse(output)
    assert [r["bench"] for r in found] == ["api_load/contract_list p99", "fast"]
    assert found[0]["unit"] == "ms" and found[0]["verdict"] == "met"
    assert summary.verdict(False) == "NOT met"


def test_runner_collects_lines_and_renders_the_table(runner, capsys):
    module, benches = runner
    write_bench(benches, "fast", "p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true')\n"
                                 "a = p.parse_args(); assert a.quick\n"
                                 "print('working'); print(json.dumps(%r))\n" % SUMMARY)
    write_bench(benches, "silent", "argparse.ArgumentParser().add_argument('--quick', action='store_true')\n"
                                   "print('done, but no summary')\n")
    write_bench(benches, "broken", "print('about to fail', flush=True); sys.exit(3)\n")
    write_bench(benches, "old", "p = argparse.ArgumentParser(); p.add_argument('--size'); p.parse_args()\n")
    out_file = benches.parent / "summary.md"
    module.main(["--quick", "--only", "fast,silent,broken,old", "--markdown", str(out_file)])

    table = out_file.read_text()
    lines = table.splitlines()
    for key in ("date", "commit", "machine", "load average at the start"):
        assert any(line.startswith(f"- {key}") for line in lines), key
    assert "| bench | figure | baseline | ratio | target | verdict | load (1 min) | seconds |" in lines
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[1:-1]]
            for line in lines if line.startswith("| ") and not line.startswith("| bench")}
    assert rows["fast"][1:6] == ["2.50", "1.25", "2.00", "≤ 2.5", "met"]
    assert rows["silent"][5] == "no summary"
    assert rows["broken"][5] == "failed (exit 3)"
    assert rows["old"][5] == "no --quick"
    assert "| fast |" in capsys.readouterr().out
    logs = list((benches.parent / "var" / "bench-all").glob("*/fast.log"))
    assert logs and "working" in logs[0].read_text()


def test_runner_stops_a_bench_past_its_time(runner):
    module, benches = runner
    write_bench(benches, "stuck", "import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    code, output, _ = module.run_one("stuck", [], 1.0, benches / "stuck.log", False)
    assert code is None and "started" in output
    rows = module.rows_for("stuck", code, output, 1.0, 0.5, 1.0)
    assert rows[0]["verdict"] == "timeout"


def test_every_bench_is_listed_and_known():
    sys.path.insert(0, str(BENCH_DIR))
    sys.modules.pop("all", None)
    module = importlib.import_module("all")
    found = module.known_benches()
    assert "api_load" in found and "peer_billing" in found
    assert "summary" not in found and "synthetic" not in found and "all" not in found
    assert "ab" not in found  # the A/B runner: it needs a bench and a commit, it is not one
    assert sum(module.BENCHES.values()) < 600  # the quick run's budget: under 10 minutes


def test_the_full_run_makes_the_runs_full_names_each_a_labelled_row(runner, monkeypatch):
    """Without --quick a bench listed in FULL runs once per entry, with its arguments and
    environment; each row says which run it came from."""
    module, benches = runner
    write_bench(benches, "sized", "import os\n"
                                  "p = argparse.ArgumentParser(); p.add_argument('--size', type=int, default=1)\n"
                                  "a = p.parse_args()\n"
                                  "print(json.dumps({'bench': 'sized %d on ' % a.size + os.environ.get('BENCH_DB', '-'),"
                                  " 'figure': a.size, 'verdict': 'met'}))\n")
    write_bench(benches, "plain", "argparse.ArgumentParser().parse_args()\n"
                                  "print(json.dumps({'bench': 'plain', 'figure': 1, 'verdict': 'met'}))\n")
    monkeypatch.setattr(module, "FULL", {"sized": [("small", ["--size", "2"], {}),
                                                   ("big", ["--size", "9"], {"BENCH_DB": "pg"})]})
    out_file = benches.parent / "full.md"
    module.main(["--only", "sized,plain", "--markdown", str(out_file)])

    names = [line.split("|")[1].strip() for line in out_file.read_text().splitlines()
             if line.startswith("| ") and not line.startswith("| bench")]
    assert names == ["sized 2 on - [small]", "sized 9 on pg [big]", "plain"]
    logs = {p.name for p in (benches.parent / "var" / "bench-all").glob("*/*.log")}
    assert {"sized.small.log", "sized.big.log", "plain.log"} <= logs


def test_a_line_with_its_number_in_value_is_read_as_the_table_wants():
    """billing_run, dunning_sweep and sync_throughput write a description as "figure" and
    the number in "value", a numeric target with "better", and secondary figures: the
    table shows the number, ≤ / ≥ and the secondary figures in the note."""
    sys.path.insert(0, str(BENCH_DIR))
    import summary

    line = json.dumps({"bench": "dunning_sweep", "figure": "CPU sweep ÷ the same work", "value": 0.53,
                       "baseline": 0.61, "ratio": 1.082, "target": 2.5, "better": "lower", "verdict": "met",
                       "ratio_update_only": 2.75, "verdict_update_only": "not met", "wall": 0.568})
    [row] = summary.parse(line)
    assert row["bench"] == "dunning_sweep — CPU sweep ÷ the same work" and row["figure"] == 0.53
    assert row["target"] == "≤ 2.5"
    assert row["note"] == "against the UPDATE alone 2.75 (not met); wall 0.6 s"
    table = summary.render({}, [{**row, "seconds": 1.0, "load": 0.5}])
    assert "| dunning_sweep — CPU sweep ÷ the same work | 0.53 | 0.61 | 1.08 | ≤ 2.5 | met (against" in table
