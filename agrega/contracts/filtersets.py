"""The contract list's filters, declared once for the page (Contratos), the API
(``GET /api/contracts``) and the CLI (``agrega contract list``), and the contract's product
lupa's: see core/filtersets.py."""

from __future__ import annotations

from django.db.models import QuerySet

from agrega.catalog.filtersets import ProductFilterSet
from agrega.catalog.models import Product
from agrega.core.filtersets import CHOICE, ID, Filter, FilterSet
from agrega.customers.selectors import customer_match

from .choices import AccessStatus, ContractStatus, ProductKind
from .models import Contract


class ContractFilterSet(FilterSet):
    filters = (
        Filter("status", "Status", CHOICE, choices=ContractStatus),
        Filter("access_status", "Status de acesso", CHOICE, choices=AccessStatus),
        Filter("customer_id", "Cliente (ID)", ID, option="--customer"),
        Filter("q", "Cliente (nome ou CPF/CNPJ)", method="customer_search", option="--search", metavar="TEXTO"),
    )
    invalid_message = "Filtros de contratos inválidos."

    def base(self) -> QuerySet[Contract]:
        return Contract.objects.select_related("customer").order_by("id")

    def customer_search(self, queryset: QuerySet[Contract], text: str) -> QuerySet[Contract]:
        """The customer as the customers' search box finds it (CPF/CNPJ, phone, e-mail or
        words of the name, ignoring case and accents)."""
        return queryset.filter(customer_match(text, prefix="customer__"))


class ProductPickerFilterSet(ProductFilterSet):
    """The contract's product lupa (adding a product to a contract): the products list's
    filters (catalog/filtersets.py, as ``GET /api/products`` and ``agrega product list``),
    only active products, and ``kind``: the type of the contract's item (SVA: only products
    with an SVA integration, as ``is_sva``)."""

    filters = ProductFilterSet.filters + (
        Filter("kind", "Tipo do item", CHOICE, choices=ProductKind, method="by_item_kind"),
    )
    invalid_message = "Filtros da busca de produtos inválidos."

    def base(self) -> QuerySet[Product]:
        return super().base().filter(active=True)

    def by_item_kind(self, queryset: QuerySet[Product], kind: str) -> QuerySet[Product]:
        return self.by_kind(queryset, True) if kind == ProductKind.SVA else queryset
