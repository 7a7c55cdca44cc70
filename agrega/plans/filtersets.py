"""The sales plans list's filters, declared once for the page (Planos de venda), the API
(``GET /api/plans``) and the CLI (``agrega plan list``): see core/filtersets.py."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from agrega.core.filtersets import BOOL, Filter, FilterSet

from .models import SalesPlan


class PlanFilterSet(FilterSet):
    filters = (
        Filter("q", "Nome ou descrição", method="search", metavar="TEXTO", option="--search",
               input_type="search", placeholder="Nome ou descrição"),
        Filter("active", "Ativo", BOOL, yes_no=("Só ativos", "Só inativos")),
    )
    invalid_message = "Filtros de planos de venda inválidos."

    def base(self) -> QuerySet[SalesPlan]:
        from .selectors import item_queryset

        return SalesPlan.objects.prefetch_related(Prefetch("items", queryset=item_queryset())).order_by("id")

    def search(self, queryset: QuerySet[SalesPlan], text: str) -> QuerySet[SalesPlan]:
        """The name or the description, ignoring case."""
        return queryset.filter(Q(name__icontains=text) | Q(description__icontains=text))
