"""The imports' lists and their filters, declared once for the pages (Importações, the
lines of one import), the API (``GET /api/imports``, ``GET /api/imports/{id}/rows``) and
the CLI (``agrega import list``, ``agrega import show``): see core/filtersets.py."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import QuerySet

from agrega.core.filtersets import CHOICE, Filter, FilterSet

from .models import ImportJob, ImportRow, ImportStatus, RowStatus

LIST_FIELDS = ("report",)  # the dry-run report: large, not shown in a list


class ImportJobFilterSet(FilterSet):
    filters = (
        Filter("status", "Situação", CHOICE, choices=ImportStatus, coded=False, all_label="Todas"),
    )
    invalid_message = "Filtros de importações inválidos."

    def base(self) -> QuerySet[ImportJob]:
        """Newest first, without the dry-run report."""
        return ImportJob.objects.defer(*LIST_FIELDS).select_related("created_by").order_by("-pk")


class ImportRowFilterSet(FilterSet):
    """The lines of one import. Without a status, the page and the CLI show the lines with
    messages (``problems_only``); the API lists every line."""

    filters = (
        Filter("status", "Situação da linha", CHOICE, choices=RowStatus, coded=False, all_label="Com mensagens"),
    )
    invalid_message = "Filtro de linhas inválido."

    def __init__(self, data=None, *, job_id: int, problems_only: bool = False, strict: bool = True):
        super().__init__(data, strict=strict)
        self.job_id = job_id
        self.problems_only = problems_only

    def base(self) -> QuerySet[ImportRow]:
        return ImportRow.objects.filter(job_id=self.job_id).order_by("index")

    def apply(self, queryset: QuerySet[ImportRow], clean: Mapping) -> QuerySet[ImportRow]:
        queryset = super().apply(queryset, clean)
        if self.problems_only and not clean.get("status"):
            queryset = queryset.exclude(messages=[])
        return queryset
