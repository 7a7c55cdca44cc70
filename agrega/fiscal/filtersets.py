"""The NFCom list's filters, declared once for the page (Financeiro > NFCom), the API
(``GET /api/nfcom``) and the CLI (``agrega nfcom list``): see core/filtersets.py."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from agrega.billing.services import parse_period
from agrega.core.filtersets import CHOICE, Filter, FilterSet

from .models import DocStatus, NFCom
from .reports import month_bounds


class NFComFilterSet(FilterSet):
    filters = (
        Filter("status", "Situação", CHOICE, choices=DocStatus, coded=False, all_label="Todas"),
        Filter("period", "Mês de emissão", method="issued_in", parser=parse_period, parser_codes=True,
               max_length=10, metavar="AAAA-MM", input_type="month", placeholder="AAAA-MM"),
    )
    invalid_message = "Filtros de NFCom inválidos."

    def base(self) -> QuerySet[NFCom]:
        """Newest first."""
        return NFCom.objects.select_related("invoice", "invoice__customer").order_by("-id")

    def issued_in(self, queryset: QuerySet[NFCom], period: date) -> QuerySet[NFCom]:
        start, end = month_bounds(period)
        return queryset.filter(issued_at__date__gte=start, issued_at__date__lt=end)
