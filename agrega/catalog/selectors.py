"""Reads for products."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Product


def product_list(
    *,
    q: str | None = None,
    sva_integration_id: int | None = None,
    is_sva: bool | None = None,
    active: bool | None = None,
) -> QuerySet[Product]:
    """The list as ``ProductFilterSet`` (catalog/filtersets.py) filters it, values already
    valid: ``q`` matches the description or the SVA package code (case-insensitive)."""
    from .filtersets import ProductFilterSet

    return ProductFilterSet.filtered({"q": (q or "").strip() or None, "sva_integration_id": sva_integration_id,
                                      "is_sva": is_sva, "active": active})


def product_get(pk: int) -> Product | None:
    return Product.objects.filter(pk=pk).first()
