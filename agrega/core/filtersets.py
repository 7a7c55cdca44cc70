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

from agrega.core.errors import ApplicationError, FieldErrors
from agrega.core.params import DB_INT_MAX, parse_id

TEXT, CHOICE, ID, BOOL = "text", "choice", "id", "bool"
_TRUE, _FALSE = {"1", "true", "sim", "s", "yes"}, {"0", "false", "nao", "não", "n", "no"}


def coded_choices(choices) -> list[tuple[str, str]]:
    """``[("", "Todos"), ("A", "A — Ativo"), …]``: the codes operators know, with labels."""
    return [("", "Todos")] + [(value, f"{value} — {label}") for value, label in choices]


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
            if value not in self.choices.values:
                raise ValueError(f"{self.label} inválido: use {', '.join(self.choices.values)}.")
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
            except ApplicationError as exc:
                raise ValueError(exc.message) from None
        return value if isinstance(value, date) else text


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
                errors.add(name, spec.code, str(exc))
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
                   labels: Mapping[str, str] | None = None) -> type[forms.Form]:
        """A Django form with one optional field per filter (the page's filter bar)."""
        fields: dict[str, forms.Field] = {}
        for spec in cls.filters:
            if only is not None and spec.name not in only:
                continue
            label = (labels or {}).get(spec.name, spec.label)
            if spec.kind == CHOICE:
                fields[spec.name] = forms.ChoiceField(label=label, required=False,
                                                      choices=coded_choices(spec.choices.choices))
            elif spec.kind == ID:
                fields[spec.name] = forms.IntegerField(label=label, required=False, min_value=1,
                                                       max_value=DB_INT_MAX)
            elif spec.kind == BOOL:
                fields[spec.name] = forms.NullBooleanField(label=label, required=False)
            else:
                fields[spec.name] = forms.CharField(label=label, required=False, max_length=spec.max_length)
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
                kwargs.update(choices=values, metavar="|".join(values))
                if all(v == v.upper() for v in values):
                    kwargs["type"] = str.upper  # `--status a` is A, as operators type it
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
            return Choice(spec.choices)
        if spec.kind == ID:
            return Id
        if spec.kind == BOOL:
            return bool
        return Annotated[str, Query(max_length=spec.max_length)]
