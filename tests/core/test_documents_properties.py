"""CPF, numeric CNPJ and alphanumeric CNPJ (Receita Federal, from July 2026) against an
oracle written here from the Receita's rule, independent of agrega.core.br and of
python-stdnum:

* the CNPJ's first 12 characters are digits or upper-case letters, the last 2 are
  digits; each character counts as its ASCII code minus 48 ("0" → 0, "A" → 17);
* each check digit is the weighted sum mod 11 (weights 2..9 from the right, cycling),
  0 when the rest is below 2, else 11 − rest; the CPF is the same on 9 digits with
  weights 2..11;
* typed input may carry . / - and spaces and lower-case letters; any other character
  is refused, and so is a document whose characters are all the same.
"""

import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from agrega.core.br import (
    InvalidValue,
    clean_document,
    document_kind,
    document_search_term,
    format_document,
)

PROPERTY = settings(max_examples=300, deadline=None)
ALNUM = string.digits + string.ascii_uppercase
SEPARATORS = " ./-"


def value(char: str) -> int:
    return ord(char) - 48


def check_digit(chars: str, top_weight: int) -> str:
    """One Receita check digit over ``chars`` (weights from the right: 2, 3, … up to
    ``top_weight``, then 2 again)."""
    total = 0
    for i, char in enumerate(reversed(chars)):
        total += value(char) * (2 + i % (top_weight - 1))
    rest = total % 11
    return "0" if rest < 2 else str(11 - rest)


def cpf_digits(base9: str) -> str:
    d1 = check_digit(base9, 11)
    return base9 + d1 + check_digit(base9 + d1, 11)


def cnpj_digits(base12: str) -> str:
    d1 = check_digit(base12, 9)
    return base12 + d1 + check_digit(base12 + d1, 9)


def expected(text: str) -> tuple[str | None, str]:
    """(refusal code or None, compact value) as the rule says."""
    out = []
    for char in text.strip():
        if char in SEPARATORS:
            continue
        if char in string.ascii_letters or char in string.digits:
            out.append(char.upper())
        else:
            return "document_invalid_character", ""
    raw = "".join(out)
    if not raw:
        return "document_required", raw
    if len(raw) not in (11, 14):
        return "document_invalid", raw
    if len(raw) == 11 and not all(c in string.digits for c in raw):
        return "document_invalid_character", raw
    if len(raw) == 14 and not all(c in string.digits for c in raw[12:]):
        return "document_invalid_character", raw
    if len(set(raw)) == 1:
        return "document_same_digits", raw
    if len(raw) == 11:
        return (None if cpf_digits(raw[:9]) == raw else "cpf_invalid"), raw
    return (None if cnpj_digits(raw[:12]) == raw else "cnpj_invalid"), raw


def outcome(text: str) -> tuple[str | None, str]:
    try:
        return None, clean_document(text)
    except InvalidValue as exc:
        assert exc.message and exc.message.strip()
        return exc.code, ""


cpfs = st.text(string.digits, min_size=9, max_size=9).filter(lambda b: len(set(b)) > 1).map(cpf_digits)
numeric_cnpjs = st.text(string.digits, min_size=12, max_size=12).filter(
    lambda b: len(set(b)) > 1).map(cnpj_digits)
alphanumeric_cnpjs = st.text(ALNUM, min_size=12, max_size=12).filter(
    lambda b: any(c.isalpha() for c in b)).map(cnpj_digits)
documents = st.one_of(cpfs, numeric_cnpjs, alphanumeric_cnpjs)


@st.composite
def typed(draw, document):
    """``document`` as a person may type it: any case, separators anywhere, spaces around."""
    out = []
    for char in document:
        if draw(st.booleans()):
            out.append(draw(st.sampled_from(SEPARATORS)))
        out.append(char.lower() if draw(st.booleans()) else char)
    return draw(st.sampled_from(["", " "])) + "".join(out) + draw(st.sampled_from(["", " "]))


@PROPERTY
@given(documents.flatmap(lambda d: st.tuples(st.just(d), typed(d))))
@example(("12ABC34501DE35", "12.abc.345/01de-35"))  # the Receita's own example
@example(("52998224725", "529.982.247-25"))
def test_valid_documents_are_accepted_however_typed(pair):
    document, text = pair
    assert clean_document(text) == document
    assert document_kind(document) == ("F" if len(document) == 11 else "J")


@PROPERTY
@given(documents)
def test_format_is_the_receita_mask_and_round_trips(document):
    shown = format_document(document)
    if len(document) == 11:
        assert shown == f"{document[:3]}.{document[3:6]}.{document[6:9]}-{document[9:]}"
    else:
        assert shown == f"{document[:2]}.{document[2:5]}.{document[5:8]}/{document[8:12]}-{document[12:]}"
    assert clean_document(shown) == document
    assert clean_document(shown.lower()) == document


