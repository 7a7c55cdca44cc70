"""Money as people and bank files write it in Brazil: one parser and one formatter.

Every amount that enters Agrega — a payment (baixa, webhook, CSV), a product's or a plan
item's price — goes through ``parse_amount``, so "1.234" is never read as R$ 1,23 in one
place and as R$ 1.234,00 in another. The rule (docs/payments.md, "Valores"):

* text: an optional ``R$``; then either
  - digits, optionally grouped in thousands by ``.``, with an optional decimal part of one
    or two digits after ``,`` — ``1234``, ``1.234``, ``1.234,56``, ``1234,5``;
  - or digits with a decimal part of one or two digits after ``.`` — ``1234.56``, ``109.9``
    (the form programs and most bank files use).
  ``1.234`` is one thousand two hundred thirty-four (a group of three digits after a dot is
  a thousands group); ``0.123``, ``1234.567``, ``1,234.56``, exponents (``1e3``), ``NaN``,
  ``Infinity``, signs and letters are refused.
* ``int`` and ``Decimal``: their value (a Decimal must be finite with at most two decimals).
* ``float`` (a JSON number): read as the shortest decimal that gives the same float
  (``109.9`` → 109.90); refused when that has more than two decimals (``0.30000000000000004``)
  — a JSON number is what the sender wrote, and binary noise is not an amount.
* never negative; zero only where the caller allows it; at most ``MAX_AMOUNT``.

Anything else raises ``AmountInvalid`` (code ``amount_invalid``, HTTP 422) with a message
that says what to write.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from agrega.core.errors import ApplicationError

CENT = Decimal("0.01")
# Nine digits with two decimals: fits every DecimalField(max_digits=12, decimal_places=2)
# of the models with room for a título's sum of lines; far above any monthly price or
# payment of an ISP's customer, far below what overflows a column.
MAX_AMOUNT = Decimal("9999999.99")

# ASCII digits only: ``\d`` would take "１２" or "١٢" for numbers.
_GROUPED = r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+"
_COMMA = re.compile(rf"(?P<int>[0-9]+|{_GROUPED})(?:,(?P<dec>[0-9]{{1,2}}))?")
_DOT = re.compile(r"(?P<int>[0-9]+)\.(?P<dec>[0-9]{1,2})")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
EXAMPLE = "use, por exemplo, 1.234,56 ou 1234.56"


class AmountInvalid(ApplicationError):
    """An amount that is not what a person or a bank file writes (422 ``amount_invalid``)."""

    status_code = 422

    def __init__(self, message: str):
        super().__init__("amount_invalid", message)


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 30 else text[:27] + "…"


def _parse_text(text: str) -> Decimal:
    raw = _SPACES.sub(" ", text).strip()
    if raw[:2].upper() == "R$":
        raw = raw[2:].strip()
    if not raw:
        raise AmountInvalid("Informe o valor.")
    if raw[0] == "-":
        raise AmountInvalid("O valor não pode ser negativo.")
    match = _DOT.fullmatch(raw) or _COMMA.fullmatch(raw)
    if match is None:
        if re.fullmatch(r"[0-9.,]+", raw):
            raise AmountInvalid(f"Valor ambíguo ou com mais de duas casas decimais: '{_shown(raw)}'; {EXAMPLE}.")
        raise AmountInvalid(f"Valor inválido: '{_shown(raw)}'; {EXAMPLE}.")
    integer = match.group("int").replace(".", "")
    return Decimal(f"{integer}.{match.group('dec') or '0'}")


def parse_amount(value: Any, *, allow_zero: bool = False) -> Decimal:
    """The amount ``value`` means, in BRL with two places; raises ``AmountInvalid``."""
    if isinstance(value, bool) or value is None:
        raise AmountInvalid("Informe o valor.")
    if isinstance(value, str):
        amount = _parse_text(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        try:
            amount = Decimal(repr(value))
        except InvalidOperation:  # pragma: no cover — repr of a float is always a number
            raise AmountInvalid("Valor inválido.") from None
    elif isinstance(value, Decimal):
        amount = value
    else:
        raise AmountInvalid(f"Valor inválido: {EXAMPLE}.")
    if not amount.is_finite():
        raise AmountInvalid(f"Valor inválido: '{_shown(value)}'; {EXAMPLE}.")
    if amount.is_signed() and amount != 0:
        raise AmountInvalid("O valor não pode ser negativo.")
    if amount > MAX_AMOUNT:
        raise AmountInvalid(f"Valor acima do máximo aceito ({format_brl(MAX_AMOUNT)}).")
    if amount != amount.quantize(CENT, rounding="ROUND_DOWN"):
        raise AmountInvalid("O valor tem mais de duas casas decimais.")
    amount = abs(amount).quantize(CENT)
    if amount == 0 and not allow_zero:
        raise AmountInvalid("O valor deve ser maior que zero.")
    return amount


def parse_decimal(value: Any) -> Decimal:
    """A pt-BR number that is not an amount (a tax rate, a pace): ``3,65``, ``1.234,5``
    (with a comma, dots group thousands) or ``0.65`` (without one, the dot is the decimal
    point, as a rate with three places needs). Raises ``ValueError`` when it is no finite
    number; the caller checks the range and the places of its own quantity."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not a number")
    text = _SPACES.sub("", str(value))
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite():
        raise ValueError("not a number")
    return number


