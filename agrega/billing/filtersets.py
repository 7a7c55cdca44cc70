"""The títulos list's filters, declared once for the page (Títulos), the API
(``GET /api/invoices``) and the CLI (``agrega invoice list``), the payments' and the
revenue report's months: see core/filtersets.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from django.db.models import Q, QuerySet
from django.utils import timezone

from agrega.core.filtersets import BOOL, CHOICE, ID, Filter, FilterSet
from agrega.core.params import parse_id
from agrega.customers.selectors import customer_match

from .models import Invoice, InvoiceStatus, Payment, PaymentStatus
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


class RevenueReportFilterSet(FilterSet):
    """The months of the Receita SCM/SVA report (Financeiro > Receita SCM/SVA and its CSV,
    ``GET /api/reports/revenue[.csv]``, ``agrega report revenue``): one competência or a
    range. A month that does not parse is refused by its filter (``period_invalid``); the
    range's own refusals keep their codes (``period_required``, ``period_ambiguous``,
    ``period_range_invalid``, ``period_range_too_long``: billing/reports.py)."""

    filters = (
        Filter("period", "Competência", parser=parse_period, parser_codes=True, max_length=10, metavar="AAAA-MM",
               input_type="month"),
        Filter("from", "Competência de", parser=parse_period, parser_codes=True, max_length=10, metavar="AAAA-MM",
               input_type="month"),
        Filter("to", "até", parser=parse_period, parser_codes=True, max_length=10, metavar="AAAA-MM",
               input_type="month"),
    )
    invalid_message = "Competência inválida."

    def base(self) -> QuerySet[Invoice]:
        """The títulos the report counts: every one but the cancelled."""
        return Invoice.objects.exclude(status=InvoiceStatus.CANCELLED).order_by("id")

    def months(self) -> tuple[date, date]:
        """(first, last) months of the report, or the refusal (422 for a month, 400 for the range)."""
        return self.range_of(self.clean())

    @staticmethod
    def range_of(clean: Mapping) -> tuple[date, date]:
        from .reports import checked_range

        return checked_range(period=clean.get("period"), period_from=clean.get("from"), period_to=clean.get("to"))

    def apply(self, queryset: QuerySet[Invoice], clean: Mapping) -> QuerySet[Invoice]:
        first, last = self.range_of(clean)
        return queryset.filter(period__gte=first, period__lte=last)


class PaymentFilterSet(FilterSet):
    """The payments (``GET /api/payments``, ``agrega payments list``); the held ones
    (``status=held``) are the operators' queue (Pagamentos retidos, ``agrega payments held``)."""

    filters = (
        Filter("status", "Situação", CHOICE, choices=PaymentStatus, coded=False, all_label="Todas"),
    )
    invalid_message = "Filtros de pagamentos inválidos."

    def base(self) -> QuerySet[Payment]:
        """Oldest first."""
        return Payment.objects.order_by("id")
