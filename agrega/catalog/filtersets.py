"""The products list's filters, declared once for the page (Produtos), the API
(``GET /api/products``) and the CLI (``agrega product list``): see core/filtersets.py."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from agrega.core.filtersets import BOOL, ID, Filter, FilterSet

from .models import Product


class ProductFilterSet(FilterSet):
    filters = (
        Filter("q", "Descrição ou pacote SVA", method="search", metavar="TEXTO", option="--search",
               input_type="search", placeholder="Descrição ou pacote SVA"),
        Filter("sva_integration_id", "Integração SVA (ID)", ID, option="--integration"),
        Filter("is_sva", "Produto SVA", BOOL, method="by_kind", yes_no=("Só SVA", "Sem SVA")),
        Filter("active", "Ativo", BOOL, yes_no=("Só ativos", "Só inativos")),
    )
    invalid_message = "Filtros de produtos inválidos."

    def base(self) -> QuerySet[Product]:
        return Product.objects.select_related("sva_integration").order_by("id")

    def search(self, queryset: QuerySet[Product], text: str) -> QuerySet[Product]:
        """The description or the SVA package code, ignoring case."""
        return queryset.filter(Q(name__icontains=text) | Q(sva_package_code__icontains=text))

    def by_kind(self, queryset: QuerySet[Product], is_sva: bool) -> QuerySet[Product]:
        return queryset.filter(sva_integration__isnull=not is_sva)
