"""The SVA users list's filters, declared once for the API (``GET /api/sva-users``) and the
CLI (``agrega sva-user list``), and the reconciliations' (runs and differences, for the
pages, the API and the CLI): see core/filtersets.py. Removed users (deleted here and on
the platform) are left out unless ``include_removed`` or ``sync_status=removed`` asks."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import QuerySet

from agrega.core.filtersets import BOOL, CHOICE, ID, Filter, FilterSet

from .choices import SvaState, SyncStatus
from .models import (ReconciliationAction, ReconciliationItem, ReconciliationKind, ReconciliationRun,
                     ReconciliationStatus, SvaUser)


class SvaUserFilterSet(FilterSet):
    filters = (
        Filter("contract_id", "Contrato (ID)", ID, option="--contract"),
        Filter("integration_id", "Integração (ID)", ID, option="--integration"),
        Filter("confirmed_state", "Estado confirmado na plataforma", CHOICE, choices=SvaState, option="--state"),
        Filter("pending", "Só os pendentes (aguardando o worker)", BOOL),
        Filter("sync_status", "Situação de sincronização", CHOICE, choices=SyncStatus, method="by_sync_status"),
        Filter("include_removed", "Incluir os removidos", BOOL, method="keep_removed"),
    )
    invalid_message = "Filtros de usuários SVA inválidos."

    def base(self) -> QuerySet[SvaUser]:
        from .selectors import sva_user_queryset

        return sva_user_queryset().order_by("id")

    def apply(self, queryset: QuerySet[SvaUser], clean: Mapping) -> QuerySet[SvaUser]:
        queryset = super().apply(queryset, clean)
        if not clean.get("include_removed") and clean.get("sync_status") != SyncStatus.REMOVED:
            queryset = queryset.exclude(deleted_at__isnull=False, pending=False)
        return queryset

    def by_sync_status(self, queryset: QuerySet[SvaUser], status: str) -> QuerySet[SvaUser]:
        from .selectors import sync_status_q

        return queryset.filter(sync_status_q(status))

    def keep_removed(self, queryset: QuerySet[SvaUser], include: bool) -> QuerySet[SvaUser]:
        return queryset  # the exclusion is in ``apply``


class ReconciliationRunFilterSet(FilterSet):
    """The reconciliation runs (an integration's Reconciliação page, ``GET
    /api/reconciliations``, ``agrega reconcile --list``)."""

    filters = (
        Filter("integration_id", "Integração (ID)", ID, option="--integration"),
        Filter("status", "Situação", CHOICE, choices=ReconciliationStatus, coded=False, all_label="Todas"),
    )
    invalid_message = "Filtros de reconciliações inválidos."

    def base(self) -> QuerySet[ReconciliationRun]:
        return ReconciliationRun.objects.select_related("integration").order_by("-id")  # newest first


class ReconciliationItemFilterSet(FilterSet):
    """The differences of one run and what was done (the run's page, ``GET
    /api/reconciliations/{id}/items``, ``agrega reconcile --show``)."""

    filters = (
        Filter("kind", "Diferença", CHOICE, choices=ReconciliationKind, coded=False, all_label="Todas as diferenças"),
        Filter("action", "O que foi feito", CHOICE, choices=ReconciliationAction, coded=False, all_label="Todas"),
    )
    invalid_message = "Filtros das diferenças da reconciliação inválidos."

    def __init__(self, data=None, *, run_id: int, strict: bool = True):
        super().__init__(data, strict=strict)
        self.run_id = run_id

    def base(self) -> QuerySet[ReconciliationItem]:
        return ReconciliationItem.objects.filter(run_id=self.run_id).order_by("id")
