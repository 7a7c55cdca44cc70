"""Properties of the rule for free text (agrega.core.text.clean_text), checked against an
oracle written again from the rule as docs state it, without the module's helpers:

- refused (``text_control_chars``): a control character (Unicode category Cc), a lone
  surrogate (Cs), and on a single line also U+2028/U+2029 and \\t \\n \\r; a multiline
  value keeps \\t \\n \\r;
- trimmed: characters that draw nothing at either end — spaces and separators (Zs, Zl,
  Zp), format characters (Cf), ASCII whitespace and the named fillers below;
- ``text_blank``: nothing left when required, or nothing left from a value that had more
  than ASCII whitespace; ``text_too_long``: more characters than the limit after trimming.
"""

from __future__ import annotations

import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from agrega.core.br import InvalidValue
from agrega.core.text import clean_text

PROPERTY = settings(max_examples=400, deadline=None)

FILLERS = {unicodedata.lookup(name) for name in (
    "COMBINING GRAPHEME JOINER", "HANGUL CHOSEONG FILLER", "HANGUL JUNGSEONG FILLER",
    "KHMER VOWEL INHERENT AQ", "KHMER VOWEL INHERENT AA", "MONGOLIAN VOWEL SEPARATOR",
    "BRAILLE PATTERN BLANK", "HANGUL FILLER", "HALFWIDTH HANGUL FILLER")}
ASCII_WHITESPACE = set(" \t\n\r\x0b\x0c")


def oracle(value: str, *, max_length: int, multiline: bool, required: bool) -> tuple[str, str]:
    """("ok", text) or ("error", code)."""
    for char in value:
        category = unicodedata.category(char)
        if multiline and char in "\t\n\r":
            continue
        if category in ("Cc", "Cs") or (not multiline and category in ("Zl", "Zp")):
            return "error", "text_control_chars"

    def draws_nothing(char):
        return (unicodedata.category(char) in ("Zs", "Zl", "Zp", "Cf") or char in FILLERS
                or char in ASCII_WHITESPACE)

    visible = [i for i, char in enumerate(value) if not draws_nothing(char)]
    text = value[visible[0]:visible[-1] + 1] if visible else ""
    if not text:
        if required or not set(value) <= ASCII_WHITESPACE:
            return "error", "text_blank"
        return "ok", ""
    if len(text) > max_length:
        return "error", "text_too_long"
    return "ok", text


def actual(value: str, **options) -> tuple[str, str]:
    try:
        return "ok", clean_text(value, **options)
    except InvalidValue as exc:
        return "error", exc.code


# names and addresses as people type them, and what a bad file or client sends
NASTY = st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", "\u200b", "\u200d", "\u00a0", "\ufeff", "\u202e",
                         "\u2028", "\u2029", "\u3164", "\u115f", "\u2800", "\t", "\n", "\r", " ", "\u034f",
                         "\ud800", "\U000e0001"])
TEXT = st.lists(st.one_of(st.characters(), st.sampled_from("aãçÉ -'.,/º"), NASTY), max_size=40).map("".join)
OPTIONS = st.fixed_dictionaries({"max_length": st.integers(0, 30), "multiline": st.booleans(),
                                 "required": st.booleans()})


@PROPERTY
@given(TEXT, OPTIONS)
@example("\u200b\u00a0", {"max_length": 10, "multiline": False, "required": False})
@example(" \t ", {"max_length": 10, "multiline": True, "required": False})
@example("Maria\x00", {"max_length": 10, "multiline": True, "required": True})
@example("\u3164Zé\u2800", {"max_length": 2, "multiline": False, "required": True})
@example("a\u2028b", {"max_length": 10, "multiline": True, "required": True})
def test_clean_text_agrees_with_the_rule(value, options):
    assert actual(value, **options) == oracle(value, **options)


@PROPERTY
@given(TEXT, OPTIONS)
def test_clean_text_is_idempotent_and_keeps_only_a_slice_of_the_input(value, options):
    outcome, text = actual(value, **options)
    if outcome == "ok":
        assert text in value
        assert len(text) <= options["max_length"]
        assert actual(text, **{**options, "required": False}) == ("ok", text)


@PROPERTY
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Zs", "Cf")),
               min_size=1, max_size=30))
def test_visible_text_within_the_limit_is_kept_as_it_is(value):
    if value[0] in FILLERS or value[-1] in FILLERS:
        return
    assert clean_text(value, max_length=30, required=True) == value
