"""/api/consents and /api/contracts/{id}/consents: the customer's acceptance of each SVA
(when, channel, evidence, who recorded it), and /api/reports/sva-without-consent.

``contract_router`` is mounted at /contracts, ``reports_router`` at /reports.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from agrega.contracts.selectors import contract_exists
from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.text import ModelText
from agrega.consent.models import ConsentRecord
from agrega.core.errors import NotFound

from . import selectors, services
from .filtersets import ConsentFilterSet, WithoutConsentFilterSet
from .models import ConsentChannel

router = Router(tags=["Consentimentos"])
contract_router = Router(tags=["Consentimentos"])
reports_router = Router(tags=["Relatórios"])

CHANNELS = ", ".join(f"`{v}` ({label})" for v, label in ConsentChannel.choices)


class ConsentOut(Schema):
    id: int
    contract_id: int
    customer_id: int
    customer_name: str
    product_id: int
    product_name: str
    consented_at: datetime
    channel: str
    channel_display: str
    evidence_ref: ModelText(ConsentRecord, "evidence_ref")
    valid: bool
    actor_id: int | None
    actor_label: str
    revoked_at: datetime | None
    revoke_reason: str
    revoked_by_label: str
    created_at: datetime

    @staticmethod
    def resolve_customer_id(obj) -> int:
        return obj.contract.customer_id

    @staticmethod
    def resolve_customer_name(obj) -> str:
        return obj.contract.customer.name

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name

    @staticmethod
    def resolve_channel_display(obj) -> str:
        return obj.get_channel_display()


class ConsentIn(InputSchema):
    product_id: int
    channel: str
    evidence_ref: ModelText(ConsentRecord, "evidence_ref")
    consented_at: datetime | None = None


class RevokeIn(InputSchema):
    reason: ModelText(ConsentRecord, "revoke_reason") = ""


class WithoutConsentOut(Schema):
    contract_product_id: int
    contract_id: int
    customer_id: int
    customer_name: str
    customer_document: str
    product_id: int
    product_name: str
    sva_package_code: str
    integration_id: int | None
    integration_name: str
    requires_consent: bool
    price: Decimal
    since: datetime
    last_revoked_at: datetime | None


def without_consent_row(item) -> dict:
    """One row of the report (shared by the API, the page and its CSV)."""
    integration = item.product.sva_integration
    customer = item.contract.customer
    return {
        "contract_product_id": item.pk,
        "contract_id": item.contract_id,
        "customer_id": customer.pk,
        "customer_name": customer.name,
        "customer_document": customer.document,
        "product_id": item.product_id,
        "product_name": item.product.name,
        "sva_package_code": item.product.sva_package_code,
        "integration_id": integration.pk if integration else None,
        "integration_name": integration.name if integration else "",
        "requires_consent": bool(integration and integration.requires_consent),
        "price": Decimal(item.effective_price).quantize(Decimal("0.01")),
        "since": item.since,
        "last_revoked_at": item.last_revoked_at,
    }


def _consent(consent_id: int):
    found = selectors.consent_get(consent_id)
    if found is None:
        raise NotFound("Consentimento", "consent_not_found")
    return found


@router.get(
    "",
    response={200: Page[ConsentOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar consentimentos",
    description="Filtros: `contract_id`, `product_id`, `valid` (true: só os não revogados; false: só os revogados).",
)
def consent_list(
    request: HttpRequest,
    contract_id: ConsentFilterSet.api_type("contract_id") | None = None,
    product_id: ConsentFilterSet.api_type("product_id") | None = None,
    valid: ConsentFilterSet.api_type("valid") | None = None,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the filters are ConsentFilterSet's (consent/filtersets.py), as in the CLI
    qs = selectors.consent_list(contract_id=contract_id, product_id=product_id, valid=valid)
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{consent_id}", response={200: ConsentOut, 401: ErrorOut, 404: ErrorOut},
            summary="Consultar consentimento")
def consent_detail(request: HttpRequest, consent_id: int):
    return _consent(consent_id)


@router.post(
    "/{consent_id}/revoke",
    response={200: ConsentOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Revogar consentimento",
    description="O usuário SVA que já existe na plataforma não é removido (segue o contrato); a cobrança "
    "passa a constar no relatório de SVA sem consentimento. Um usuário ainda não criado volta a aguardar.",
)
def consent_revoke(request: HttpRequest, consent_id: int, payload: RevokeIn | None = None):
    reason = payload.reason if payload is not None else ""
    services.consent_revoke(consent_id=consent_id, reason=reason, actor=request.user)
    return _consent(consent_id)


@contract_router.get(
    "/{contract_id}/consents",
    response={200: Page[ConsentOut], 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Consentimentos do contrato",
    description="Todos os registros, inclusive os revogados (`valid: false`).",
)
def contract_consent_list(
    request: HttpRequest,
    contract_id: int,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    if not contract_exists(contract_id):
        raise NotFound("Contrato", "contract_not_found")
    items, next_cursor = keyset_page(selectors.consent_list(contract_id=contract_id), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@contract_router.post(
    "/{contract_id}/consents",
    response={201: ConsentOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Registrar consentimento",
    description="O aceite do cliente para um produto SVA: `consented_at` (padrão: agora; nunca no futuro), "
    f"`channel` ({CHANNELS}) e `evidence_ref` (protocolo, gravação, documento). O produto pode ainda não "
    "estar no contrato. Quem registra é o usuário do token. Usuários SVA que aguardavam o consentimento "
    "são criados na próxima sincronização. 409 `consent_exists` quando já há um válido.",
)
def contract_consent_create(request: HttpRequest, contract_id: int, payload: ConsentIn):
    record = services.consent_record(contract_id=contract_id, **payload.dict(), actor=request.user)
    return Status(201, _consent(record.pk))


@reports_router.get(
    "/sva-without-consent",
    response={200: Page[WithoutConsentOut], 401: ErrorOut, 422: ErrorOut},
    summary="SVA cobrado sem consentimento",
    description="Produtos SVA de contratos ativos (status A), não removidos, sem consentimento válido do "
    "cliente — o que está sendo cobrado sem aceite registrado. `since`: desde quando (a ativação, a "
    "inclusão do produto ou a última revogação). Filtros: `integration_id`, `contract_id`. "
    "Paginado por `cursor` (id do produto do contrato).",
)
def sva_without_consent(
    request: HttpRequest,
    integration_id: WithoutConsentFilterSet.api_type("integration_id") | None = None,
    contract_id: WithoutConsentFilterSet.api_type("contract_id") | None = None,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the filters are WithoutConsentFilterSet's (consent/filtersets.py), as on the page and in the CLI
    qs = selectors.sva_without_consent(integration_id=integration_id, contract_id=contract_id)
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": [without_consent_row(i) for i in items], "next_cursor": next_cursor}
