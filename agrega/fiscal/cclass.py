"""The cClass table shipped as data (data/cclass.csv; source and limits in
data/README.md)."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).parent / "data" / "cclass.csv"


@lru_cache(maxsize=1)
def table() -> dict[str, str]:
    with PATH.open(encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return {r["cclass"]: r["description"] for r in rows}


def exists(code: str) -> bool:
    return code in table()
