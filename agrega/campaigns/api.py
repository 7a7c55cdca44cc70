"""/api/campaigns: campanhas SVA em massa — preview, create, start (runs in the
background at the campaign's rate), pause, resume, cancel, and the report of every
contract with its reason."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.text import ModelText
from agrega.campaigns.models import Campaign
from agrega.customers.models import Customer
from agrega.core.errors import NotFound

from agrega.core.tasks import actor_id

from . import selectors, services, tasks
from .filtersets import CampaignItemFilterSet, CampaignListFilterSet
from .models import ItemStatus

router = Router(tags=["Campanhas SVA"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class FiltersIn(InputSchema):
    sales_plan_id: int | None = None
    city: ModelText(Customer, "city") | None = None
    status: str | None = None  # checked by the service (status_invalid), as from the CLI
    access_status: str | None = None
    has_product_id: int | None = None
    lacks_product_id: int | None = None


class PreviewIn(InputSchema):
    product_id: int
    filters: FiltersIn = FiltersIn()


class CampaignIn(PreviewIn):
    name: ModelText(Campaign, "name")
    rate_per_second: Decimal | None = None


class PreviewOut(Schema):
    total: int
    already_has: int
    cancelled: int
    no_consent: int
    not_active: int
    eligible: int
    consent_required: bool


class CampaignOut(Schema):
    id: int
    name: ModelText(Campaign, "name")
    product_id: int
    product_name: str
    filters: dict
    rate_per_second: Decimal
    status: str
    status_display: str
    total: int
    added: int
    skipped: int
    failed: int
    warnings: int
    pending: int
    percent: int
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name

    @staticmethod
    def resolve_status_display(obj) -> str:
        return obj.get_status_display()

    @staticmethod
    def resolve_pending(obj) -> int:
        return max(0, obj.total - obj.processed)

    @staticmethod
    def resolve_created_by(obj) -> str:
        return obj.created_by_label


class CampaignItemOut(Schema):
    id: int
    contract_id: int
    customer_name: str
    status: str
    reason: str
    message: str
    warning: bool
    contract_product_id: int | None
    sva_user_id: int | None
    processed_at: datetime | None

    @staticmethod
    def resolve_customer_name(obj) -> str:
        return obj.contract.customer.name


def _get(campaign_id: int):
    campaign = selectors.campaign_get(campaign_id)
    if campaign is None:
        raise NotFound("Campanha", "campaign_not_found")
    return campaign


@router.get("", response={200: Page[CampaignOut], **ERRORS}, summary="Listar campanhas")
def campaign_list(request: HttpRequest, status: CampaignListFilterSet.api_type("status") = None,
                  cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=500)):
    # the filter is CampaignListFilterSet's (campaigns/filtersets.py), as on the page and in the CLI
    items, next_cursor = keyset_page(selectors.campaign_list(status=status), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/preview", response={200: PreviewOut, **ERRORS}, summary="Prever: quantos contratos",
             description="Não grava nada. `eligible` recebem o produto; os demais seriam ignorados "
             "(já têm o produto, cancelados, sem consentimento quando a integração exige).")
def campaign_preview(request: HttpRequest, payload: PreviewIn):
    return services.campaign_preview(product_id=payload.product_id, filters=payload.filters.dict())


@router.post("", response={201: CampaignOut, **ERRORS}, summary="Criar campanha (rascunho)")
def campaign_create(request: HttpRequest, payload: CampaignIn):
    campaign = services.campaign_create(name=payload.name, product_id=payload.product_id,
                                        filters=payload.filters.dict(), rate_per_second=payload.rate_per_second,
                                        actor=request.user)
    return Status(201, _get(campaign.pk))


@router.get("/{campaign_id}", response={200: CampaignOut, **ERRORS}, summary="Consultar campanha (progresso)")
def campaign_detail(request: HttpRequest, campaign_id: int):
    return _get(campaign_id)


@router.post("/{campaign_id}/start", response={202: CampaignOut, **ERRORS}, summary="Iniciar",
             description="Fixa os contratos escolhidos pelos filtros e os processa em segundo plano, no ritmo "
             "da campanha. Com `background=false` só marca a campanha em execução: quem a processa é o executor "
             "periódico ou `agrega campaign run`.")
def campaign_start(request: HttpRequest, campaign_id: int, background: bool = True):
    services.campaign_start(campaign=_get(campaign_id), actor=request.user)
    if background:
        tasks.run_campaign.enqueue(campaign_id=campaign_id, actor_id=actor_id(request.user))
    return Status(202, _get(campaign_id))


@router.post("/{campaign_id}/pause", response={200: CampaignOut, **ERRORS}, summary="Pausar")
def campaign_pause(request: HttpRequest, campaign_id: int):
    services.campaign_pause(campaign=_get(campaign_id), actor=request.user)
    return _get(campaign_id)


@router.post("/{campaign_id}/resume", response={202: CampaignOut, **ERRORS}, summary="Retomar")
def campaign_resume(request: HttpRequest, campaign_id: int, background: bool = True):
    services.campaign_resume(campaign=_get(campaign_id), actor=request.user)
    if background:
        tasks.run_campaign.enqueue(campaign_id=campaign_id, actor_id=actor_id(request.user))
    return Status(202, _get(campaign_id))


@router.post("/{campaign_id}/cancel", response={200: CampaignOut, **ERRORS}, summary="Cancelar")
def campaign_cancel(request: HttpRequest, campaign_id: int):
    services.campaign_cancel(campaign=_get(campaign_id), actor=request.user)
    return _get(campaign_id)


@router.get("/{campaign_id}/items", response={200: Page[CampaignItemOut], **ERRORS},
            summary="Relatório: cada contrato e o motivo",
            description="Filtros: `status` (" + ", ".join(ItemStatus.values) + "), `reason`.")
def campaign_items(request: HttpRequest, campaign_id: int, status: CampaignItemFilterSet.api_type("status") = None,
                   reason: CampaignItemFilterSet.api_type("reason") | None = None,
                   cursor: Cursor | None = None, limit: int = Query(100, ge=1, le=500)):
    _get(campaign_id)
    qs = selectors.campaign_item_list(campaign_id=campaign_id, status=status, reason=reason)
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}
