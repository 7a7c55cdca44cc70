"""Reconciliation in the API.

* ``POST /api/integrations/{id}/reconcile`` (CONFIGURE, like every write under
  /integrations) enqueues one reconciliation (sva/tasks.py) and answers 202 with its
  task (``GET /api/tasks/{id}``; the task's result names the run);
* ``GET /api/reconciliations?integration_id=`` lists runs;
* ``GET /api/reconciliations/{id}`` is one run with its first differences, and
  ``GET /api/reconciliations/{id}/items`` pages through all of them.

The rules are in ``agrega/sva/reconcile/services.py``; this module only parses and renders.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.errors import NotFound
from agrega.core.tasks_api import TaskOut, task_accepted
from agrega.integrations.selectors import integration_get

from agrega.sva.filtersets import ReconciliationItemFilterSet, ReconciliationRunFilterSet
from agrega.sva.models import ReconciliationAction, ReconciliationKind, ReconciliationStatus
from agrega.sva.tasks import queue_reconciliation

from . import services as reconcile

integration_router = Router(tags=["Integrações SVA"])
router = Router(tags=["Reconciliação"])

ITEMS_IN_DETAIL = 500


class ReconcileIn(InputSchema):
    remove_unknown: bool | None = Field(
        None, description="Remover da plataforma os usuários desconhecidos ou excluídos no Agrega. "
        "Omitido: segue a política da integração (reconcile_remove_unknown).")
    page_size: int = Field(reconcile.DEFAULT_PAGE_SIZE, ge=1, le=reconcile.MAX_PAGE_SIZE,
                           description="Usuários por página lida da plataforma.")


class RunOut(Schema):
    id: int
    integration_id: int
    integration_name: str
    status: ReconciliationStatus
    status_label: str
    runner: str
    actor: str = Field(..., description="Quem pediu (usuário) ou \"sistema\" (tarefa periódica).")
    remove_unknown: bool
    page_size: int
    started_at: datetime
    finished_at: datetime | None
    differences: int
    counts: dict[str, int] = Field(..., description="Contagens da execução; os nomes estão em "
                                   "GET /api/reconciliations/count-labels.")
    error_code: str
    error_message: str

    @staticmethod
    def resolve_integration_name(obj) -> str:
        return obj.integration.name

    @staticmethod
    def resolve_status_label(obj) -> str:
        return obj.get_status_display()

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_label or "sistema"

    @staticmethod
    def resolve_differences(obj) -> int:
        return int(obj.counts.get("differences", 0))


class ItemOut(Schema):
    id: int
    external_id: str
    sva_user_id: int | None
    kind: ReconciliationKind
    kind_label: str
    action: ReconciliationAction
    action_label: str
    message: str
    detail: dict
    created_at: datetime

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return obj.get_kind_display()

    @staticmethod
    def resolve_action_label(obj) -> str:
        return obj.get_action_display()


class RunDetailOut(RunOut):
    items: list[ItemOut]
    items_next_cursor: int | None = Field(
        None, description="Há mais diferenças: continue em GET /api/reconciliations/{id}/items?cursor=")

    @staticmethod
    def resolve_items(obj) -> list:
        return obj.items_page

    @staticmethod
    def resolve_items_next_cursor(obj) -> int | None:
        return obj.items_next_cursor


class CountLabelOut(Schema):
    key: str
    label: str


def _detail(run):
    """The run with its first page of differences (RunDetailOut)."""
    run.items_page, run.items_next_cursor = keyset_page(
        reconcile.reconciliation_item_list(run_id=run.pk), cursor=None, limit=ITEMS_IN_DETAIL)
    return run


def _run_or_404(run_id: int):
    run = reconcile.reconciliation_run_get(run_id)
    if run is None:
        raise NotFound("Reconciliação", "reconciliation_not_found")
    return run


@integration_router.post(
    "/{integration_id}/reconcile",
    response={202: TaskOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Reconciliar com a plataforma",
    description=(
        "Enfileira a reconciliação: o worker de tarefas lista os usuários da integração na plataforma, "
        "compara com os usuários SVA do Agrega e age: ausentes, com outra situação ou outros dados são "
        "marcados para o worker sincronizar; desconhecidos no prefixo (ou excluídos no Agrega) são "
        "relatados e removidos só se a política mandar. Responde 202 na hora com a tarefa (`Location`: "
        "`GET /api/tasks/{id}`); ao terminar, o `result` da tarefa traz `run_id`, o relatório em "
        "`GET /api/reconciliations/{run_id}`. 409 `reconcile_running` quando outra reconciliação desta "
        "integração está em execução (em qualquer máquina); 409 `integration_inactive` para integração inativa."
    ),
)
def integration_reconcile(request: HttpRequest, integration_id: int, response: HttpResponse,
                          payload: ReconcileIn | None = None):
    integration = integration_get(integration_id)
    if integration is None:
        raise NotFound("Integração SVA", "integration_not_found")
    payload = payload or ReconcileIn()
    result = queue_reconciliation(
        integration, runner=f"api:{request.user.get_username()}"[:100], actor=request.user,
        remove_unknown=payload.remove_unknown, page_size=payload.page_size,
    )
    return task_accepted(response, result.id)


@router.get(
    "",
    response={200: Page[RunOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar reconciliações",
    description="Filtros: `integration_id`, `status`. Paginação por `cursor` e `limit`.",
)
def reconciliation_list(
    request: HttpRequest,
    integration_id: ReconciliationRunFilterSet.api_type("integration_id") | None = None,
    status: ReconciliationRunFilterSet.api_type("status") = None,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the filters are ReconciliationRunFilterSet's (sva/filtersets.py), as on the page and in the CLI
    filters = ReconciliationRunFilterSet({"integration_id": integration_id, "status": status})
    items, next_cursor = keyset_page(filters.queryset(), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/count-labels",
    response={200: list[CountLabelOut], 401: ErrorOut},
    summary="Nomes das contagens",
    description="O significado de cada chave de `counts`, em português.",
)
def reconciliation_count_labels(request: HttpRequest):
    return [{"key": str(key), "label": label} for key, label in reconcile.COUNT_LABELS.items()]


@router.get(
    "/{run_id}",
    response={200: RunDetailOut, 401: ErrorOut, 404: ErrorOut},
    summary="Consultar reconciliação",
    description=f"A execução, suas contagens e as primeiras {ITEMS_IN_DETAIL} diferenças com o que foi feito.",
)
def reconciliation_detail(request: HttpRequest, run_id: int):
    return _detail(_run_or_404(run_id))


@router.get(
    "/{run_id}/items",
    response={200: Page[ItemOut], 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Diferenças de uma reconciliação",
    description="Filtros: `kind` (a diferença), `action` (o que foi feito). Paginação por `cursor` e `limit`.",
)
def reconciliation_items(
    request: HttpRequest,
    run_id: int,
    kind: ReconciliationItemFilterSet.api_type("kind") = None,
    action: ReconciliationItemFilterSet.api_type("action") = None,
    cursor: Cursor | None = None,
    limit: int = Query(100, ge=1, le=500),
):
    run = _run_or_404(run_id)
    # the filters are ReconciliationItemFilterSet's, as on the run's page and in the CLI
    filters = ReconciliationItemFilterSet({"kind": kind, "action": action}, run_id=run.pk)
    items, next_cursor = keyset_page(filters.queryset(), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}
