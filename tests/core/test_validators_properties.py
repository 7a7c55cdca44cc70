"""Properties of the Brazilian registration validators, checked against independent
re-implementations of the rules (Receita Federal's check digits, Anatel's numbering)."""

import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from agrega.core.br import InvalidValue, clean_document, clean_email, clean_mobile, format_document

PROPERTY = settings(max_examples=200, deadline=None)


def dv(numbers, weights):
    rest = sum(n * w for n, w in zip(numbers, weights)) % 11
    return 0 if rest < 2 else 11 - rest


def cpf_ok(d: str) -> bool:
    n = [int(c) for c in d]
    return len(set(d)) > 1 and n[9] == dv(n[:9], range(10, 1, -1)) and n[10] == dv(n[:10], range(11, 1, -1))


CNPJ_W1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
CNPJ_W2 = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]


def cnpj_ok(d: str) -> bool:
    n = [int(c) for c in d]
    return len(set(d)) > 1 and n[12] == dv(n[:12], CNPJ_W1) and n[13] == dv(n[:13], CNPJ_W2)


def accepts(clean, value) -> bool:
    try:
        clean(value)
        return True
    except InvalidValue:
        return False


@PROPERTY
@given(st.text(alphabet=string.digits, min_size=11, max_size=11))
@example("11111111111")
@example("52998224725")
def test_cpf_accepted_exactly_when_the_check_digits_hold(digits):
    assert accepts(clean_document, digits) == cpf_ok(digits)


@PROPERTY
@given(st.text(alphabet=string.digits, min_size=14, max_size=14))
@example("00000000000000")
@example("11222333000181")
def test_cnpj_accepted_exactly_when_the_check_digits_hold(digits):
    assert accepts(clean_document, digits) == cnpj_ok(digits)


@PROPERTY
@given(st.integers(0, 10**9 - 1), st.sampled_from(["", ".", "-", " "]))
def test_valid_cpf_survives_any_punctuation_and_round_trips(seed, sep):
    base = [int(c) for c in f"{seed:09d}"]
    d1 = dv(base, range(10, 1, -1))
    d2 = dv(base + [d1], range(11, 1, -1))
    digits = "".join(map(str, base + [d1, d2]))
    if len(set(digits)) == 1:
        return
    punctuated = sep.join([digits[:3], digits[3:6], digits[6:9]]) + (sep or "") + digits[9:]
    assert clean_document(punctuated) == digits
    assert clean_document(format_document(digits)) == digits


@PROPERTY
@given(st.text(max_size=30))
def test_document_never_crashes_and_returns_the_compact_form(text):
    try:
        result = clean_document(text)
    except InvalidValue as exc:
        assert exc.code in {"document_required", "document_invalid", "document_invalid_character",
                            "document_same_digits", "cpf_invalid", "cnpj_invalid"}
    else:
        assert result.isascii() and result.isalnum() and result.upper() == result and len(result) in (11, 14)


@PROPERTY
@given(st.sampled_from([11, 21, 31, 41, 51, 61, 71, 81, 91, 27, 85]), st.integers(0, 10**8 - 1),
       st.sampled_from(["({ddd}) 9{a}-{b}", "{ddd}9{a}{b}", "+55 {ddd} 9{a}-{b}", "0{ddd} 9{a} {b}"]))
def test_mobile_numbers_normalise_to_e164(ddd, number, layout):
    a, b = f"{number:08d}"[:4], f"{number:08d}"[4:]
    value = layout.format(ddd=ddd, a=a, b=b)
    assert clean_mobile(value) == f"+55{ddd}9{a}{b}"


@PROPERTY
@given(st.sampled_from([11, 21, 31]), st.integers(2000_0000, 5999_9999))
def test_landlines_are_not_mobiles(ddd, number):
    assert not accepts(clean_mobile, f"({ddd}) {number}")


@PROPERTY
@given(st.text(max_size=40))
def test_mobile_never_crashes_and_answers_e164_or_a_code(text):
    try:
        result = clean_mobile(text)
    except InvalidValue as exc:
        assert exc.code in {"mobile_required", "mobile_invalid", "mobile_not_mobile"}
    else:
        assert result.startswith("+55") and result[1:].isdigit() and len(result) == 14


LOCAL = st.text(alphabet=string.ascii_lowercase + string.digits + "._+-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s)
LABEL = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)


@PROPERTY
@given(LOCAL, st.lists(LABEL, min_size=1, max_size=3), st.sampled_from(["com", "com.br", "net.br", "org"]))
def test_well_formed_emails_are_accepted_with_a_lowercase_domain(local, labels, tld):
    domain = f"{'.'.join(labels)}.{tld}"
    assert clean_email(f"{local}@{domain.upper()}") == f"{local}@{domain}"


@PROPERTY
@given(st.text(max_size=40))
def test_email_without_exactly_one_at_is_refused(text):
    if text.count("@") != 1:
        assert not accepts(clean_email, text)
