"""The one CSV writer and the one CSV reader of Agrega.

Reading (customer imports, payment files): ``read_table(content, max_bytes=…)`` takes the
bytes a user uploaded and gives a ``Table`` — the encoding that read it (UTF-8 with or
without BOM first, then Windows-1252, then latin-1: what Brazilian banks and spreadsheets
write), the delimiter sniffed from the header line (``;`` unless the line has more ``,`` or
tabs), the header cells, and the data records (blank lines skipped) with their line numbers.
``normalise_header`` compares header names without case, accents or punctuation. Empty
files, files over the size limit and files without a header are refused with a stable code.

Writing (pages, API, CLI, reports, exports):

Every CSV Agrega writes is meant to be opened in a spreadsheet, and a spreadsheet runs a
cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage return before
one) as a formula: a customer's name ``=HYPERLINK(…)`` would become a link, or worse, in
the operator's Excel. Such text cells are written with a leading ``'`` (shown as text).
Numbers — and text that is only a number, like ``-12,50`` — are left as they are.

Portuguese spreadsheets: ``;`` between fields by default."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from agrega.core.errors import ApplicationError

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


# -- Reading ---------------------------------------------------------------------------------

ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
DELIMITERS = (";", ",", "\t")


def decode(content: bytes) -> tuple[str, str]:
    """The text and the encoding that read it without error (UTF-8, BOM dropped, first)."""
    for encoding in ENCODINGS:
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any byte")  # pragma: no cover


def sniff_delimiter(header_line: str) -> str:
    """``;`` (what Brazilian spreadsheets write) unless the header has more ``,`` or tabs."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ";"))
    return best if counts[best] else ";"


def normalise_header(text: str) -> str:
    """``"  Razão Social "`` → ``razao_social``: lower case, no accents, ``_`` between words,
    so a header is recognised however the spreadsheet spelled it."""
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    out, gap = [], False
    for char in plain:
        if char.isalnum():
            if gap and out:
                out.append("_")
            out.append(char)
            gap = False
        else:
            gap = True
    return "".join(out)


@dataclass
class Table:
    """A decoded CSV file: what was detected, the header cells and the text to read records from."""

    encoding: str
    delimiter: str
    headers: list[str]
    text: str

    def records(self, start: int = 0) -> Iterator[tuple[int, int, list[str]]]:
        """``(index, line, cells)`` of each data record from ``start`` (blank lines skipped,
        so indexes stay the same on every read of the same file)."""
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        header_seen = False
        index = 0
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if not header_seen:
                header_seen = True
                continue
            if index >= start:
                yield index, reader.line_num, cells
            index += 1

    def count(self) -> int:
        return sum(1 for _ in self.records())

    def normalised_headers(self) -> list[str]:
        return [normalise_header(h) for h in self.headers]


def read_table(content: bytes, *, max_bytes: int | None = None) -> Table:
    """The table of an uploaded CSV (see the module's docstring); 422 ``file_empty``,
    ``file_too_large`` or ``file_no_header`` when it cannot be one."""
    if not content or not content.strip():
        raise ApplicationError("file_empty", "O arquivo está vazio.", status_code=422)
    if max_bytes is not None and len(content) > max_bytes:
        raise ApplicationError("file_too_large", f"O arquivo passa de {max_bytes // (1024 * 1024)} MB.",
                               status_code=422)
    text, encoding = decode(content)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = sniff_delimiter(first)
    headers = [h.strip() for h in next(csv.reader(io.StringIO(first), delimiter=delimiter), [])]
    if not any(headers):
        raise ApplicationError("file_no_header", "A primeira linha do arquivo deve ter os nomes das colunas.",
                               status_code=422)
    return Table(encoding=encoding, delimiter=delimiter, headers=headers, text=text)
