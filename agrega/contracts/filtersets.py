"""The contract list's filters, declared once for the page (Contratos), the API
(``GET /api/contracts``) and the CLI (``agrega contract list``): see core/filtersets.py."""

from __future__ import annotations

from django.db.models import QuerySet

from agrega.core.filtersets import CHOICE, ID, Filter, FilterSet
from agrega.customers.selectors import customer_match

from .choices import AccessStatus, ContractStatus
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
