"""Properties of core.money.parse_amount against an oracle written from the rule of
docs/payments.md ("Valores") — by hand, character by character, not with the parser's
regular expressions — and against amounts rendered the ways people and bank files write
them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agrega.core.money import MAX_AMOUNT, AmountInvalid, format_brl, parse_amount

PROPERTY = settings(max_examples=400, deadline=None)
MAX_CENTS = 999_999_999  # R$ 9.999.999,99
DIGITS = "0123456789"


# ---------------------------------------------------------------- the oracle

def _int_part(text: str) -> int | None:
    """Digits, or thousands groups split by '.' (first group 1–3 digits, not starting with
    0; each other group exactly 3)."""
    if not text:
        return None
    if "." not in text:
        return int(text) if all(c in DIGITS for c in text) else None
    groups = text.split(".")
    first, rest = groups[0], groups[1:]
    if not (1 <= len(first) <= 3 and first[0] != "0" and all(c in DIGITS for c in first)):
        return None
    if not all(len(g) == 3 and all(c in DIGITS for c in g) for g in rest):
        return None
    return int("".join(groups))


def oracle(text: str, *, allow_zero: bool = False) -> Decimal | None:
    """The amount ``text`` means by the rule, or None when it must be refused."""
    s = text.strip()
    if s[:2] in ("R$", "r$"):
        s = s[2:].strip()
    if not s or any(c not in DIGITS + ".," for c in s):
        return None
    if "," in s:
        if s.count(",") != 1:
            return None
        left, decimals = s.split(",")
        if not (1 <= len(decimals) <= 2 and all(c in DIGITS for c in decimals)):
            return None
        whole = _int_part(left)
    else:
        left, _, after = s.rpartition(".")
        if s.count(".") == 1 and 1 <= len(after) <= 2:  # dot as the decimal separator
            if not left or not all(c in DIGITS for c in left + after):
                return None
            whole, decimals = int(left), after
        else:
            whole, decimals = _int_part(s), ""
    if whole is None:
        return None
    cents = whole * 100 + (int(decimals.ljust(2, "0")) if decimals else 0)
    if cents > MAX_CENTS or (cents == 0 and not allow_zero):
        return None
    return Decimal(cents) / 100


def parsed(text, **kw) -> Decimal | None:
    try:
        return parse_amount(text, **kw)
    except AmountInvalid as exc:
        assert exc.code == "amount_invalid" and exc.status_code == 422 and exc.message
        return None


# ---------------------------------------------------------------- renderings

def grouped(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def renderings(cents: int) -> list[str]:
    whole, part = divmod(cents, 100)
    forms = [f"{whole},{part:02d}", f"{grouped(whole)},{part:02d}", f"{whole}.{part:02d}"]
    if part % 10 == 0:  # one decimal is enough: 10,5 / 10.5
        forms += [f"{whole},{part // 10}", f"{grouped(whole)},{part // 10}", f"{whole}.{part // 10}"]
    if part == 0:  # no decimals: 1234 / 1.234
        forms += [str(whole), grouped(whole)]
    return forms


@PROPERTY
@given(cents=st.integers(min_value=1, max_value=MAX_CENTS), style=st.integers(0, 100),
       prefix=st.sampled_from(["", "R$ ", "R$", "  ", "R$\u00a0"]), suffix=st.sampled_from(["", " "]))
@example(cents=123400, style=7, prefix="", suffix="")  # "1.234" is one thousand two hundred thirty-four
@example(cents=MAX_CENTS, style=1, prefix="R$ ", suffix="")
def test_amounts_written_as_people_and_banks_write_them(cents, style, prefix, suffix):
    forms = renderings(cents)
    text = prefix + forms[style % len(forms)] + suffix
    expected = Decimal(cents) / 100
    assert parse_amount(text) == expected
    assert oracle(text.replace("\u00a0", " ")) == expected


@PROPERTY
@given(st.text(alphabet="0123456789.,", max_size=14))
@example("1.234")
@example("0.123")
@example("1.234.567,8")
@example("01.234")
@example("1234.567")
@example(",5")
@example("5,")
@example("1..234")
def test_parser_agrees_with_the_oracle_on_any_digits_and_separators(text):
    assert parsed(text) == oracle(text)
    assert parsed(text, allow_zero=True) == oracle(text, allow_zero=True)


@PROPERTY
@given(st.text(alphabet="0123456789.,R$ -+eEnaNIifty\u00a0_xX", max_size=16))
def test_parser_agrees_with_the_oracle_on_junk(text):
    expected = oracle(text.replace("\u00a0", " "))
    assert parsed(text) == expected


@PROPERTY
@given(mantissa=st.integers(min_value=1, max_value=10 ** 6), exponent=st.integers(-30, 30),
       letter=st.sampled_from("eE"))
def test_exponents_are_refused(mantissa, exponent, letter):
    for text in (f"{mantissa}{letter}{exponent}", f"{mantissa}.5{letter}{exponent}", f"{mantissa},5{letter}+{exponent}"):
        assert parsed(text) is None


@PROPERTY
@given(whole=st.integers(0, 10 ** 6), decimals=st.text(alphabet=DIGITS, min_size=3, max_size=8))
def test_three_or_more_decimals_are_refused_unless_they_are_a_thousands_group(whole, decimals):
    comma = f"{whole},{decimals}"
    assert parsed(comma) is None
    dot = f"{whole}.{decimals}"
    if len(decimals) == 3 and 1 <= whole <= 999 and str(whole)[0] != "0":
        assert parsed(dot) == oracle(dot) == Decimal(int(f"{whole}{decimals}"))  # "1.234"
    else:
        assert parsed(dot) is None


@PROPERTY
@given(cents=st.integers(min_value=MAX_CENTS + 1, max_value=10 ** 40))
def test_huge_amounts_are_refused(cents):
    whole, part = divmod(cents, 100)
    for text in (f"{whole},{part:02d}", f"{whole}.{part:02d}", grouped(whole)):
        assert parsed(text) is None
    assert parsed(Decimal(cents) / 100) is None
    assert parsed(whole) is None


@PROPERTY
@given(st.sampled_from(["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "+inf", "-0,01", "-1", "+1", "1-",
                        "--1", "1 234", "1.234,56.78", "١٢٣", "１２３", "12¹", "0x1F", "1_000"]))
def test_named_junk_is_refused(text):
    assert parsed(text) is None


@PROPERTY
@given(cents=st.integers(min_value=1, max_value=MAX_CENTS))
def test_json_numbers_and_decimals(cents):
    value = Decimal(cents) / 100
    assert parse_amount(float(value)) == value  # the float a JSON "109.90" becomes
    assert parse_amount(value) == value
    if cents % 100 == 0:
        assert parse_amount(cents // 100) == value


@PROPERTY
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_only_when_their_shortest_decimal_has_two_places(number):
    text = repr(number)
    expected = None
    if number == number and abs(number) != float("inf") and number > 0:
        decimal = Decimal(text)
        if decimal <= MAX_AMOUNT and decimal == decimal.quantize(Decimal("0.01")):
            expected = decimal.quantize(Decimal("0.01"))
    assert parsed(number) == expected


@PROPERTY
@given(sign=st.sampled_from([1, -1]), digits=st.integers(0, 10 ** 12), exponent=st.integers(-6, 6))
def test_decimals_by_value(sign, digits, exponent):
    value = Decimal(sign * digits).scaleb(exponent)
    ok = value > 0 and value <= MAX_AMOUNT and value == value.quantize(Decimal("0.01"))
    assert parsed(value) == (value.quantize(Decimal("0.01")) if ok else None)


@PROPERTY
@given(cents=st.integers(min_value=0, max_value=MAX_CENTS))
def test_format_brl_is_read_back(cents):
    value = Decimal(cents) / 100
    text = format_brl(value)
    assert text.startswith("R$ ") and text.endswith(f",{cents % 100:02d}")
    assert parse_amount(text, allow_zero=True) == value


@pytest.mark.parametrize("value", [True, False, None, [], {}, object()])
def test_non_amount_types_are_refused(value):
    with pytest.raises(AmountInvalid):
        parse_amount(value)
