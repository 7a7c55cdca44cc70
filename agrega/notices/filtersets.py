"""The dunning notices' list and its filters, declared once for the CLI (``agrega notices
list``) and the integration's Avisos page (its latest notices): see core/filtersets.py."""

from __future__ import annotations

from django.db.models import QuerySet

from agrega.core.filtersets import CHOICE, ID, Filter, FilterSet

from .models import CustomerNotice, NoticeStatus


class NoticeFilterSet(FilterSet):
    filters = (
        Filter("integration_id", "Integração SVA (ID)", ID, lookup="sva_user__integration_id", option="--integration"),
        Filter("sva_user_id", "Usuário SVA (ID)", ID, option="--sva-user"),
        Filter("status", "Situação do aviso", CHOICE, choices=NoticeStatus, coded=False, all_label="Todas"),
    )
    invalid_message = "Filtros de avisos inválidos."

    def base(self) -> QuerySet[CustomerNotice]:
        """Newest first, with what a line of the list shows."""
        return CustomerNotice.objects.select_related(
            "sva_user__contract__customer", "sva_user__contract_product__product", "sva_user__integration"
        ).order_by("-id")
