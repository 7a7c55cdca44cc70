"""The app-level import graph of ``agrega`` (built with grimp, import-linter's engine), as the
block of docs/architecture.md between the ``import-graph`` markers.

Why generated: a hand-drawn diagram drifts from the code; this one is written from the
imports and tests/core/test_import_rules.py fails when the document and the code disagree.

    python tools/import_graph.py            # print the block
    python tools/import_graph.py --write    # rewrite it in docs/architecture.md
    python tools/import_graph.py --check    # exit 1 when the page no longer shows the imports
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
START, END = "<!-- import-graph:start -->", "<!-- import-graph:end -->"
# Modules that only parse, call and render: they may read from several apps (decision 0001).
ENTRY_POINTS = {"api", "views", "urls", "forms", "management", "admin", "templatetags"}


def app_edges() -> tuple[list[str], dict[str, set[str]], dict[str, set[str]]]:
    """The apps, what each app's rules (models, services, selectors, …) import, and what its
    entry points (pages, API, CLI, admin) import besides."""
    graph = grimp.build_graph("agrega")
    apps = sorted(m.split(".")[1] for m in graph.find_children("agrega") if graph.find_children(m))
    rules: dict[str, set[str]] = {app: set() for app in apps}
    entry: dict[str, set[str]] = {app: set() for app in apps}
    for module in graph.modules:
        parts = module.split(".")
        if len(parts) < 3 or parts[1] not in rules:
            continue
        side = entry if ENTRY_POINTS & set(parts[2:]) else rules
        for imported in graph.find_modules_directly_imported_by(module):
            target = imported.split(".")
            if len(target) > 1 and target[1] in rules and target[1] != parts[1]:
                side[parts[1]].add(target[1])
    for app in apps:
        entry[app] -= rules[app]
    return apps, rules, entry


def block() -> str:
    apps, rules, entry = app_edges()
    lines = [START, "", "```mermaid", "graph LR"]
    for app in apps:
        for target in sorted(rules[app] - {"core"}):
            lines.append(f"  {app} --> {target}")
    lines += ["```", "", "| app | its rules import (besides `core`) | its pages, API and CLI also read |",
              "|---|---|---|"]
    for app in apps:
        own = ", ".join(f"`{a}`" for a in sorted(rules[app] - {"core"})) or "—"
        more = ", ".join(f"`{a}`" for a in sorted(entry[app] - {"core"})) or "—"
        lines.append(f"| `{app}` | {own} | {more} |")
    lines += ["", END]
    return "\n".join(lines)


def documented() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index(START): text.index(END) + len(END)]


def main(argv: list[str]) -> int:
    if "--write" in argv:
        text = DOC.read_text(encoding="utf-8")
        DOC.write_text(text.replace(documented(), block()), encoding="utf-8")
    elif "--check" in argv:  # what tests/core/test_import_rules.py asserts, for a shell or CI step
        if documented() != block():
            print("docs/architecture.md does not show the imports as they are: "
                  "python tools/import_graph.py --write", file=sys.stderr)
            return 1
        print("docs/architecture.md shows the imports as they are")
    else:
        print(block())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
