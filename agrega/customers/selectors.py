"""Reads for customers: the filtered list the API and pages show, and one by id."""

from __future__ import annotations

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
