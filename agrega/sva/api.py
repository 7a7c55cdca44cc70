"""/api/sva-users: SVA users (the customer's account on a platform) and their timeline.

Writes only record intent; the worker makes the platform calls, so deletion and
"sincronizar agora" answer 202. ``contract_router`` adds GET /api/contracts/{id}/sva-users.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from agrega.contracts.selectors import contract_exists
from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.errors import NotFound

from . import selectors, services
from .choices import SvaState, SyncStatus
from .filtersets import SvaUserFilterSet

router = Router(tags=["Usuários SVA"])
contract_router = Router(tags=["Contratos"])


class RegistrationProblemOut(Schema):
    field: str
    code: str
    message: str


class SvaUserOut(Schema):
    id: int
    integration_id: int
    contract_id: int
    contract_product_id: int
    product_id: int
    package_code: str
    origin: str
    use_customer_data: bool
    email: str
    phone: str
    document: str
    desired_state: str
    confirmed_state: str
    sync_status: str
    registration_problems: list[RegistrationProblemOut]
    external_id: str
    remote_id: str
    version: int
    synced_version: int
    failures: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error_code: str
    last_error_message: str
    # the platform refused the data for good: no new attempt until the customer, the
    # contract or the product changes (or POST .../sync)
    retries_stopped: bool
    # cancelled contract: when the user is removed here and on the platform (retention)
    removal_scheduled_at: datetime | None
    confirmed_at: datetime | None
    created_at: datetime
    deleted_at: datetime | None

    # email, phone and document are the effective values: the customer's when
    # use_customer_data is true, the user's own otherwise.
    @staticmethod
    def resolve_email(obj) -> str:
        return selectors.registration_values(obj)["email"]

    @staticmethod
    def resolve_phone(obj) -> str:
        return selectors.registration_values(obj)["phone"]

    @staticmethod
    def resolve_document(obj) -> str:
        return selectors.registration_values(obj)["document"]

    @staticmethod
    def resolve_product_id(obj) -> int:
        return obj.contract_product.product_id

    @staticmethod
    def resolve_package_code(obj) -> str:
        return obj.contract_product.product.sva_package_code

    @staticmethod
    def resolve_desired_state(obj) -> str:
        return selectors.desired_for(obj).state

    @staticmethod
    def resolve_sync_status(obj) -> str:
        return selectors.sync_status(obj)

    @staticmethod
    def resolve_retries_stopped(obj) -> bool:
        return selectors.retries_stopped(obj)

    @staticmethod
    def resolve_removal_scheduled_at(obj) -> datetime | None:
        return selectors.scheduled_removal_at(obj)


class SvaUserCreateIn(InputSchema):
    contract_id: int
    integration_id: int
    contract_product_id: int
    use_customer_data: bool = True
    email: str = ""
    phone: str = ""
    document: str = ""


class SvaCallOut(Schema):
    id: int
    created_at: datetime
    operation: str
    method: str
    path: str
    status_code: int | None
    duration_ms: float
    request: dict
    response: dict
    error_code: str


def _get(sva_user_id: int):
    user = selectors.sva_user_get(sva_user_id)
    if user is None:
        raise NotFound("Usuário SVA", "sva_user_not_found")
    return user


LIST_HELP = (
    "Filtros: `contract_id`, `integration_id`, `confirmed_state` (" + ", ".join(SvaState.values)
    + "), `pending` (aguardando sincronização), `sync_status` (" + ", ".join(SyncStatus.values)
    + "), `include_removed` (inclui os já removidos da plataforma)."
)


@router.get(
    "",
    response={200: Page[SvaUserOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar usuários SVA",
    description=LIST_HELP,
)
def sva_user_list(
    request: HttpRequest,
    contract_id: SvaUserFilterSet.api_type("contract_id") | None = None,
    integration_id: SvaUserFilterSet.api_type("integration_id") | None = None,
    confirmed_state: SvaUserFilterSet.api_type("confirmed_state") = None,
    pending: SvaUserFilterSet.api_type("pending") | None = None,
    sync_status: SvaUserFilterSet.api_type("sync_status") = None,
    include_removed: SvaUserFilterSet.api_type("include_removed") = False,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the filters are SvaUserFilterSet's (sva/filtersets.py), as in the CLI
    qs = selectors.sva_user_list(
        contract_id=contract_id,
        integration_id=integration_id,
        confirmed_state=confirmed_state,
        pending=pending,
        sync_status=sync_status,
        include_removed=include_removed,
    )
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "",
    response={201: SvaUserOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Criar usuário SVA (ativação manual)",
    description="Aba SVA do contrato. Com `use_customer_data`, CPF/CNPJ, e-mail e celular vêm do "
    "cadastro do cliente; sem, informe `email`, `phone` e `document`. Cada campo inválido é "
    "nomeado em `error.fields`.",
)
def sva_user_create(request: HttpRequest, payload: SvaUserCreateIn):
    return Status(201, services.sva_user_create(**payload.dict(), actor=request.user))


@router.get(
    "/{sva_user_id}",
    response={200: SvaUserOut, 401: ErrorOut, 404: ErrorOut},
    summary="Consultar usuário SVA",
    description="Estado desejado (derivado do contrato), estado confirmado pela plataforma, "
    "situação da sincronização e o último erro.",
)
def sva_user_detail(request: HttpRequest, sva_user_id: int):
    return _get(sva_user_id)


@router.delete(
    "/{sva_user_id}",
    response={202: SvaUserOut, 401: ErrorOut, 404: ErrorOut},
    summary="Excluir usuário SVA",
    description="Remove do Agrega; a remoção na plataforma é feita pelo worker em seguida.",
)
def sva_user_delete(request: HttpRequest, sva_user_id: int):
    return Status(202, services.sva_user_delete(sva_user=_get(sva_user_id), actor=request.user))


@router.post(
    "/{sva_user_id}/sync",
    response={202: SvaUserOut, 401: ErrorOut, 404: ErrorOut},
    summary="Sincronizar agora",
    description="Descarta a espera entre tentativas; o worker sincroniza na próxima passada.",
)
def sva_user_sync(request: HttpRequest, sva_user_id: int):
    return Status(202, services.sva_user_request_sync(sva_user=_get(sva_user_id), actor=request.user))


@router.get(
    "/{sva_user_id}/timeline",
    response={200: Page[SvaCallOut], 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Linha do tempo",
    description="Chamadas à plataforma (sem segredos), em ordem cronológica.",
)
def sva_user_timeline(
    request: HttpRequest,
    sva_user_id: int,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    user = _get(sva_user_id)
    qs = selectors.sva_call_list(sva_user_id=user.pk)
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@contract_router.get(
    "/{contract_id}/sva-users",
    response={200: Page[SvaUserOut], 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Usuários SVA do contrato",
)
def contract_sva_user_list(
    request: HttpRequest,
    contract_id: int,
    include_removed: bool = False,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    if not contract_exists(contract_id):
        raise NotFound("Contrato", "contract_not_found")
    qs = selectors.sva_user_list(contract_id=contract_id, include_removed=include_removed)
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}
