"""The cClass table shipped as data (data/cclass.csv; source and limits in
data/README.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from agrega.core.csvio import read_table

PATH = Path(__file__).parent / "data" / "cclass.csv"


@lru_cache(maxsize=1)
def rows() -> dict[str, dict[str, str]]:
    """code → {description, group, source} (source OFICIAL or SECUNDARIA, with the document)."""
    with PATH.open(encoding="utf-8") as f:
        text = "".join(line for line in f if not line.startswith("#"))
    table = read_table(text.encode("utf-8"))  # the one CSV reader (core/csvio.py)
    headers = table.normalised_headers()
    return {cells[0]: dict(zip(headers, cells)) for _, _, cells in table.records()}


def table() -> dict[str, str]:
    return {code: r["description"] for code, r in rows().items()}


def exists(code: str) -> bool:
    return code in rows()


def prepaid(code: str) -> bool:
    """A pré-pago code: the NFCom then needs ide/indPrePago (MOC rule G87, cStat 522),
    which Agrega — post-paid billing — never sets."""
    row = rows().get(code)
    return bool(row) and row["group"].startswith("Pré-pago")
