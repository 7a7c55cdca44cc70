"""Reads for products."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Product


def product_list(
    *,
    q: str | None = None,
    sva_integration_id: int | None = None,
    is_sva: bool | None = None,
    active: bool | None = None,
) -> QuerySet[Product]:
    """``q`` matches the description or the SVA package code (case-insensitive)."""
    qs = Product.objects.all()
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(sva_package_code__icontains=q))
    if sva_integration_id is not None:
        qs = qs.filter(sva_integration_id=sva_integration_id)
    if is_sva is not None:
        qs = qs.filter(sva_integration__isnull=not is_sva)
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("id")


def product_get(pk: int) -> Product | None:
    return Product.objects.filter(pk=pk).first()
