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
    return customer_list_query(**customer_list_terms(q=q, document=document, city=city, state=state))


def customer_list_terms(
    *,
    q: str | None = None,
    document: str | None = None,
    city: str | None = None,
    state: str | None = None,
) -> dict[str, str]:
    """The list's filters as ``customer_list_query`` takes them (trimmed, the digits
    apart), only those given. Split from the query so the API can compile that once
    (core.prepared.PreparedQuery) and run it with each request's terms."""
    terms = {}
    q = (q or "").strip()
    if q:
        terms["q"] = q
        if digits(q):
            terms["q_digits"] = digits(q)
    if document:
        terms["document"] = digits(document)
    if city:
        terms["city"] = city.strip()
    if state:
        terms["state"] = state.strip().upper()
    return terms


def customer_list_query(
    *,
    q: str | None = None,
    q_digits: str | None = None,
    document: str | None = None,
    city: str | None = None,
    state: str | None = None,
) -> QuerySet[Customer]:
    qs = Customer.objects.all()
    if q is not None:
        match = Q(name__icontains=q) | Q(email__icontains=q)
        if q_digits is not None:
            match |= Q(document__contains=q_digits)
        qs = qs.filter(match)
    if document is not None:
        qs = qs.filter(document=document)
    if city is not None:
        qs = qs.filter(city__iexact=city)
    if state is not None:
        qs = qs.filter(state=state)
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
