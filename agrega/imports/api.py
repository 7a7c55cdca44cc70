"""/api/imports: importação de clientes e contratos (CSV).

Send the file (multipart) to create a job, or to ``/dry-run`` to only validate it
(nothing is written); ``/{id}/validate`` keeps the dry run on the job; ``/{id}/start``
imports (in the background, or synchronously with ``?wait=true``); poll ``/{id}`` for
the progress and read each line's outcome in ``/{id}/rows``."""

from __future__ import annotations

import json
from datetime import datetime

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from agrega.core.csvio import read_table
from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.errors import ApplicationError

from agrega.core.tasks import actor_id

from . import selectors, services, tasks
from .layout import check_mapping, guess_mapping
from .filtersets import ImportJobFilterSet, ImportRowFilterSet
from .models import RowStatus

router = Router(tags=["Importação"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class ImportJobOut(Schema):
    id: int
    kind: str
    file_name: str
    sha256: str
    status: str
    status_display: str
    encoding: str
    delimiter: str
    headers: list[str]
    mapping: dict[str, str]
    total_lines: int
    validated_index: int
    next_index: int
    percent: int
    applied: int
    rejected: int
    skipped_duplicate: int
    warnings: int
    customers_created: int
    error_message: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_status_display(obj) -> str:
        return obj.get_status_display()

    @staticmethod
    def resolve_created_by(obj) -> str:
        return obj.created_by_label


class MessageOut(Schema):
    field: str
    code: str
    message: str
    level: str


class ReportLineOut(Schema):
    line: int
    ref: str
    status: str
    messages: list[MessageOut]


class ReportOut(Schema):
    total: int
    applied: int
    rejected: int
    skipped_duplicate: int
    warnings: int
    customers_new: int
    customers_existing: int
    activations: int
    products: int
    lines: list[ReportLineOut]


class ImportRowOut(Schema):
    id: int
    line: int
    ref: str
    status: str
    customer_id: int | None
    customer_created: bool
    contract_id: int | None
    messages: list[MessageOut]


class MappingIn(InputSchema):
    mapping: dict[str, str]


def _mapping(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise ApplicationError("mapping_invalid", "O mapeamento deve ser JSON: {\"coluna\": \"cabeçalho\"}.",
                               status_code=422) from None


@router.get("", response={200: Page[ImportJobOut], **ERRORS}, summary="Listar importações",
            description="Por `id`, paginadas por `cursor`. Filtro: `status`.")
def import_list(request: HttpRequest, status: ImportJobFilterSet.api_type("status") = None,
                cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=500)):
    # the filter is ImportJobFilterSet's (imports/filtersets.py), as on the page and in the CLI
    items, next_cursor = keyset_page(selectors.import_job_list(status=status), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


class DryRunQueuedOut(Schema):
    job: ImportJobOut
    progress_url: str
    report_url: str


@router.post("/dry-run", response={200: ReportOut, 202: DryRunQueuedOut, 413: ErrorOut, **ERRORS},
             summary="Simular um arquivo (não grava nada)",
             description="Valida todas as linhas e diz o que a importação faria; nenhum cliente ou contrato é "
             f"gravado. Até {services.SYNC_MAX_LINES} linhas: o relatório na resposta (200). Acima disso a "
             "simulação roda em segundo plano (202): a resposta traz a importação criada com o arquivo "
             "(`job`), onde acompanhar o progresso (`progress_url`) e, ao fim, o relatório (`report_url`). "
             "Arquivo acima do limite: 413 `file_too_large`, recusado sem ser lido por inteiro.")
def import_dry_run(request: HttpRequest, file: UploadedFile = File(...), mapping: str | None = Form(None)):
    content = file.read()  # bounded while it streamed in (core/uploads.py)
    table = read_table(content)
    given = _mapping(mapping)
    clean = check_mapping(given if given is not None else guess_mapping(table.headers), table.headers)
    if table.count() <= services.SYNC_MAX_LINES:
        return services.validate_file(table=table, mapping=clean)
    job = services.import_job_create(file_name=file.name or "arquivo.csv", content=content, mapping=clean,
                                     actor=request.user)
    job = services.import_job_request_validation(job=job, actor=request.user)
    tasks.validate_import.enqueue(job_id=job.pk)
    return Status(202, {"job": job, "progress_url": f"/api/imports/{job.pk}",
                        "report_url": f"/api/imports/{job.pk}/report"})


@router.post("", response={201: ImportJobOut, 413: ErrorOut, **ERRORS}, summary="Enviar um arquivo",
             description="Cria a importação (status `uploaded`) com o arquivo; `mapping` (JSON, opcional) "
             "liga nossas colunas aos cabeçalhos do arquivo — sem ele, os cabeçalhos conhecidos são reconhecidos.")
def import_create(request: HttpRequest, file: UploadedFile = File(...), mapping: str | None = Form(None)):
    job = services.import_job_create(file_name=file.name or "arquivo.csv", content=file.read(),
                                     mapping=_mapping(mapping), actor=request.user)
    return Status(201, job)


@router.get("/{job_id}", response={200: ImportJobOut, **ERRORS}, summary="Consultar importação (progresso)")
def import_detail(request: HttpRequest, job_id: int):
    return services.import_job_get(job_id)


@router.get("/{job_id}/report", response={200: ReportOut, **ERRORS}, summary="Relatório da simulação")
def import_report(request: HttpRequest, job_id: int):
    job = services.import_job_get(job_id)
    if not job.report:
        raise ApplicationError("import_not_validated", "Esta importação ainda não foi simulada.", status_code=409)
    return job.report


@router.put("/{job_id}/mapping", response={200: ImportJobOut, **ERRORS}, summary="Alterar o mapeamento")
def import_mapping(request: HttpRequest, job_id: int, payload: MappingIn):
    return services.import_job_set_mapping(job=services.import_job_get(job_id), mapping=payload.mapping,
                                           actor=request.user)


@router.post("/{job_id}/validate", response={200: ImportJobOut, 202: ImportJobOut, **ERRORS},
             summary="Simular a importação (guarda o relatório)",
             description="Em segundo plano (202; acompanhe em `GET /imports/{id}`), ou até o fim com `wait=true` "
             f"— só para arquivos de até {services.SYNC_MAX_LINES} linhas; maiores rodam sempre em segundo plano.")
def import_validate(request: HttpRequest, job_id: int, wait: bool = False):
    job = services.import_job_request_validation(job=services.import_job_get(job_id), actor=request.user)
    if wait and job.total_lines <= services.SYNC_MAX_LINES:
        return services.import_job_validate(job_id=job.pk)
    tasks.validate_import.enqueue(job_id=job.pk)
    return Status(202, job)


@router.post("/{job_id}/start", response={200: ImportJobOut, 202: ImportJobOut, **ERRORS},
             summary="Importar (ou retomar)",
             description="Depois da simulação, ou para retomar uma importação pausada ou interrompida. "
             "Em segundo plano (202), ou até o fim com `wait=true` — só para arquivos de até "
             f"{services.SYNC_MAX_LINES} linhas; maiores rodam sempre em segundo plano.")
def import_start(request: HttpRequest, job_id: int, wait: bool = False):
    job = services.import_job_start(job=services.import_job_get(job_id), actor=request.user)
    if wait and job.total_lines <= services.SYNC_MAX_LINES:
        return services.import_job_run(job_id=job.pk, actor=request.user)
    tasks.run_import.enqueue(job_id=job.pk, actor_id=actor_id(request.user))
    return Status(202, job)


@router.post("/{job_id}/pause", response={200: ImportJobOut, **ERRORS}, summary="Pausar")
def import_pause(request: HttpRequest, job_id: int):
    return services.import_job_pause(job=services.import_job_get(job_id), actor=request.user)


@router.get("/{job_id}/rows", response={200: Page[ImportRowOut], **ERRORS}, summary="Resultado de cada linha",
            description="Filtro `status`: " + ", ".join(RowStatus.values) + ".")
def import_rows(request: HttpRequest, job_id: int, status: ImportRowFilterSet.api_type("status") = None,
                cursor: Cursor | None = None, limit: int = Query(100, ge=1, le=500)):
    services.import_job_get(job_id)
    items, next_cursor = keyset_page(selectors.import_row_list(job_id=job_id, status=status), cursor=cursor,
                                     limit=limit)
    return {"items": items, "next_cursor": next_cursor}
