"""One place for how Agrega writes and reads Brazilian values: CPF/CNPJ, mobile phones,
money and dates. Template filters (``{% load br %}``), forms and CSV exports all call
these functions, so a value looks the same on a page, in a spreadsheet and in a message.

Reading is as strict as writing: ``parse_amount`` reads "1.234" as R$ 1.234,00 and
refuses what is ambiguous, and ``amount_form_field`` is the one form field for money.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal

from agrega.core.br import clean_document, clean_mobile, digits, format_document, format_mobile
from agrega.core.money import CENT, AmountInvalid, amount_form_field, format_brl, parse_amount

__all__ = [
    "AmountInvalid", "amount_form_field", "clean_document", "clean_mobile", "digits",
    "format_brl", "format_date", "format_datetime", "format_decimal", "format_document",
    "format_phone", "parse_amount",
]


def format_phone(value: str | None) -> str:
    """``+5511987654321`` → ``(11) 98765-4321``; a value that is not a phone as it is."""
    return format_mobile(value or "")


def format_decimal(value: Decimal | int | None) -> str:
    """``1234.5`` → ``1234,50``: the number a spreadsheet in Portuguese reads (no R$, no
    thousands dot), for CSV exports."""
    return format(Decimal(value or 0).quantize(CENT), "f").replace(".", ",")


def format_date(value: _dt.date | None) -> str:
    """``31/12/2026`` (empty for none)."""
    return value.strftime("%d/%m/%Y") if value else ""


def format_datetime(value: _dt.datetime | None) -> str:
    """``31/12/2026 14:05`` in the local time zone (empty for none)."""
    if not value:
        return ""
    from django.utils import timezone

    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime("%d/%m/%Y %H:%M")