def test_format_of_the_receita_example():
    assert format_document("12ABC34501DE35") == "12.ABC.345/01DE-35"
    assert format_document("11222333000181") == "11.222.333/0001-81"
    assert format_document("52998224725") == "529.982.247-25"
    # an anonymised placeholder is not a document: shown as it is
    assert format_document("ANON0000000012") == "ANON0000000012"


@st.composite
def mutations(draw):
    """A valid document changed the ways typing goes wrong."""
    document = draw(documents)
    kind = draw(st.sampled_from(["substitute", "delete", "insert", "swap", "foreign", "letter_in_digits"]))
    i = draw(st.integers(0, len(document) - 1))
    if kind == "substitute":
        return document[:i] + draw(st.sampled_from(ALNUM)) + document[i + 1:]
    if kind == "delete":
        return document[:i] + document[i + 1:]
    if kind == "insert":
        return document[:i] + draw(st.sampled_from(ALNUM)) + document[i:]
    if kind == "swap":
        j = draw(st.integers(0, len(document) - 1))
        chars = list(document)
        chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars)
    if kind == "foreign":
        char = draw(st.characters(exclude_characters=ALNUM + ALNUM.lower() + SEPARATORS))
        return document[:i] + char + document[i:]
    # a letter where only digits go: anywhere in a CPF, the CNPJ's check digits
    j = draw(st.integers(0, 10)) if len(document) == 11 else draw(st.sampled_from([12, 13]))
    return document[:j] + draw(st.sampled_from(string.ascii_uppercase)) + document[j + 1:]


@PROPERTY
@given(mutations())
@example("12ABC34501DE36")  # wrong check digit
@example("12ABC34501DEA5")  # a letter among the check digits
@example("5299822472A")     # a letter in a CPF
@example("12ABC34501DE3")   # too short
@example("12ABC34501DE35!")  # a character no document has
@example("AAAAAAAAAAAAAA")
@example("00000000000000")
def test_every_mutation_gets_the_reason_the_rule_gives(text):
    code, compact = expected(text)
    assert outcome(text) == ((None, compact) if code is None else (code, ""))


@PROPERTY
@given(st.text(max_size=24))
@example("12.abc.345/01de-35")
@example("ı2ABC34501DE35")  # a non-ASCII letter whose upper case is ASCII: refused
@example("１１２２２３３３０００１８１")  # full-width digits: refused
def test_any_text_gets_the_reason_the_rule_gives(text):
    code, compact = expected(text)
    assert outcome(text) == ((None, compact) if code is None else (code, ""))


@PROPERTY
@given(documents.flatmap(lambda d: st.tuples(st.just(d), st.integers(1, 18))))
def test_a_typed_piece_of_a_document_searches_as_its_compact_form(pair):
    """A piece of the formatted document, in any case, is a search for the document's
    start when it holds a digit and is typed with the document's punctuation or has no
    more letters than digits (so that a name with a digit stays a name search)."""
    document, length = pair
    shown = format_document(document)[:length]
    compact = "".join(c for c in shown if c not in SEPARATORS)
    digits_, letters = sum(c.isdigit() for c in compact), sum(c.isalpha() for c in compact)
    looks_like_one = digits_ > 0 and (any(c in shown for c in "./-") or letters <= digits_)
    assert document_search_term(shown.lower()) == (compact if looks_like_one else None)
    assert document_search_term(format_document(document)) == document


@given(st.sampled_from(["Ana Souza", "ana@example.com", "Sorocaba", "(11) 9876", "", "Maria Manual bd5b07",
                        "Loja 2", "Provedor 3 Irmãos", "abc12"]))
def test_names_and_emails_are_not_document_searches(text):
    assert document_search_term(text) is None


# format_document and format_mobile answer a stored value directly (the API formats one of
# each per customer of every page); these hold the fast paths to the full rule they replace.

@PROPERTY
@given(st.one_of(documents, st.text(alphabet=string.digits, min_size=11, max_size=11),
                 st.text(alphabet=string.digits, min_size=14, max_size=14),
                 st.text(alphabet=string.digits, min_size=9, max_size=16),
                 st.sampled_from(["00000000000", "99999999999", "00000000000000", "00000000000191",
                                  "000000000001", "ANON0000000012", "", "１２３４５６７８９０１"])))
@example("52998224725")
@example("52998224724")
def test_format_document_fast_path_is_the_full_rule(document):
    from agrega.core.br import _format_document_slow

    assert format_document(document) == _format_document_slow(document)


def test_format_mobile_fast_path_is_phonenumbers_for_every_ddd_and_start():
    import random

    from agrega.core.br import _format_mobile_slow, format_mobile

    rng = random.Random(21)
    for ddd in (f"{a}{b}" for a in "123456789" for b in "123456789"):
        for start in range(0, 1000, 7):
            number = f"+55{ddd}9{start:03d}{rng.randrange(10**5):05d}"
            assert format_mobile(number) == _format_mobile_slow(number), number
    for other in ("+5511987654321", "+551133334444", "+5510987654321", "+14155552671", "11987654321",
                  "+55119876543210", "+55 11 98765-4321", "x"):
        assert format_mobile(other) == _format_mobile_slow(other), other
