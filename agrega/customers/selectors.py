"""Reads for customers: the filtered list the API and pages show, and one by id."""

from __future__ import annotations


from django.db.models import Q, QuerySet

from agrega.core.br import InvalidValue, clean_document, document_search_term
from agrega.core.errors import FieldError, ValidationFailed

from .models import Customer


def customer_list(
    *,
    q: str | None = None,
    document: str | None = None,
    city: str | None = None,
    state: str | None = None,
) -> QuerySet[Customer]:
    """``q`` matches the name or e-mail (case-insensitive) or a piece of the document."""
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
    (core.prepared.PreparedQuery) and run it with each request's terms.

    ``document`` is a whole CPF/CNPJ, typed with or without punctuation, letters in any
    case; one that is not valid is refused with its reason (ValidationFailed), as on
    the customer's form, rather than silently matching nothing."""
    terms = {}
    q = (q or "").strip()
    if q:
        terms["q"] = q
        fragment = document_search_term(q)
        if fragment:
            terms["q_document"] = fragment
    if document:
        try:
            terms["document"] = clean_document(document)
        except InvalidValue as exc:
            raise ValidationFailed({"document": [FieldError(exc.code, exc.message)]}, exc.message) from None
    if city:
        terms["city"] = city.strip()
    if state:
        terms["state"] = state.strip().upper()
    return terms


def customer_list_query(
    *,
    q: str | None = None,
    q_document: str | None = None,
    document: str | None = None,
    city: str | None = None,
    state: str | None = None,
) -> QuerySet[Customer]:
    qs = Customer.objects.all()
    if q is not None:
        match = Q(name__icontains=q) | Q(email__icontains=q)
        if q_document is not None:
            match |= Q(document__contains=q_document)
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


def customer_search(*, q: str | None = None) -> QuerySet[Customer]:
    """The web list's search box: one input for name, CPF/CNPJ or e-mail.

    A full CPF/CNPJ (with or without punctuation, letters of an alphanumeric CNPJ in
    any case) hits the unique index exactly; another piece of a document (digits,
    letters and punctuation, at least one digit) matches its start; text with "@" matches the start of the
    e-mail; anything else the name or the e-mail (case-insensitive). Ordered by id, for
    keyset pagination.
    """
    qs = Customer.objects.all()
    q = (q or "").strip()
    if not q:
        return qs.order_by("id")
    number = document_search_term(q)
    if number:
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
    """The customer that already holds ``document`` (stored form), if any (other than ``exclude_pk``)."""
    qs = Customer.objects.filter(document=document)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.only("id", "name").first()
