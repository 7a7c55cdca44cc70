"""One declaration of a list's filters, shared by its page, its API and its CLI.

Before, each list parsed its filters three times (the page's form, the API's query
parameters, the CLI's options), and the three drifted (a status accepted by one and not
by another, a city trimmed here and not there). A ``FilterSet`` (the NetBox pattern)
declares each filter once — its name, label, kind, choices, the ORM lookup or method that
applies it, its validation — and gives every entry point what it needs:

* ``FilterSet(data).queryset()``: the filtered rows (selectors call this);
* ``FilterSet(data).clean()``: the valid values, or ``ValidationFailed`` (422) naming each
  bad filter with a stable code (``filter_unknown``, ``filter_invalid``, …);
* ``FilterSet.form_class()``: the page's filter form (same labels and choices);
* ``FilterSet.add_arguments(parser)`` / ``FilterSet.from_options(options)``: the CLI's options;
* ``FilterSet.api_type(name)``: the type of the API's query parameter (an enum for a closed
  set, so an unknown value is a 422 before the view runs — tests/api/test_filters_reject_unknown.py).

Empty values (``None``, ``""``) mean "no filter" everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, ClassVar

from django import forms
from django.db.models import QuerySet

from agrega.core.br import InvalidValue
from agrega.core.errors import ApplicationError, FieldErrors
from agrega.core.params import DB_INT_MAX, parse_id

TEXT, CHOICE, ID, BOOL = "text", "choice", "id", "bool"
_TRUE, _FALSE = {"1", "true", "sim", "s", "yes"}, {"0", "false", "nao", "não", "n", "no"}


def coded_choices(choices) -> list[tuple[str, str]]:
    """``[("", "Todos"), ("A", "A — Ativo"), …]``: the codes operators know, with labels."""
    return [("", "Todos")] + [(value, f"{value} — {label}") for value, label in choices]


class FilterValueError(ValueError):
    """A bad filter value with the code to report it under."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Filter:
    """One filter of a list.

    ``lookup`` is the ORM lookup the cleaned value is applied with
    (``queryset.filter(**{lookup: value})``); ``method`` instead names a method of the
    FilterSet, ``method(queryset, value) -> queryset``. ``option`` is the CLI's option
    (``--has-product``) when it is not the name with dashes. ``code`` is the error code of
    a bad value (``filter_invalid`` unless the list has kept an older one)."""

    name: str
    label: str
    kind: str = TEXT
    lookup: str | None = None
    method: str | None = None
    choices: Any = None
    max_length: int = 200
    option: str | None = None
    metavar: str | None = None
    code: str = "filter_invalid"
    parser: Any = None  # text -> value, raising ValueError or ApplicationError (e.g. a period)
    parser_codes: bool = False  # a bad value keeps the parser's own code (``cpf_invalid``, …)
    normalize: Any = None  # text -> text before a choice is checked (" sp " -> "SP"), in every entry point
    # the page's field: the "no filter" option, the choices shown with their codes ("A — Ativo")
    # or by label only, a yes/no filter's two options, the input's type ("search", "month")
    all_label: str = "Todos"
    coded: bool = True
    yes_no: tuple[str, str] = ("Sim", "Não")
    input_type: str | None = None
    placeholder: str | None = None

    @property
    def cli_option(self) -> str:
        return self.option or "--" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        return self.cli_option.lstrip("-").replace("-", "_")

    def clean(self, value) -> Any:
        """The value this filter applies, or ``ValueError`` with the Portuguese message."""
        if self.kind == CHOICE:
            value = getattr(value, "value", value)
            if self.normalize is not None and isinstance(value, str):
                value = self.normalize(value)
            if value not in self.choices.values:
                raise ValueError(f"{self.label}: valor não aceito; use {', '.join(self.choices.values)}.")
            return value
        if self.kind == ID:
            number = parse_id(value if isinstance(value, int) and not isinstance(value, bool) else str(value))
            if number is None:
                raise ValueError("Deve ser um ID numérico.")
            return number
        if self.kind == BOOL:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError("Use sim ou não.")
        text = str(value).strip()
        if len(text) > self.max_length:
            raise ValueError(f"No máximo {self.max_length} caracteres.")
        if self.parser is not None and text and not isinstance(value, date):
            try:
                return self.parser(text)
            except (ApplicationError, InvalidValue) as exc:
                raise FilterValueError(exc.message, exc.code if self.parser_codes else self.code) from None
        return value if isinstance(value, date) else text


