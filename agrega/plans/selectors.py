"""Reads for Planos de Venda: the list, one plan with its items, effective prices."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from .models import SalesPlan, SalesPlanItem


def item_queryset() -> QuerySet[SalesPlanItem]:
    return SalesPlanItem.objects.select_related("product__sva_integration").order_by("id")


def plan_list(*, q: str | None = None, active: bool | None = None) -> QuerySet[SalesPlan]:
    """The list as ``PlanFilterSet`` (plans/filtersets.py) filters it, values already valid:
    ``q`` matches the name or the description (case-insensitive)."""
    from .filtersets import PlanFilterSet

    return PlanFilterSet.filtered({"q": (q or "").strip() or None, "active": active})


def plan_get(pk: int) -> SalesPlan | None:
    return plan_list().filter(pk=pk).first()


def active_plans() -> QuerySet[SalesPlan]:
    return SalesPlan.objects.filter(active=True).order_by("name")


def item_price(item: SalesPlanItem) -> Decimal:
    """The plan's price for the product, else the product's own."""
    return item.price if item.price is not None else item.product.price


def plan_total(plan: SalesPlan) -> Decimal:
    return sum((item_price(i) for i in plan.items.all()), Decimal("0.00"))


def plan_product_choices() -> list:
    """Active products for the item rows, grouped: SVA by integration, then the others."""
    from agrega.catalog.models import Product

    products = list(Product.objects.filter(active=True).select_related("sva_integration").order_by("name", "id"))
    groups: dict[str, list] = {}
    for p in products:
        key = f"SVA — {p.sva_integration.name}" if p.is_sva else "Internet e outros"
        groups.setdefault(key, []).append(p)
    others = groups.pop("Internet e outros", [])
    ordered = sorted(groups.items())
    if others:
        ordered.insert(0, ("Internet e outros", others))
    return ordered
