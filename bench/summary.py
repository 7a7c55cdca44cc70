"""The one machine-readable line every bench prints last, and the table bench/all.py
builds from those lines.

A bench ends with one JSON object per headline figure (usually one), each on its own
line: ``{"bench": ..., "figure": ..., "baseline": ..., "ratio": ..., "target": ...,
"verdict": ...}`` — the figure measured, the baseline measured beside it in the same run,
their ratio, the target as text (e.g. ``"≤ 1.5"``), and ``met`` / ``NOT met``. ``unit``
and ``note`` are optional. The runner reads every such line of a bench's output, so a
bench with several headline figures (api_load: one per endpoint) prints several.
"""

from __future__ import annotations

import json
import math
import sys

FIELDS = ("bench", "figure", "baseline", "ratio", "target", "verdict")


def line(bench: str, *, figure, baseline, ratio, target: str, verdict: str, unit: str = "",
         note: str = "") -> str:
    """The summary line as text (one JSON object)."""
    record = {"bench": bench, "figure": _plain(figure), "baseline": _plain(baseline), "ratio": _plain(ratio),
              "target": target, "verdict": verdict}
    if unit:
        record["unit"] = unit
    if note:
        record["note"] = note
    return json.dumps(record, ensure_ascii=False)


def emit(bench: str, **fields) -> None:
    """Print the summary line (flushed: the runner may stop reading right after)."""
    print(line(bench, **fields), flush=True)
    sys.stdout.flush()


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _plain(value):
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 4)
    return value


def parse(output: str) -> list[dict]:
    """Every summary line in a bench's output, in order: lines that are a JSON object with
    a ``bench`` key (other JSON lines — children's reports, api_load's raw figures — are
    not summaries)."""
    found = []
    for text in output.splitlines():
        text = text.strip()
        if not (text.startswith("{") and text.endswith("}")):
            continue
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("bench"), str):
            found.append(_normalised(record))
    return found


# Secondary figures some benches put in their line beside the headline, shown in the note.
SECONDARY = (
    ("ratio_update_only", "against the UPDATE alone {:.2f}", "verdict_update_only"),
    ("wall", "wall {:.1f} s", None),
    ("target_wall", "target ≤ {:.1f} s", None),
    ("target_cpu", "CPU target ≤ {:.1f} s", None),
    ("cpu_ratio", "CPU ratio {:.2f}", None),
)


def _normalised(record: dict) -> dict:
    """A line written the older way, read as the table wants it: a figure that is a
    description with its number in ``value`` (the number becomes the figure, the
    description joins the bench's name), a numeric target with ``better`` (≤ / ≥), and
    the secondary figures above in the note."""
    record = dict(record)
    if isinstance(record.get("figure"), str) and isinstance(record.get("value"), (int, float)):
        record["bench"] = f"{record['bench']} — {record['figure']}"
        record["figure"] = record["value"]
    if isinstance(record.get("target"), (int, float)) and record.get("better") in ("lower", "higher"):
        record["target"] = f"{'≤' if record['better'] == 'lower' else '≥'} {record['target']:g}"
    extra = []
    for key, text, verdict_key in SECONDARY:
        if isinstance(record.get(key), (int, float)):
            extra.append(text.format(record[key]) + (f" ({record[verdict_key]})" if record.get(verdict_key) else ""))
    if isinstance(record.get("recorded"), dict) and isinstance(record["recorded"].get("ratio"), (int, float)):
        extra.append(f"against the bare loop that also records {record['recorded']['ratio']:.2f}")
    if extra:
        record["note"] = "; ".join([*([record["note"]] if record.get("note") else []), *extra])
    return record


def _cell(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "/").replace("\n", " ")


def render(header: dict, rows: list[dict]) -> str:
    """The summary as Markdown: the run's facts, then one row per figure.

    ``header``: date, commit, machine, load (before → after) and anything else to print
    as ``key: value`` lines. ``rows``: summary records, each with the runner's ``seconds``
    and ``load`` added (and ``unit``/``note`` when the bench gave them)."""
    out = [f"- {key}: {value}" for key, value in header.items()]
    out += ["", "| bench | figure | baseline | ratio | target | verdict | load (1 min) | seconds |",
            "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        unit = f" {row['unit']}" if row.get("unit") else ""
        figure = _cell(row.get("figure"))
        baseline = _cell(row.get("baseline"))
        if unit and figure != "—":
            figure += unit
        if unit and baseline != "—":
            baseline += unit
        verdict_text = _cell(row.get("verdict"))
        if row.get("note"):
            verdict_text += f" ({_cell(row['note'])})"
        load = row.get("load")
        out.append(f"| {_cell(row.get('bench'))} | {figure} | {baseline} | {_cell(row.get('ratio'))} | "
                   f"{_cell(row.get('target'))} | {verdict_text} | "
                   f"{'—' if load is None else f'{load:.1f}'} | {_cell(row.get('seconds'))} |")
    return "\n".join(out)
