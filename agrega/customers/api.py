"""/api/customers: list, create, read and change customers (Clientes)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, json_answer
from agrega.core.text import ModelText, Text
from agrega.customers.models import Customer
from agrega.core.br import format_document, format_mobile
from agrega.core.errors import NotFound

from . import selectors, services
from .filtersets import CustomerFilterSet

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
    ibge_code: str
    ind_ie_dest: str
    ie: str
    created_at: datetime
    updated_at: datetime
    anonymized_at: datetime | None = None

    @staticmethod
    def resolve_document_formatted(obj) -> str:
        return format_document(obj.document)

    @staticmethod
    def resolve_mobile_phone_formatted(obj) -> str:
        return format_mobile(obj.mobile_phone)


class CustomerCreateIn(InputSchema):
    name: ModelText(Customer, "name")
    document: Text(64)
    email: Text(254) = ""
    mobile_phone: Text(40) = ""
    street: ModelText(Customer, "street") = ""
    number: ModelText(Customer, "number") = ""
    district: ModelText(Customer, "district") = ""
    city: ModelText(Customer, "city") = ""
    state: Text(40) = ""
    zip_code: Text(16) = ""
    ibge_code: Text(16) = ""  # NFCom: IBGE code of the municipality (agrega/fiscal)
    ind_ie_dest: Text(1) = ""  # NFCom: 1 contribuinte, 2 isento, 9 não contribuinte
    ie: Text(20) = ""


class CustomerUpdateIn(InputSchema):
    name: ModelText(Customer, "name") | None = None
    document: Text(64) | None = None
    email: Text(254) | None = None
    mobile_phone: Text(40) | None = None
    street: ModelText(Customer, "street") | None = None
    number: ModelText(Customer, "number") | None = None
    district: ModelText(Customer, "district") | None = None
    city: ModelText(Customer, "city") | None = None
    state: Text(40) | None = None
    zip_code: Text(16) | None = None
    ibge_code: Text(16) | None = None
    ind_ie_dest: Text(1) | None = None
    ie: Text(20) | None = None


def _get(customer_id: int):
    customer = selectors.customer_get(customer_id)
    if customer is None:
        raise NotFound("Cliente", "customer_not_found")
    return customer


@router.get(
    "",
    response={200: Page[CustomerOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar clientes",
    description="Filtros: `q` (palavras do nome em qualquer ordem, sem diferenciar maiúsculas e acentos; e-mail; CPF/CNPJ ou parte dele; celular digitado de qualquer forma), `document` (CPF ou CNPJ "
    "completo, também o CNPJ alfanumérico; inválido: 422 com o motivo), `city`, `state`. "
    "Paginação por `cursor` (id do último item) e `limit`.",
)
def customer_list(
    request: HttpRequest,
    q: CustomerFilterSet.api_type("q") | None = None,
    document: CustomerFilterSet.api_type("document") | None = None,
    city: CustomerFilterSet.api_type("city") | None = None,
    state: CustomerFilterSet.api_type("state") = None,  # either case; an unknown UF is a 422
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the filters are CustomerFilterSet's; the search box alone is hand-written SQL (selectors.customer_page)
    rows, next_cursor = selectors.customer_page(q=q, document=document, city=city,
                                                state=state.value if state else None, cursor=cursor, limit=limit)
    return json_answer({"items": [_out(row) for row in rows], "next_cursor": next_cursor})


# The page is answered from the rows shaped as CustomerOut (its fields, in its order) and
# serialized at once (core.api.json_answer): validating a page of customers through the
# model instances (a getter per field per customer) cost more than the search itself, and
# a schema object per row then a good part of what was left (bench/README.md,
# "api_load"). tests/api/test_api_read_paths.py holds the answer to the bytes of the
# schema's own serialization of the same customers.
_OUT_FIELDS = tuple(CustomerOut.model_fields)


def _out(row: dict) -> dict:
    row = {**row, "document_formatted": format_document(row["document"]),
           "mobile_phone_formatted": format_mobile(row["mobile_phone"])}
    return {name: row[name] for name in _OUT_FIELDS}


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


def _require_admin(request) -> None:
    """LGPD requests are an administrator's: the export holds all of a person's data."""
    from agrega.core.errors import ApplicationError
    from agrega.core.roles import Capability, has_capability

    if not has_capability(request.user, Capability.CONFIGURE):
        raise ApplicationError("forbidden", "Só administradores atendem pedidos LGPD (exportar/anonimizar).",
                               status_code=403)


class AnonymizeIn(InputSchema):
    reason: Text(500, multiline=True) = ""


@router.get(
    "/{customer_id}/personal-data",
    response={200: dict, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Exportar dados pessoais (LGPD)",
    description="Tudo o que o Agrega guarda sobre o titular, em JSON. Só administradores.",
)
def customer_personal_data(request: HttpRequest, customer_id: int):
    from .privacy import customer_personal_data as export

    _require_admin(request)
    return export(customer_id=customer_id)


@router.post(
    "/{customer_id}/anonymize",
    response={200: CustomerOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Anonimizar cliente (LGPD)",
    description=("Apaga os dados pessoais e mantém contratos e títulos. Recusado com contrato ativo "
                 "(`customer_has_active_contracts`) ou título em aberto (`customer_has_open_invoices`)."),
)
def customer_anonymize(request: HttpRequest, customer_id: int, payload: AnonymizeIn):
    from .privacy import customer_anonymize as anonymize

    _require_admin(request)
    return anonymize(customer_id=customer_id, actor=request.user, reason=payload.reason)
