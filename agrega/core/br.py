"""Brazilian registration data: CPF/CNPJ, mobile phones, e-mail.

Each ``clean_*`` returns the normalised value or raises ``InvalidValue`` carrying a
stable code and a Portuguese message, so customers and manual SVA users share one
rule per field.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.br import cnpj, cpf

_NON_DIGITS = re.compile(r"\D+")


class InvalidValue(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def digits(value: str | None) -> str:
    return _NON_DIGITS.sub("", value or "")


def clean_document(value: str | None) -> str:
    """CPF (11 digits) or CNPJ (14 digits) with valid check digits; returns digits only."""
    raw = digits(value)
    if not raw:
        raise InvalidValue("document_required", "Informe o CPF ou o CNPJ.")
    if len(raw) in (11, 14) and len(set(raw)) == 1:
        # 111.111.111-11 and the like pass the check digits but are never issued
        raise InvalidValue("cpf_invalid" if len(raw) == 11 else "cnpj_invalid",
                           "CPF/CNPJ inválido: todos os dígitos iguais.")
    if len(raw) == 11:
        if not cpf.is_valid(raw):
            raise InvalidValue("cpf_invalid", "CPF inválido: os dígitos verificadores não conferem.")
        return raw
    if len(raw) == 14:
        if not cnpj.is_valid(raw):
            raise InvalidValue("cnpj_invalid", "CNPJ inválido: os dígitos verificadores não conferem.")
        return raw
    raise InvalidValue(
        "document_invalid", "CPF/CNPJ inválido: o CPF tem 11 dígitos e o CNPJ tem 14."
    )


def document_kind(document: str) -> str:
    """'F' (pessoa física, CPF) or 'J' (pessoa jurídica, CNPJ)."""
    return "J" if len(document) == 14 else "F"


def format_document(document: str) -> str:
    if len(document) == 11:
        return cpf.format(document)
    if len(document) == 14:
        return cnpj.format(document)
    return document


def clean_mobile(value: str | None) -> str:
    """A Brazilian mobile number, returned as E.164 (+55DDXXXXXXXXX)."""
    raw = (value or "").strip()
    if not digits(raw):
        raise InvalidValue("mobile_required", "Informe o telefone celular.")
    try:
        number = phonenumbers.parse(raw, "BR")
    except phonenumbers.NumberParseException:
        raise InvalidValue("mobile_invalid", "Telefone celular inválido.") from None
    if number.country_code != 55 or not phonenumbers.is_valid_number(number):
        raise InvalidValue(
            "mobile_invalid", "Telefone celular inválido: use DDD + número, ex.: (11) 98765-4321."
        )
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidValue(
            "mobile_not_mobile", "O número informado não é de celular (deve começar com 9)."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_mobile(e164: str) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "BR")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def clean_email(value: str | None) -> str:
    """A syntactically valid e-mail (no DNS lookup: the ISP may be offline); lowercased domain."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidValue("email_required", "Informe o e-mail principal.")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidValue("email_invalid", "E-mail inválido.") from None
    return result.normalized


def _check_digit(numbers: list[int], weights: list[int]) -> int:
    rest = sum(n * w for n, w in zip(numbers, weights)) % 11
    return 0 if rest < 2 else 11 - rest


def make_cpf(seed: int) -> str:
    """A valid CPF from a number (for demo data, tests and benchmarks)."""
    base = [int(c) for c in f"{(seed * 7919 + 100000001) % 1000000000:09d}"]
    if len(set(base)) == 1:
        base[-1] = (base[-1] + 1) % 10
    d1 = _check_digit(base, list(range(10, 1, -1)))
    d2 = _check_digit(base + [d1], list(range(11, 1, -1)))
    return "".join(map(str, base + [d1, d2]))


def make_cnpj(seed: int) -> str:
    """A valid CNPJ (branch 0001) from a number."""
    base = [int(c) for c in f"{(seed * 104729 + 10000001) % 100000000:08d}0001"]
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    d1 = _check_digit(base, w1)
    d2 = _check_digit(base + [d1], [6] + w1)
    return "".join(map(str, base + [d1, d2]))
