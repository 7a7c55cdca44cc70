"""Integers from a query string or a form, read the same way everywhere: ASCII digits
only (``"²"`` is a digit to ``str.isdigit`` but not to ``int``), within what the
database stores (a 20-digit id is no id, and must not reach the database)."""

from __future__ import annotations

DB_INT_MAX = 2**63 - 1


def parse_id(raw, *, minimum: int = 1) -> int | None:
    """The integer in ``raw``, or None when it is not one (or out of range)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    else:
        text = (raw or "").strip() if isinstance(raw, str) else ""
        if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
            return None
        value = int(text)
    return value if minimum <= value <= DB_INT_MAX else None


class IdConverter:
    """``<id:pk>`` in a page's URL: a positive integer the database can hold. A larger
    number matches no page (404), where ``<int:pk>`` would reach the query and end in a
    500 (tests/security/test_page_params.py)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= DB_INT_MAX:
            raise ValueError(value)
        return number

    def to_url(self, value) -> str:
        return str(int(value))
