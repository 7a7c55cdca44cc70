"""Reads for customers: the filtered list the API and pages show, and one by id."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from agrega.core.br import digits

from .models import Customer


def customer_list(
    *,
    q: str | None = None,
    document: str | None = None,
    city: str | None = None,
    state: str | None = None,
) -> QuerySet[Customer]:
    """``q`` matches the name or e-mail (case-insensitive) or the document's digits."""
    qs = Customer.objects.all()
    q = (q or "").strip()
    if q:
        match = Q(name__icontains=q) | Q(email__icontains=q)
        if digits(q):
            match |= Q(document__contains=digits(q))
        qs = qs.filter(match)
    if document:
        qs = qs.filter(document=digits(document))
    if city:
        qs = qs.filter(city__iexact=city.strip())
    if state:
        qs = qs.filter(state=state.strip().upper())
    return qs.order_by("id")


def customer_get(pk: int) -> Customer | None:
    return Customer.objects.filter(pk=pk).first()


_DOCUMENT_ONLY = re.compile(r"[\d.\-/ ]+")


def customer_search(*, q: str | None = None) -> QuerySet[Customer]:
    """The web list's search box: one input for name, CPF/CNPJ or e-mail.

    A full CPF/CNPJ (with or without punctuation) hits the unique index exactly; other
    digits match the start of the document; text with "@" matches the start of the
    e-mail; anything else the name or the e-mail (case-insensitive). Ordered by id, for
    keyset pagination.
    """
    qs = Customer.objects.all()
    q = (q or "").strip()
    if not q:
        return qs.order_by("id")
    number = digits(q)
    if number and _DOCUMENT_ONLY.fullmatch(q):
        if len(number) in (11, 14):
            qs = qs.filter(document=number)
        else:
            qs = qs.filter(document__startswith=number)
    elif "@" in q:
        qs = qs.filter(email__istartswith=q)
    else:
        qs = qs.filter(Q(name__icontains=q) | Q(email__icontains=q))
    return qs.order_by("id")


def customer_document_in_use(document: str, *, exclude_pk: int | None = None) -> Customer | None:
    """The customer that already holds ``document`` (digits), if any (other than ``exclude_pk``)."""
    qs = Customer.objects.filter(document=digits(document))
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.only("id", "name").first()
