"""/api/customers: list, create, read and change customers (Clientes)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from agrega.core.api import ErrorOut, Page, keyset_page
from agrega.core.br import format_document, format_mobile
from agrega.core.errors import NotFound

from . import selectors, services

router = Router(tags=["Clientes"])


class CustomerOut(Schema):
    id: int
    name: str
    person_type: str
    document: str
    document_formatted: str
    email: str
    mobile_phone: str
    mobile_phone_formatted: str
    street: str
    number: str
    district: str
    city: str
    state: str
    zip_code: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_document_formatted(obj) -> str:
        return format_document(obj.document)

    @staticmethod
    def resolve_mobile_phone_formatted(obj) -> str:
        return format_mobile(obj.mobile_phone)


class CustomerCreateIn(Schema):
    name: str
    document: str
    email: str = ""
    mobile_phone: str = ""
    street: str = ""
    number: str = ""
    district: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""


class CustomerUpdateIn(Schema):
    name: str | None = None
    document: str | None = None
    email: str | None = None
    mobile_phone: str | None = None
    street: str | None = None
    number: str | None = None
    district: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None


def _get(customer_id: int):
    customer = selectors.customer_get(customer_id)
    if customer is None:
        raise NotFound("Cliente", "customer_not_found")
    return customer


@router.get(
    "",
    response={200: Page[CustomerOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar clientes",
    description="Filtros: `q` (nome, e-mail ou dígitos do CPF/CNPJ), `document`, `city`, `state`. "
    "Paginação por `cursor` (id do último item) e `limit`.",
)
def customer_list(
    request: HttpRequest,
    q: str | None = None,
    document: str | None = None,
    city: str | None = None,
    state: str | None = None,
    cursor: int | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    qs = selectors.customer_list(q=q, document=document, city=city, state=state)
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "",
    response={201: CustomerOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Cadastrar cliente",
)
def customer_create(request: HttpRequest, payload: CustomerCreateIn):
    return Status(201, services.customer_create(actor=request.user, **payload.dict()))


@router.get(
    "/{customer_id}",
    response={200: CustomerOut, 401: ErrorOut, 404: ErrorOut},
    summary="Consultar cliente",
)
def customer_detail(request: HttpRequest, customer_id: int):
    return _get(customer_id)


@router.patch(
    "/{customer_id}",
    response={200: CustomerOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Alterar cliente",
    description="Só os campos enviados são alterados.",
)
def customer_update(request: HttpRequest, customer_id: int, payload: CustomerUpdateIn):
    return services.customer_update(customer=_get(customer_id), actor=request.user, **payload.dict(exclude_unset=True))
