"""Structured logs, and no personal data in them.

``JsonFormatter`` writes one JSON object per line (time, level, logger, message, and
any ``extra`` fields) for log shippers; ``AGREGA_LOG_FORMAT=json`` selects it.
``RedactPersonalData`` masks CPF/CNPJ, e-mail addresses and phone numbers in every
record before any handler sees it — whatever a library or a careless message prints."""

from __future__ import annotations

import json
import logging
import re

_PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[e-mail]"),
    (re.compile(r"(?<!\d)\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}(?!\d)"), "[cnpj]"),
    (re.compile(r"(?<!\d)\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?!\d)"), "[cpf]"),
    (re.compile(r"(?:\+?55\s?)?\(?\d{2}\)?\s?9\d{4}-?\d{4}(?!\d)"), "[telefone]"),
)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


# The alphanumeric CNPJ (from July 2026), letters in any case, with or without its
# punctuation: masked when its check digits hold, so ids and hashes of the same shape stay.
_ALNUM_CNPJ = re.compile(
    r"(?<![0-9A-Za-z])[0-9A-Za-z]{2}\.?[0-9A-Za-z]{3}\.?[0-9A-Za-z]{3}/?[0-9A-Za-z]{4}-?[0-9]{2}(?![0-9A-Za-z])"
)


def _alnum_cnpj(match: re.Match) -> str:
    from agrega.core.br import InvalidValue, clean_document

    text = match.group(0)
    try:
        clean_document(text)
    except InvalidValue:
        return text
    return "[cnpj]"


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _ALNUM_CNPJ.sub(_alnum_cnpj, text)


class RedactPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record as it is
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_text or record.exc_info:
            body["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)
