"""One rule for free text (names, addresses, descriptions, notes, references), shared by
the API schemas, the services, the CLI, the pages and the imports.

``clean_text`` trims, then refuses:

- ``text_control_chars``: a control character (NUL, ESC, DEL, C1 controls…), a lone
  surrogate, or — on a single line — a line break or tab (a multiline field keeps
  ``\\n``, ``\\r`` and ``\\t``);
- ``text_blank``: nothing visible — empty when required, or made only of invisible
  characters (zero-width spaces, U+00A0, format characters, Hangul fillers…);
- ``text_too_long``: more characters than the model's column holds.

Trimming removes invisible characters at both ends; ordinary spaces alone count as empty
(as a form field does), so an optional field sent as ``"  "`` is stored as ``""``.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from .br import InvalidValue

# Letters and symbols that draw nothing, though Unicode does not call them spaces.
INVISIBLE_EXTRA = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")
MULTILINE_ALLOWED = frozenset("\n\r\t")
ASCII_SPACE = frozenset(" \t\n\r\x0b\x0c")
# A TextField has no length in the database; free text still has a bound.
TEXT_FIELD_MAX_LENGTH = 10_000


def is_invisible(char: str) -> bool:
    """Draws nothing: a space or separator, a format character, a filler."""
    return (unicodedata.category(char) in ("Zs", "Zl", "Zp", "Cf")
            or char in INVISIBLE_EXTRA or char in ASCII_SPACE)


def is_forbidden(char: str, *, multiline: bool = False) -> bool:
    """A character no free text may hold (on one line: line breaks and tabs too)."""
    if multiline and char in MULTILINE_ALLOWED:
        return False
    category = unicodedata.category(char)
    return category in ("Cc", "Cs") or (not multiline and category in ("Zl", "Zp"))


def _strip(value: str) -> str:
    start, end = 0, len(value)
    while start < end and is_invisible(value[start]):
        start += 1
    while end > start and is_invisible(value[end - 1]):
        end -= 1
    return value[start:end]


def clean_text(value: Any, *, max_length: int | None, field: str = "", multiline: bool = False,
               required: bool = False) -> str:
    """The trimmed text, or ``InvalidValue`` with a stable code (module docstring)."""
    label = f"{field}: " if field else ""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidValue("text_invalid", f"{label}deve ser um texto.")
    for char in value:
        if is_forbidden(char, multiline=multiline):
            what = "quebra de linha ou tabulação" if char in MULTILINE_ALLOWED or unicodedata.category(char) in (
                "Zl", "Zp") else "caractere de controle"
            raise InvalidValue("text_control_chars", f"{label}contém {what} (U+{ord(char):04X}), que não é aceito.")
    text = _strip(value)
    if not text:
        if required:
            raise InvalidValue("text_blank", f"{label}obrigatório.")
        if any(char not in ASCII_SPACE for char in value):
            raise InvalidValue("text_blank", f"{label}contém apenas caracteres invisíveis.")
        return ""
    if max_length is not None and len(text) > max_length:
        raise InvalidValue("text_too_long", f"{label}muito longo ({len(text)} caracteres; máximo {max_length}).")
    return text


def model_max_length(model, field_name: str) -> int:
    """The column's length (a TextField: ``TEXT_FIELD_MAX_LENGTH``)."""
    return model._meta.get_field(field_name).max_length or TEXT_FIELD_MAX_LENGTH


def clean_model_text(model, field_name: str, value: Any, *, multiline: bool | None = None,
                     required: bool | None = None, label: str = "") -> str:
    """``clean_text`` with the length (and, unless given, whether it is multiline) taken
    from the model's field: a TextField is multiline. Required only when asked: a
    service names a missing value with its own code (``name_required``…)."""
    from django.db import models

    model_field = model._meta.get_field(field_name)
    return clean_text(
        value, max_length=model_max_length(model, field_name), field=label,
        multiline=isinstance(model_field, models.TextField) if multiline is None else multiline,
        required=bool(required))


def _pydantic_validator(*, max_length, multiline, required):
    from pydantic_core import PydanticCustomError

    def validate(value):
        if value is None:
            return value
        try:
            return clean_text(value, max_length=max_length, multiline=multiline, required=required)
        except InvalidValue as exc:
            raise PydanticCustomError(exc.code, exc.message) from None

    return validate


def Text(max_length: int | None = None, *, multiline: bool = False, required: bool = False):  # noqa: N802
    """An API schema's free-text field: ``clean_text`` as a pydantic type (its codes in
    the 422's ``fields``), with ``maxLength`` in the OpenAPI document (counted after
    trimming, so surrounding spaces are forgiven)."""
    from pydantic import AfterValidator, Field

    max_length = max_length or TEXT_FIELD_MAX_LENGTH
    return Annotated[str, Field(json_schema_extra={"maxLength": max_length}),
                     AfterValidator(_pydantic_validator(max_length=max_length, multiline=multiline,
                                                        required=required))]


def ModelText(model, field_name: str, *, multiline: bool | None = None, required: bool | None = None):  # noqa: N802
    """``Text`` with the length and multiline of a model's field (see
    ``clean_model_text``), so the API can never accept more than the column holds."""
    from django.db import models

    model_field = model._meta.get_field(field_name)
    return Text(model_max_length(model, field_name),
                multiline=isinstance(model_field, models.TextField) if multiline is None else multiline,
                required=bool(required))


def find_forbidden(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first (path, character) of a string holding a control character anywhere in a
    parsed JSON value or query mapping — the API's backstop for every field, whatever its
    schema (line breaks and tabs are left to each field's own rule)."""
    if isinstance(value, str):
        for char in value:
            if is_forbidden(char, multiline=True):
                return path, char
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_forbidden(key, path) or find_forbidden(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_forbidden(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def clean_text_into(errors, name: str, model, field_name: str, value: Any, **options) -> str | None:
    """``clean_model_text`` for a service collecting ``FieldErrors``: the clean text, or
    None with the error added under ``name``."""
    try:
        return clean_model_text(model, field_name, value, **options)
    except InvalidValue as exc:
        errors.add(name, exc.code, exc.message)
        return None