def format_brl(value: Decimal | int | None) -> str:
    """``Decimal("1234.5")`` → ``"R$ 1.234,50"`` (negative: ``"-R$ 1,00"``)."""
    amount = Decimal(value or 0).quantize(CENT)
    text = f"{abs(amount):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return ("-" if amount < 0 else "") + "R$ " + text


# ---------------------------------------------------------------- entry points' adapters

def _pydantic_raw(value: Any) -> Any:
    """The API's amount as sent, for the service to read with ``parse_amount``: so a bad
    amount is reported by the service like any other field (422 ``validation_failed``,
    the field's code ``amount_invalid``), the same in the API, the pages and the CLI.
    Only a value no one could mean as an amount (a boolean, a list, a long text) stops here."""
    from pydantic_core import PydanticCustomError

    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)) or (
            isinstance(value, str) and len(value) > 30):
        raise PydanticCustomError("amount_invalid", f"Valor inválido: {EXAMPLE}.")
    return value


def _annotated(description: str):
    from pydantic import PlainValidator, WithJsonSchema

    return Annotated[Any, PlainValidator(_pydantic_raw), WithJsonSchema({
        "anyOf": [{"type": "string", "maxLength": 30}, {"type": "number"}],
        "description": description, "examples": ["109.90"]})]


# Field types of the ninja input schemas (the service parses them).
AmountIn = _annotated('Valor em reais maior que zero, até 9999999.99: "109.90", "109,90", "1.234,56".')
PriceIn = _annotated('Valor em reais (zero ou mais), até 9999999.99: "19.90", "19,90", "1.234,56".')


def amount_form_field(*, allow_zero: bool = False, **kwargs):
    """A Django form field that cleans to a Decimal with ``parse_amount`` (empty: None)."""
    from django import forms

    class AmountField(forms.CharField):
        def to_python(self, value):
            text = super().to_python(value)
            if text in self.empty_values:
                return None
            if len(text) > 30:
                raise forms.ValidationError("Valor longo demais.", code="amount_invalid")
            try:
                return parse_amount(text, allow_zero=allow_zero)
            except AmountInvalid as exc:
                raise forms.ValidationError(exc.message, code="amount_invalid") from None

    field = AmountField(**kwargs)  # no max_length validator: the cleaned value is a Decimal
    field.widget.attrs.setdefault("inputmode", "decimal")
    field.widget.attrs.setdefault("maxlength", "30")
    return field
