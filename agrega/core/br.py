"""Brazilian registration data: CPF/CNPJ, mobile phones, e-mail.

Each ``clean_*`` returns the normalised value or raises ``InvalidValue`` carrying a
stable code and a Portuguese message, so customers and manual SVA users share one
rule per field.
"""

from __future__ import annotations

import re
import string

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.br import cnpj, cpf

_NON_DIGITS = re.compile(r"\D+")

# What a typed CPF/CNPJ may hold: ASCII digits and letters (the alphanumeric CNPJ, from
# July 2026) and the punctuation people type (. / - and spaces), nothing else.
DOCUMENT_SEPARATORS = frozenset(" ./-")
_DOCUMENT_CHARS = frozenset(string.digits + string.ascii_uppercase)
_DOCUMENT_FRAGMENT = re.compile(r"[0-9A-Za-z./\- ]*[0-9][0-9A-Za-z./\- ]*")

DOCUMENT_MESSAGES = {
    "document_required": "Informe o CPF ou o CNPJ.",
    "document_invalid_character": (
        "CPF/CNPJ inválido: caractere não permitido {char} (use letras, números e a pontuação . / -)."
    ),
    "cpf_letters": "CPF inválido: o CPF tem só números (caractere {char}).",
    "cnpj_check_letters": "CNPJ inválido: os dois últimos caracteres (dígitos verificadores) são números.",
    "document_invalid": (
        "CPF/CNPJ inválido: tamanho errado ({length} caracteres); o CPF tem 11 dígitos e o "
        "CNPJ tem 14 caracteres."
    ),
    "document_same_digits": "CPF/CNPJ inválido: todos os dígitos iguais.",
    "cpf_invalid": "CPF inválido: os dígitos verificadores não conferem.",
    "cnpj_invalid": "CNPJ inválido: os dígitos verificadores não conferem.",
}


