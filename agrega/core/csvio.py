"""The one CSV writer of Agrega (pages, API, CLI, reports, exports).

Every CSV Agrega writes is meant to be opened in a spreadsheet, and a spreadsheet runs a
cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage return before
one) as a formula: a customer's name ``=HYPERLINK(…)`` would become a link, or worse, in
the operator's Excel. Such text cells are written with a leading ``'`` (shown as text).
Numbers — and text that is only a number, like ``-12,50`` — are left as they are.

Portuguese spreadsheets: ``;`` between fields by default."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d.,]*")


def safe_cell(value):
    """``value`` as a spreadsheet will take it literally (see the module's docstring)."""
    if value is None or isinstance(value, (int, float)) or not isinstance(value, str):
        return "" if value is None else value
    if value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose rows have every cell passed through ``safe_cell``."""

    def __init__(self, out, **fmt):
        fmt.setdefault("delimiter", ";")
        self._writer = csv.writer(out, **fmt)

    def writerow(self, row: Iterable):
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out, **fmt) -> SafeWriter:
    return SafeWriter(out, **fmt)


class _Echo:
    def write(self, value):
        return value


def line_writer(**fmt) -> SafeWriter:
    """A writer whose ``writerow`` returns the line instead of writing it (streaming
    responses: ``yield w.writerow(row)``)."""
    return SafeWriter(_Echo(), **fmt)