class _ChoiceField(forms.ChoiceField):
    """A choice the page reads as the API and the CLI do (``Filter.normalize``: " sp " is SP)."""

    def __init__(self, *args, normalize=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.normalize = normalize

    def to_python(self, value):
        value = super().to_python(value)
        return self.normalize(value) if value and self.normalize is not None else value


def _choice_type(spec: Filter):
    """The CLI's reading of a choice: normalized as everywhere (``--status a`` is A, as
    operators type it), an unknown value refused in Portuguese (argparse exits 2)."""
    import argparse

    values = list(spec.choices.values)
    if spec.normalize is not None:
        normalize = spec.normalize
    elif all(v == v.upper() for v in values):
        normalize = str.upper
    else:
        normalize = str

    def read(text: str) -> str:
        value = normalize(text)
        if value not in values:
            raise argparse.ArgumentTypeError(f"{spec.label}: valor não aceito; use {', '.join(values)}.")
        return value

    read.__name__ = spec.name
    return read


class FilterSet:
    """Subclasses declare ``filters`` and ``base()``; see the module's docstring."""

    filters: ClassVar[tuple[Filter, ...]] = ()
    invalid_message: ClassVar[str] = "Filtros inválidos."

    def __init__(self, data: Mapping | None = None, *, strict: bool = True):
        self.data = {k: v for k, v in (data or {}).items() if v not in (None, "")}
        self.strict = strict

    # -- declaration --------------------------------------------------------------------

    def base(self) -> QuerySet:
        raise NotImplementedError

    def validate(self, clean: dict, errors: FieldErrors) -> None:
        """Checks across filters or against the database (a plan that exists); adds errors."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.filters)

    @classmethod
    def get(cls, name: str) -> Filter:
        return next(f for f in cls.filters if f.name == name)

    # -- reading ------------------------------------------------------------------------

    def clean_into(self, errors: FieldErrors) -> dict:
        """The valid filters; each bad one added to ``errors`` (for a caller with its own)."""
        known = {f.name: f for f in self.filters}
        clean: dict = {}
        for name in sorted(set(self.data) - set(known)):
            if self.strict:
                errors.add(name, "filter_unknown", f"Filtro desconhecido. Use: {', '.join(known)}.")
        for name, spec in known.items():
            if name not in self.data:
                continue
            try:
                value = spec.clean(self.data[name])
            except ValueError as exc:
                errors.add(name, getattr(exc, "code", None) or spec.code, str(exc))
                continue
            if value != "":
                clean[name] = value
        self.validate(clean, errors)
        return clean

    def clean(self) -> dict:
        """The valid filters, or ``ValidationFailed`` (422) naming each bad one."""
        errors = FieldErrors()
        clean = self.clean_into(errors)
        errors.raise_if_any(self.invalid_message)
        return clean

    def apply(self, queryset: QuerySet, clean: Mapping) -> QuerySet:
        for spec in self.filters:
            if spec.name not in clean:
                continue
            if spec.method:
                queryset = getattr(self, spec.method)(queryset, clean[spec.name])
            else:
                queryset = queryset.filter(**{spec.lookup or spec.name: clean[spec.name]})
        return queryset

    def queryset(self) -> QuerySet:
        return self.apply(self.base(), self.clean())

    @classmethod
    def filtered(cls, values: Mapping) -> QuerySet:
        """The base filtered by values already valid (the API's typed parameters, a selector's
        keyword arguments): applied as they are, ``None`` meaning "no filter"."""
        filterset = cls()
        return filterset.apply(filterset.base(), {k: v for k, v in values.items() if v is not None})

    # -- entry points -------------------------------------------------------------------

    @classmethod
    def form_class(cls, *, only: tuple[str, ...] | None = None,
                   labels: Mapping[str, str] | None = None,
                   hidden: tuple[str, ...] = ()) -> type[forms.Form]:
        """A Django form with one optional field per filter (the page's filter bar), in the
        declared order; ``hidden`` filters ride along as hidden inputs (a page reached from a
        contract keeps its contract). Once its fields are valid, the form asks the FilterSet
        too (a period that does not parse, a plan that does not exist): each refusal is put
        next to its field, in Portuguese, and ``filter_values`` holds the clean filters."""
        fields: dict[str, forms.Field] = {}
        for spec in cls.filters:
            if only is not None and spec.name not in only:
                continue
            label = (labels or {}).get(spec.name, spec.label)
            if spec.kind == CHOICE:
                choices = (coded_choices(spec.choices.choices) if spec.coded
                           else [("", "Todos")] + list(spec.choices.choices))
                choices[0] = ("", spec.all_label)
                field = _ChoiceField(label=label, required=False, choices=choices, normalize=spec.normalize)
            elif spec.kind == ID:
                field = forms.IntegerField(label=label, required=False, min_value=1, max_value=DB_INT_MAX)
            elif spec.kind == BOOL:
                # "sim"/"nao": what ``Filter.clean`` reads, as the API's true/false
                field = forms.ChoiceField(label=label, required=False, choices=[
                    ("", spec.all_label), ("sim", spec.yes_no[0]), ("nao", spec.yes_no[1])])
            else:
                attrs = {"type": spec.input_type} if spec.input_type else {}
                if spec.placeholder:
                    attrs["placeholder"] = spec.placeholder
                field = forms.CharField(label=label, required=False, max_length=spec.max_length,
                                        widget=forms.TextInput(attrs=attrs))
            if spec.name in hidden:
                field.widget = forms.HiddenInput()
            fields[spec.name] = field
        filterset = cls

        def clean(self):
            cleaned = forms.Form.clean(self)
            errors = FieldErrors()
            given = {name: cleaned.get(name) for name in self.fields if name in filterset.names()}
            # only the values are checked here: a FilterSet scoped by its own arguments (an
            # import's lines, ``job_id``) is built without them, its base is never asked
            checker = object.__new__(filterset)
            FilterSet.__init__(checker, given, strict=False)
            self.filter_values = checker.clean_into(errors)
            for name, field_errors in errors.errors.items():
                for error in field_errors:
                    self.add_error(name if name in self.fields else None, error.message)
            return cleaned

        fields["clean"] = clean
        fields["filter_values"] = {}
        return type(cls.__name__ + "Form", (forms.Form,), fields)

    @classmethod
    def add_arguments(cls, parser, *, only: tuple[str, ...] | None = None) -> None:
        """One CLI option per filter, with the same choices and label."""
        for spec in cls.filters:
            if only is not None and spec.name not in only:
                continue
            kwargs: dict = {"dest": spec.dest, "help": spec.label[:1].lower() + spec.label[1:]}
            if spec.kind == CHOICE:
                values = list(spec.choices.values)
                kwargs.update(choices=values, metavar=spec.metavar or "|".join(values), type=_choice_type(spec))
            elif spec.kind == ID:
                kwargs["metavar"] = spec.metavar or "ID"
            elif spec.kind == BOOL:
                kwargs.update(action="store_const", const=True)  # a flag: absent = no filter
            elif spec.metavar:
                kwargs["metavar"] = spec.metavar
            parser.add_argument(spec.cli_option, **kwargs)

    @classmethod
    def from_options(cls, options: Mapping) -> dict:
        """The filters an invocation gave (option values by filter name)."""
        return {spec.name: options.get(spec.dest) for spec in cls.filters
                if options.get(spec.dest) not in (None, "")}

    @classmethod
    def api_type(cls, name: str):
        """The annotation of the API's query parameter for this filter."""
        from ninja import Query

        from agrega.core.api import Choice, Id

        spec = cls.get(name)
        if spec.kind == CHOICE:
            if spec.normalize is not None:
                from pydantic import BeforeValidator

                normalize = spec.normalize
                return Annotated[Choice(spec.choices),
                                 BeforeValidator(lambda v: normalize(v) if isinstance(v, str) else v)]
            return Choice(spec.choices)
        if spec.kind == ID:
            return Id
        if spec.kind == BOOL:
            return bool
        return Annotated[str, Query(max_length=spec.max_length)]
