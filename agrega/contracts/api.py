"""/api/contracts: contracts, their status actions, products and Histórico.

The contract detail shows a summary of its SVA users; the API is the edge that puts
the apps together, so it reads them through ``agrega.sva.selectors`` (the contracts
models and services still know nothing of SVA).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, json_answer, keyset_page
from agrega.core.text import ModelText, Text
from agrega.core.errors import NotFound
from agrega.core.money import PriceIn
from agrega.sva import selectors as sva_selectors
from agrega.sva.choices import SyncStatus

from . import selectors, services
from .choices import AccessStatus, ContractStatus
from .filtersets import ContractFilterSet
from .models import Contract

router = Router(tags=["Contratos"])

ACTION_ERRORS = {401: ErrorOut, 404: ErrorOut, 409: ErrorOut}
_STATUS_LABELS = dict(ContractStatus.choices)
_ACCESS_LABELS = dict(AccessStatus.choices)


class ContractOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    status: str
    status_display: str
    access_status: str
    access_status_display: str
    grants_access: bool
    billing_day: int
    description: str
    version: int
    activated_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_customer_name(obj) -> str:
        name = obj.__dict__.get("customer_name")  # annotated by selectors.contract_summaries
        return name if name is not None else obj.customer.name

    # Labels by dict lookup: get_FOO_display() rebuilds a hashable copy of the choices on
    # every call (two per contract, 100 per page of the list).
    @staticmethod
    def resolve_status_display(obj) -> str:
        return _STATUS_LABELS.get(obj.status, obj.status)

    @staticmethod
    def resolve_access_status_display(obj) -> str:
        return _ACCESS_LABELS.get(obj.access_status, obj.access_status)


class ContractProductOut(Schema):
    id: int
    contract_id: int
    product_id: int
    product_name: str
    kind: str
    price: Decimal | None
    sva_package_code: str
    added_at: datetime
    removed_at: datetime | None
    removed: bool

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name

    @staticmethod
    def resolve_sva_package_code(obj) -> str:
        return obj.product.sva_package_code

    @staticmethod
    def resolve_removed(obj) -> bool:
        return obj.removed_at is not None


class ContractSvaUserOut(Schema):
    id: int
    integration_id: int
    contract_product_id: int
    external_id: str
    desired_state: str
    confirmed_state: str
    sync_status: str
    last_error_code: str
    last_error_message: str
    registration_problems: list[dict[str, str]]

    @staticmethod
    def resolve_desired_state(obj) -> str:
        return sva_selectors.desired_for(obj).state

    @staticmethod
    def resolve_sync_status(obj) -> str:
        return sva_selectors.sync_status(obj)


class ContractDetailOut(ContractOut):
    products: list[ContractProductOut]
    sva_users: list[ContractSvaUserOut]

    # product_list / sva_user_list: read by the detail endpoint (selectors.contract_detail);
    # other callers hand over a contract_get() contract, with its prefetched relations
    @staticmethod
    def resolve_products(obj):
        listed = obj.__dict__.get("product_list")
        return listed if listed is not None else list(obj.products.all())

    @staticmethod
    def resolve_sva_users(obj):
        users = obj.__dict__.get("sva_user_list")
        users = users if users is not None else obj.sva_users.all()
        return [u for u in users if sva_selectors.sync_status(u) != SyncStatus.REMOVED]


_DETAIL_FIELDS = tuple(ContractDetailOut.model_fields)


class ContractEventOut(Schema):
    id: int
    action: str
    action_display: str
    actor_id: int | None
    actor_label: str
    from_status: str
    to_status: str
    from_access_status: str
    to_access_status: str
    detail: dict
    created_at: datetime

    @staticmethod
    def resolve_action_display(obj) -> str:
        return obj.get_action_display()


class ContractCreateIn(InputSchema):
    customer_id: int
    billing_day: int = 10
    description: ModelText(Contract, "description") = ""


class NoteIn(InputSchema):
    note: Text(500, multiline=True) = ""


class ContractProductIn(InputSchema):
    product_id: int
    kind: str | None = None
    price: PriceIn | None = None


@router.get(
    "",
    response={200: Page[ContractOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar contratos",
    description="Filtros: `status` (" + ", ".join(ContractStatus.values) + "), `access_status` ("
    + ", ".join(AccessStatus.values) + "), `customer_id`.",
)
def contract_list(
    request: HttpRequest,
    status: ContractFilterSet.api_type("status") = None,
    access_status: ContractFilterSet.api_type("access_status") = None,
    customer_id: ContractFilterSet.api_type("customer_id") | None = None,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the parameters' types come from ContractFilterSet (contracts/filtersets.py), as do
    # the page's filter bar and the CLI's options: one declaration of the list's filters
    # an unknown status is a 422 (the enum), never an empty page
    filters = {"status": status.value if status else None,
               "access_status": access_status.value if access_status else None, "customer_id": customer_id}
    given = {name: value for name, value in filters.items() if value is not None}
    rows, next_cursor = selectors.contract_summary_page(cursor=cursor, limit=limit, **given)
    return json_answer({"items": [_summary(row) for row in rows], "next_cursor": next_cursor})


# The list is answered from plain column values shaped as ContractOut (its fields, in its
# order) and serialized at once (core.api.json_answer): validating a page through model
# instances (a getter per field per contract) was about half of the list's Python time,
# and a schema object per row then most of what was left (bench/README.md, "api_load").
# tests/api/test_api_read_paths.py holds the answer to the bytes of the schema's own
# serialization of the same contracts.
_SUMMARY_FIELDS = tuple(ContractOut.model_fields)


def _summary(row: dict) -> dict:
    row = {**row,
           "status_display": _STATUS_LABELS.get(row["status"], row["status"]),
           "access_status_display": _ACCESS_LABELS.get(row["access_status"], row["access_status"]),
           "grants_access": Contract.grants_access.fget(SimpleNamespace(**row))}
    return {name: row[name] for name in _SUMMARY_FIELDS}


@router.post(
    "",
    response={201: ContractOut, 401: ErrorOut, 422: ErrorOut},
    summary="Cadastrar contrato",
    description="O contrato nasce como pré-contrato (status P, acesso AA).",
)
def contract_create(request: HttpRequest, payload: ContractCreateIn):
    return Status(201, services.contract_create(**payload.dict(), actor=request.user))


@router.get(
    "/{contract_id}",
    response={200: ContractDetailOut, 401: ErrorOut, 404: ErrorOut},
    summary="Consultar contrato",
    description="Com os produtos (inclusive os removidos, `removed: true`) e os usuários SVA.",
)
def contract_detail(request: HttpRequest, contract_id: int):
    contract = selectors.contract_detail(contract_id)
    if contract is None:
        raise NotFound("Contrato", "contract_not_found")
    return json_answer(_detail(contract))


# The detail is answered as plain values too, shaped as ContractDetailOut (its fields, in
# its order): validating the contract, each product and each SVA user through the schema
# was most of the detail's Python per request (bench/README.md, "api_load").
# tests/api/test_api_read_paths.py holds it to the bytes of the schema's own rendering.
_PRODUCT_FIELDS = tuple(ContractProductOut.model_fields)
_SVA_USER_FIELDS = tuple(ContractSvaUserOut.model_fields)


def _detail(contract: Contract) -> dict:
    answer = {
        "id": contract.pk, "customer_id": contract.customer_id,
        "customer_name": ContractOut.resolve_customer_name(contract),
        "status": contract.status, "status_display": _STATUS_LABELS.get(contract.status, contract.status),
        "access_status": contract.access_status,
        "access_status_display": _ACCESS_LABELS.get(contract.access_status, contract.access_status),
        "grants_access": contract.grants_access, "billing_day": contract.billing_day,
        "description": contract.description, "version": contract.version,
        "activated_at": contract.activated_at, "ended_at": contract.ended_at,
        "created_at": contract.created_at, "updated_at": contract.updated_at,
        "products": [_product(item) for item in ContractDetailOut.resolve_products(contract)],
        "sva_users": [_sva_user(user) for user in ContractDetailOut.resolve_sva_users(contract)],
    }
    return {name: answer[name] for name in _DETAIL_FIELDS}


def _product(item) -> dict:
    product = item.product
    answer = {"id": item.pk, "contract_id": item.contract_id, "product_id": item.product_id,
              "product_name": product.name, "kind": item.kind, "price": item.price,
              "sva_package_code": product.sva_package_code, "added_at": item.added_at,
              "removed_at": item.removed_at, "removed": item.removed_at is not None}
    return {name: answer[name] for name in _PRODUCT_FIELDS}


def _sva_user(user) -> dict:
    answer = {"id": user.pk, "integration_id": user.integration_id,
              "contract_product_id": user.contract_product_id, "external_id": user.external_id,
              "desired_state": ContractSvaUserOut.resolve_desired_state(user),
              "confirmed_state": user.confirmed_state, "sync_status": ContractSvaUserOut.resolve_sync_status(user),
              "last_error_code": user.last_error_code, "last_error_message": user.last_error_message,
              "registration_problems": user.registration_problems}
    return {name: answer[name] for name in _SVA_USER_FIELDS}


@router.post("/{contract_id}/activate", response={200: ContractOut, **ACTION_ERRORS},
             summary="Ativar contrato")
def contract_activate(request: HttpRequest, contract_id: int):
    return services.contract_activate(contract=contract_id, actor=request.user)


@router.post("/{contract_id}/block-manual", response={200: ContractOut, **ACTION_ERRORS},
             summary="Bloqueio manual")
def contract_block_manual(request: HttpRequest, contract_id: int, payload: NoteIn | None = None):
    note = payload.note if payload is not None else ""
    return services.contract_block_manual(contract=contract_id, actor=request.user, note=note)


@router.post("/{contract_id}/block-automatic", response={200: ContractOut, **ACTION_ERRORS},
             summary="Bloqueio automático")
def contract_block_automatic(request: HttpRequest, contract_id: int):
    return services.contract_block_automatic(contract=contract_id, actor=request.user)


@router.post("/{contract_id}/mark-overdue", response={200: ContractOut, **ACTION_ERRORS},
             summary="Financeiro em atraso")
def contract_mark_overdue(request: HttpRequest, contract_id: int):
    return services.contract_mark_overdue(contract=contract_id, actor=request.user)


@router.post("/{contract_id}/release", response={200: ContractOut, **ACTION_ERRORS},
             summary="Desbloquear contrato")
def contract_release(request: HttpRequest, contract_id: int):
    return services.contract_release(contract=contract_id, actor=request.user)


@router.post("/{contract_id}/deactivate", response={200: ContractOut, **ACTION_ERRORS},
             summary="Inativar contrato")
def contract_deactivate(request: HttpRequest, contract_id: int):
    return services.contract_deactivate(contract=contract_id, actor=request.user)


@router.post("/{contract_id}/cancel", response={200: ContractOut, **ACTION_ERRORS},
             summary="Cancelar contrato")
def contract_cancel(request: HttpRequest, contract_id: int):
    return services.contract_cancel(contract=contract_id, actor=request.user)


@router.get(
    "/{contract_id}/events",
    response={200: Page[ContractEventOut], 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Histórico do contrato",
    description="Eventos em ordem cronológica, paginados por `cursor`.",
)
def contract_events(
    request: HttpRequest,
    contract_id: int,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    if not selectors.contract_exists(contract_id):
        raise NotFound("Contrato", "contract_not_found")
    qs = selectors.contract_event_list(contract_id=contract_id)
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "/{contract_id}/products",
    response={201: ContractProductOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Incluir produto no contrato",
    description="`kind` é SVA por padrão para produtos com integração SVA. Num contrato ativo, "
    "um produto SVA de integração com criação automática cria o usuário SVA.",
)
def contract_add_product(request: HttpRequest, contract_id: int, payload: ContractProductIn):
    item = services.contract_add_product(contract=contract_id, **payload.dict(), actor=request.user)
    return Status(201, item)


@router.delete(
    "/{contract_id}/products/{contract_product_id}",
    response={200: ContractProductOut, 401: ErrorOut, 404: ErrorOut},
    summary="Remover produto do contrato",
    description="O produto fica no histórico com `removed_at`; o usuário SVA dele é removido.",
)
def contract_remove_product(request: HttpRequest, contract_id: int, contract_product_id: int):
    return services.contract_remove_product(
        contract=contract_id, contract_product_id=contract_product_id, actor=request.user
    )
