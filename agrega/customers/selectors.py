"""Reads for customers: the filtered list the API and pages show, and one by id."""

from __future__ import annotations

import operator
import re
from functools import reduce

from django.db.models import F, Q, QuerySet
from django.db.models.lookups import Contains

from agrega.core.br import digits, document_search_term
from agrega.core.search import Fold, fold

from .models import Customer


# At most this many words of a name are matched (each one anywhere in the name).
MAX_WORDS = 6
_PHONE = re.compile(r"\+?[0-9 ().\-]+")
_WORD_KEYS = tuple(f"q_word{i}" for i in range(MAX_WORDS))


def phone_search_term(value: str) -> str | None:
    """The digits of a phone number typed any way ("(11) 98765-4321", "+55 11 98765-4321",
    "98765-4321", "011987654321"), without the country code and trunk zero, as a piece of
    the stored E.164; None when the text is not a phone number (8 to 13 digits)."""
    if not _PHONE.fullmatch(value):
        return None
    number = digits(value)
    if not 8 <= len(number) <= 13:
        return None
    if len(number) >= 12 and number.startswith("55"):
        number = number[2:]
    elif len(number) == 12 and number.startswith("0"):
        number = number[1:]
    return number


def search_terms(q: str | None) -> dict[str, str]:
    """What a search box's text means, as terms for ``search_match`` (strings only, so
    the query has one shape per set of terms):

    * a CPF/CNPJ, whole (``q_document_exact``) or a piece (``q_document``), and/or a
      phone number (``q_phone``) — digits typed with any punctuation;
    * text with "@": a piece of an e-mail (``q_email``);
    * anything else: words (``q_word0``…), each found anywhere in the name or e-mail,
      ignoring case and accents, so "maria souza" finds "Maria Aparecida Souza".
    """
    q = (q or "").strip()
    if not q:
        return {}
    terms = {}
    number = document_search_term(q)
    if number:
        terms["q_document_exact" if len(number) in (11, 14) else "q_document"] = number
    phone = phone_search_term(q)
    if phone:
        terms["q_phone"] = phone
    if terms:
        return terms
    if "@" in q:
        return {"q_email": q}
    return dict(zip(_WORD_KEYS, fold(q).split()))


def search_match(prefix: str = "", **terms: str) -> Q:
    """The customers the ``search_terms`` select; ``prefix`` ("customer__") applies the
    same rule to a contract's or a título's customer. One rule for pages, API and CLI."""
    parts = []
    if "q_document_exact" in terms:
        parts.append(Q(**{f"{prefix}document": terms["q_document_exact"]}))
    if "q_document" in terms:
        parts.append(Q(**{f"{prefix}document__contains": terms["q_document"]}))
    if "q_phone" in terms:
        parts.append(Q(**{f"{prefix}mobile_phone__contains": terms["q_phone"]}))
    if parts:
        return reduce(operator.or_, parts)
    if "q_email" in terms:
        return Q(**{f"{prefix}email__icontains": terms["q_email"]})
    match = Q()
    for key in _WORD_KEYS:
        if key in terms:
            word = terms[key]
            match &= Q(Contains(Fold(F(f"{prefix}name")), word)) | Q(**{f"{prefix}email__icontains": word})
    return match


def customer_match(q: str | None, *, prefix: str = "") -> Q | None:
    """``search_match`` for a search box's text; None for an empty box."""
    terms = search_terms(q)
    return search_match(prefix, **terms) if terms else None


def customer_list(
    *,
    q: str | None = None,
    document: str | None = None,
    city: str | None = None,
    state: str | None = None,
) -> QuerySet[Customer]:
    """The list as ``CustomerFilterSet`` (customers/filtersets.py) filters it — the one
    declaration of the page's search box, the API's parameters and the CLI's options.
    ``document`` is a whole CPF/CNPJ typed any way; an invalid one is refused with its
    reason (ValidationFailed, 422), as on the customer's form."""
    from .filtersets import CustomerFilterSet

    return CustomerFilterSet({"q": q, "document": document, "city": city, "state": state}).queryset()


def customer_page(*, q: str | None = None, document: str | None = None, city: str | None = None,
                  state: str | None = None, cursor: int | None = None, limit: int = 50,
                  ) -> tuple[list[dict], int | None]:
    """A keyset page of ``customer_list`` as dicts of the model's fields, and the next
    page's cursor. With only the search box (``q``) or nothing, the API's hot reads, it is
    hand-written SQL (``sql.customer_rows``: the same rule, ``search_terms``, without a
    query to build and compile per request); with ``document``, ``city`` or ``state`` it
    is the ORM's ``CustomerFilterSet`` (``core.api.keyset_page``)."""
    from agrega.core.api import MAX_LIMIT, keyset_page, page_of

    from . import sql

    if document is None and city is None and state is None:
        limit = max(1, min(limit, MAX_LIMIT))
        return page_of(sql.customer_rows(search_terms(q), cursor, limit + 1), limit)
    queryset = customer_list(q=q, document=document, city=city, state=state)
    return keyset_page(queryset.values(*sql.customer_fields()), cursor=cursor, limit=limit)


def customer_get(pk: int) -> Customer | None:
    return Customer.objects.filter(pk=pk).first()


def customer_search(*, q: str | None = None) -> QuerySet[Customer]:
    """The search box of the pages, the lupa and the CLI: a CPF/CNPJ (whole or a piece,
    any punctuation), a phone number typed any way, the start of an e-mail, or words of
    the name in any order, case and accents (``search_terms``). Ordered by id, for keyset
    pagination."""
    match = customer_match(q)
    qs = Customer.objects.all() if match is None else Customer.objects.filter(match)
    return qs.order_by("id")


def customer_document_in_use(document: str, *, exclude_pk: int | None = None) -> Customer | None:
    """The customer that already holds ``document`` (stored form), if any (other than ``exclude_pk``)."""
    qs = Customer.objects.filter(document=document)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.only("id", "name").first()