class InvalidValue(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def digits(value: str | None) -> str:
    return _NON_DIGITS.sub("", value or "")


def _shown(char: str) -> str:
    """A refused character as the message shows it (spaces and controls visible)."""
    if char.isprintable() and not char.isspace():
        return f"«{char}»"
    return f"U+{ord(char):04X}"


def compact_document(value: str | None) -> str:
    """The document as stored: separators (. / - and spaces) removed, letters in upper
    case. Any other character is refused (``document_invalid_character``), so a typo is
    reported instead of being silently dropped."""
    out = []
    for char in (value or "").strip():
        if char in DOCUMENT_SEPARATORS:
            continue
        upper = char.upper() if char.isascii() else char
        if upper not in _DOCUMENT_CHARS:
            raise InvalidValue("document_invalid_character",
                               DOCUMENT_MESSAGES["document_invalid_character"].format(char=_shown(char)))
        out.append(upper)
    return "".join(out)


def cnpj_check_digits(base: str) -> str:
    """The two check digits of a CNPJ's first 12 characters (digits or letters): each
    character counts as its ASCII code minus 48 (Receita Federal, alphanumeric CNPJ)."""
    return cnpj.calc_check_digits(base + "00")


def clean_document(value: str | None) -> str:
    """CPF (11 digits) or CNPJ (14 characters: 12 digits or upper-case letters, then 2
    check digits) with valid check digits; returns it compact (see ``compact_document``).

    Every refusal names its reason with its own code: ``document_required``,
    ``document_invalid_character``, ``document_invalid`` (length),
    ``document_same_digits``, ``cpf_invalid`` / ``cnpj_invalid`` (check digits).
    """
    raw = compact_document(value)
    if not raw:
        raise InvalidValue("document_required", DOCUMENT_MESSAGES["document_required"])
    if len(raw) not in (11, 14):
        raise InvalidValue("document_invalid", DOCUMENT_MESSAGES["document_invalid"].format(length=len(raw)))
    if len(raw) == 11:
        letter = next((c for c in raw if not c.isdigit()), None)
        if letter is not None:
            raise InvalidValue("document_invalid_character",
                               DOCUMENT_MESSAGES["cpf_letters"].format(char=_shown(letter)))
    elif not raw[12:].isdigit():
        raise InvalidValue("document_invalid_character", DOCUMENT_MESSAGES["cnpj_check_letters"])
    if len(set(raw)) == 1:
        # 111.111.111-11 and the like pass the check digits but are never issued
        raise InvalidValue("document_same_digits", DOCUMENT_MESSAGES["document_same_digits"])
    if len(raw) == 11:
        if not cpf.is_valid(raw):
            raise InvalidValue("cpf_invalid", DOCUMENT_MESSAGES["cpf_invalid"])
        return raw
    if raw.startswith("000000000000") or cnpj_check_digits(raw[:12]) != raw[12:]:
        raise InvalidValue("cnpj_invalid", DOCUMENT_MESSAGES["cnpj_invalid"])
    return raw


def document_kind(document: str) -> str:
    """'F' (pessoa física, CPF) or 'J' (pessoa jurídica, CNPJ)."""
    return "J" if len(document) == 14 else "F"


def document_label(document: str) -> str:
    return "CNPJ" if len(document) == 14 else "CPF"


def _cpf_check_digits(number: str) -> str:
    """The two check digits of a CPF's first 9 digits (stdnum's rule, without its regexes)."""
    values = [ord(c) - 48 for c in number[:9]]
    d1 = (11 - sum((10 - i) * v for i, v in enumerate(values))) % 11 % 10
    d2 = (11 - sum((11 - i) * v for i, v in enumerate(values)) - 2 * d1) % 11 % 10
    return f"{d1}{d2}"


def _cnpj_digit_check_digits(number: str) -> str:
    """The two check digits of a CNPJ's first 12 characters (as ``cnpj_check_digits``)."""
    values = [ord(c) - 48 for c in number[:12]]
    d1 = (11 - sum(w * v for w, v in zip((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), values))) % 11 % 10
    values.append(d1)
    d2 = (11 - sum(w * v for w, v in zip((6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), values))) % 11 % 10
    return f"{d1}{d2}"


def format_document(document: str | None) -> str:
    """000.000.000-00, 00.000.000/0000-00 or 12.ABC.345/01DE-35; anything that is not a
    stored CPF/CNPJ (an anonymised placeholder, a legacy value) is shown as it is.

    A stored CPF or all-digit CNPJ (compact, as ``clean_document`` keeps it) is checked
    and formatted here directly: through ``clean_document`` and stdnum it cost about
    0.1 ms, once per customer of every page the API answers (bench/README.md, "api_load").
    Anything else takes the full rule; tests/core/test_documents_properties.py holds the
    two paths equal."""
    document = document or ""
    if document.isascii() and document.isdigit() and len(document) in (11, 14):
        if len(set(document)) == 1:
            return document
        if len(document) == 11:
            if _cpf_check_digits(document) != document[9:]:
                return document
            return f"{document[:3]}.{document[3:6]}.{document[6:9]}-{document[9:]}"
        if document.startswith("000000000000") or _cnpj_digit_check_digits(document) != document[12:]:
            return document
        return f"{document[:2]}.{document[2:5]}.{document[5:8]}/{document[8:12]}-{document[12:]}"
    return _format_document_slow(document)


def _format_document_slow(document: str) -> str:
    try:
        clean = clean_document(document)
    except InvalidValue:
        return document
    return cpf.format(clean) if len(clean) == 11 else cnpj.format(clean)


def document_search_term(value: str | None) -> str | None:
    """A search box's text as a piece of a document (compact, upper case) when it looks
    like one: at most 14 digits and ASCII letters with at least one digit, typed with the
    document's punctuation or with no more letters than digits ("529.982", "12.abc.345",
    "12abc345"). None for anything else: a name, even with digits ("Maria bd5b07",
    "Loja 2"), an e-mail."""
    value = (value or "").strip()
    if not value or not _DOCUMENT_FRAGMENT.fullmatch(value):
        return None
    compact = compact_document(value)
    letters = sum(c.isalpha() for c in compact)
    if len(compact) > 14 or (letters > len(compact) - letters and not any(c in value for c in "./-")):
        return None
    return compact


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


# A Brazilian mobile as clean_mobile stores it: +55, a DDD of two digits 1-9, then 9 and
# eight digits. phonenumbers formats every such number "(DD) 9XXXX-XXXX" (checked for all
# 81 DDDs and every 4-digit start: tests/core/test_documents_properties.py).
_E164_BR_MOBILE = re.compile(r"\+55([1-9][1-9])(9\d{4})(\d{4})")


def format_mobile(e164: str) -> str:
    """The national form, (11) 98765-4321. A stored mobile is formatted directly (through
    phonenumbers it cost about 0.1 ms per customer of every page the API answers); any
    other value takes phonenumbers' rule."""
    if not e164:
        return ""
    found = _E164_BR_MOBILE.fullmatch(e164)
    if found:
        return f"({found[1]}) {found[2]}-{found[3]}"
    return _format_mobile_slow(e164)


def _format_mobile_slow(e164: str) -> str:
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
