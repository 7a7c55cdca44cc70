"""The small helpers every app's page module shares (they live in ``core`` so that no
domain app imports the ``web`` shell; ``web`` only holds the dashboard, login and layout).

Helpers:

* ``keyset_context(request, queryset)``: one page of a list by ``?cursor=`` (id of the
  last row seen), without COUNT; gives ``rows``, ``next_url``, ``first_url`` for
  ``web/_pagination.html``.
* ``BootstrapFormMixin``: puts Bootstrap classes on a form's widgets.
* ``apply_service_error(form, exc, field_map)``: shows an ``ApplicationError``'s field
  errors next to the form fields (the rest as a form-level error).
* ``lupa_field(request, default)``: the ``?field=`` of a lupa rows view (the id of the
  input that receives the chosen id), checked to be a plain element id.
* ``safe_next(request, default)``: the ``next`` a form sent, only when it stays on this
  site (every redirect built from user input goes through it; no open redirect).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django import forms
from django.db.models import QuerySet
from django.utils.http import url_has_allowed_host_and_scheme

from agrega.core.errors import ApplicationError
from agrega.core.params import parse_id


PAGE_SIZE = 50
_ELEMENT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,60}$")


def safe_redirect_target(request, target: str, default: str) -> str:
    """``target`` when it is a URL on this site (Django's ``url_has_allowed_host_and_scheme``:
    no other host, no ``//host``, no backslash tricks, no ``javascript:``), else ``default``."""
    target = (target or "").strip()
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def safe_next(request, default: str) -> str:
    """The ``next`` of the form (POST) or of the query string, checked; else ``default``."""
    return safe_redirect_target(request, request.POST.get("next") or request.GET.get("next") or "", default)


def keyset_context(request, queryset: QuerySet, *, limit: int = PAGE_SIZE) -> dict:
    """Rows with id > ``?cursor=``, ordered by id; one extra row tells whether more exist."""
    cursor = parse_id(request.GET.get("cursor", ""), minimum=0)
    if cursor is not None:
        queryset = queryset.filter(pk__gt=cursor)
    rows = list(queryset.order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    params = {k: v for k, v in request.GET.items() if k != "cursor" and v != ""}
    next_url = "?" + urlencode({**params, "cursor": rows[-1].pk}) if more and rows else ""
    first_url = "?" + urlencode(params) if cursor is not None else ""
    return {"rows": rows, "next_url": next_url, "first_url": first_url}


class BootstrapFormMixin:
    """Adds ``form-control`` / ``form-select`` / ``form-check-input`` to every widget.

    ``service_required`` names the fields the service refuses empty although the form
    leaves them optional (so the service reports the error, once): they are marked
    required on the page (asterisk, "obrigatório" for screen readers, aria-required)."""

    service_required: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            style_widget(field.widget)
        for name in self.service_required:
            self.fields[name].marked_required = True
            self.fields[name].widget.attrs["aria-required"] = "true"


def style_widget(widget: forms.Widget) -> None:
    """Bootstrap's class for this kind of widget, added once (forms built outside the mixin)."""
    if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect, forms.CheckboxSelectMultiple)):
        css = "form-check-input"
    elif isinstance(widget, forms.Select):
        css = "form-select"
    else:
        css = "form-control"
    existing = widget.attrs.get("class", "")
    if css not in existing.split():
        widget.attrs["class"] = (existing + " " + css).strip()


def apply_service_error(form: forms.Form, exc: ApplicationError, field_map: dict[str, str] | None = None) -> None:
    """Attach ``exc.fields`` to the matching form fields (``field_map`` renames service
    field names to form field names); anything else becomes a non-field error."""
    field_map = field_map or {}
    shown = False
    for name, errors in exc.fields.items():
        target = field_map.get(name, name)
        if target not in form.fields:
            target = None
        for error in errors:
            form.add_error(target, error.message)
            shown = shown or target is not None
    if not exc.fields or not shown:
        form.add_error(None, exc.message)
    elif exc.code != "validation_failed" and not any(
        exc.message == e for e in form.non_field_errors()
    ):
        # A conflict's message carries more than the field error (e.g. which product).
        form.add_error(None, exc.message)


def lupa_field(request, default: str) -> str:
    """The id of the input a lupa row fills (``?field=``); ``default`` unless it is a plain id."""
    field = request.GET.get("field", "")
    return field if _ELEMENT_ID.match(field) else default
