"""The consent lists' filters, declared once for the page (Relatórios > SVA sem
consentimento), the API (``GET /api/consents``, ``GET /api/reports/sva-without-consent``)
and the CLI (``agrega consent list``, ``agrega consent report``): see core/filtersets.py."""

from __future__ import annotations

from django.db.models import QuerySet

from agrega.core.filtersets import BOOL, ID, Filter, FilterSet


class ConsentFilterSet(FilterSet):
    filters = (
        Filter("contract_id", "Contrato (ID)", ID, option="--contract"),
        Filter("product_id", "Produto (ID)", ID, option="--product"),
        Filter("valid", "Válido (não revogado)", BOOL, method="by_validity",
               yes_no=("Só os válidos", "Só os revogados")),
    )
    invalid_message = "Filtros de consentimentos inválidos."

    def base(self) -> QuerySet:
        from .selectors import consent_queryset

        return consent_queryset().order_by("id")

    def by_validity(self, queryset: QuerySet, valid: bool) -> QuerySet:
        """True: not revoked; False: revoked."""
        return queryset.filter(revoked_at__isnull=valid)


class WithoutConsentFilterSet(FilterSet):
    """The report of SVA charged without consent (``selectors.sva_without_consent``)."""

    filters = (
        Filter("integration_id", "Integração SVA", ID, lookup="product__sva_integration_id", option="--integration"),
        Filter("contract_id", "Contrato (ID)", ID, option="--contract"),
    )
    invalid_message = "Filtros do relatório inválidos."

    def base(self) -> QuerySet:
        from .selectors import without_consent_queryset

        return without_consent_queryset()
