"""Fixtures of the fault-injection suite, and the table of figures printed at the end of
the session (also written to test-output/faults.md, one section per database)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .harness import Figures, Run, Workers

FIGURES = pytest.StashKey[list]()
REPORT = Path(__file__).resolve().parents[2] / "test-output" / "faults.md"
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

COLUMNS = ("scenario", "workers", "users", "changes", "platform calls", "timeline rows",
           "faults injected", "retries", "duplicates", "409 ext-id/e-mail", "divergent at end",
           "converge (s)", "bound (s)", "result", "faults by kind")


@pytest.fixture
def workers(transactional_db):
    """Worker processes of one test; stopped before the database is flushed."""
    pool = Workers()
    yield pool
    pool.cleanup()


@pytest.fixture
def fault_run(request, sva_platform, sandbox_kit, platform_account, platform_admin, platform_integration,
              make_product, workers):
    """Start a scenario on each platform that ships a sandbox (``sva_platform`` is
    parametrised): ``fault_run(name, size=…, seed=…)`` builds the population."""
    figures = request.config.stash.setdefault(FIGURES, [])
    product = make_product(platform_integration, package=sandbox_kit.package_codes[0])

    def start(name: str, *, size: int, seed: int = 1) -> Run:
        return Run(f"{name} [{sva_platform}]", account=platform_account, admin=platform_admin,
                   integration=platform_integration, product=product, workers=workers,
                   figures=figures, size=size, seed=seed)

    return start


def _row(f: Figures) -> list[str]:
    seconds = "—" if f.converge_seconds is None else f"{f.converge_seconds:.1f}"
    return [f.scenario, str(f.workers), str(f.users), str(f.changes), str(f.calls), str(f.recorded),
            str(f.faults), str(f.retries), str(f.duplicates), f.refused, str(f.divergent),
            seconds, f"{f.bound_seconds:.0f}", "ok" if f.passed else "FALHOU", f.fault_detail or "—"]


def table(figures: list[Figures]) -> list[str]:
    """A Markdown table (readable as plain text in the CI log as well)."""
    rows = [list(COLUMNS)] + [_row(f) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    numeric = set(range(1, 13))

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if i in numeric else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"
    return [line(rows[0]), rule] + [line(r) for r in rows[1:]]


def _write_report(database: str, lines: list[str]) -> None:
    """Replace this database's section of test-output/faults.md, keep the other one."""
    sections: dict[str, list[str]] = {}
    if REPORT.exists():
        current = None
        for text in REPORT.read_text(encoding="utf-8").splitlines():
            if text.startswith("## "):
                current = text[3:].strip()
                sections[current] = []
            elif current:
                sections[current].append(text)
    sections[database] = ["", f"Run at {time.strftime('%Y-%m-%d %H:%M:%S')}.", "", *lines, ""]
    out = ["# Fault-injection suite: figures", "",
           "Written by `tests/faults` (see docs/faults.md); one section per database.", ""]
    for name in sorted(sections):
        out += [f"## {name}", *sections[name]]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    figures = config.stash.get(FIGURES, [])
    if not figures:
        return
    database = DATABASES.get(figures[0].database, figures[0].database)
    lines = table(figures)
    terminalreporter.write_sep("=", f"fault-injection figures ({database})")
    for text in lines:
        terminalreporter.write_line(text)
    _write_report(database, lines)
    terminalreporter.write_line(f"(also in {REPORT.relative_to(REPORT.parents[1])})")

