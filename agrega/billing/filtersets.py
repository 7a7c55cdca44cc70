"""The títulos list's filters, declared once for the page (Títulos), the API
(``GET /api/invoices``) and the CLI (``agrega invoice list``): see core/filtersets.py."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from agrega.core.filtersets import BOOL, CHOICE, ID, Filter, FilterSet
from agrega.core.params import parse_id
from agrega.customers.selectors import customer_match

from .models import Invoice, InvoiceStatus
from .services import parse_period


class InvoiceFilterSet(FilterSet):
    filters = (
        Filter("contract_id", "Contrato (ID)", ID, option="--contract"),
        Filter("customer_id", "Cliente (ID)", ID, option="--customer"),
        Filter("status", "Situação", CHOICE, choices=InvoiceStatus, coded=False, all_label="Todas"),
        Filter("period", "Competência", parser=parse_period, max_length=10, metavar="AAAA-MM",
               input_type="month", placeholder="AAAA-MM"),
        Filter("overdue", "Só os vencidos em aberto", BOOL, method="overdue_only",
               yes_no=("Só vencidos", "Não vencidos")),
        Filter("q", "Cliente (nome, CPF/CNPJ) ou nº do contrato", method="customer_search", option="--search",
               metavar="TEXTO", input_type="search"),
    )
    invalid_message = "Filtros de títulos inválidos."

    def __init__(self, data=None, *, strict: bool = True, today=None):
        super().__init__(data, strict=strict)
        self.today = today

    def base(self) -> QuerySet[Invoice]:
        return Invoice.objects.select_related("customer").order_by("id")

    def overdue_only(self, queryset: QuerySet[Invoice], overdue: bool) -> QuerySet[Invoice]:
        """True: open and past due; False: everything else."""
        late = Q(status=InvoiceStatus.OPEN, due_date__lt=self.today or timezone.localdate())
        return queryset.filter(late) if overdue else queryset.exclude(late)

    def customer_search(self, queryset: QuerySet[Invoice], text: str) -> QuerySet[Invoice]:
        """The customer's name, a piece of the CPF/CNPJ, or a contract number."""
        match = customer_match(text, prefix="customer__")
        contract_id = parse_id(text)  # bounded: a 30-digit number is no id
        if contract_id:
            match |= Q(contract_id=contract_id)
        return queryset.filter(match)
