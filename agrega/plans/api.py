"""/api/plans: Planos de Venda (a bundle of products with their prices), and
POST /api/contracts/from-plan (``contract_router``, mounted at /contracts before the
contracts router so that "from-plan" is not read as a contract id)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from agrega.contracts.api import ContractDetailOut
from agrega.contracts.selectors import contract_get
from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.text import ModelText
from agrega.contracts.models import Contract
from agrega.plans.models import SalesPlan
from agrega.core.errors import NotFound
from agrega.core.money import PriceIn

from . import selectors, services
from .filtersets import PlanFilterSet

router = Router(tags=["Planos de venda"])
contract_router = Router(tags=["Contratos"])

ITEMS_HELP = "Produtos do plano: `[{product_id, price}]`; `price` vazio usa o valor do produto."


class PlanItemOut(Schema):
    id: int
    product_id: int
    product_name: str
    kind: str
    sva_integration_id: int | None
    sva_package_code: str
    price: Decimal | None
    effective_price: Decimal

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name

    @staticmethod
    def resolve_kind(obj) -> str:
        return "SVA" if obj.product.is_sva else "OUTRO"

    @staticmethod
    def resolve_sva_integration_id(obj) -> int | None:
        return obj.product.sva_integration_id

    @staticmethod
    def resolve_sva_package_code(obj) -> str:
        return obj.product.sva_package_code

    @staticmethod
    def resolve_effective_price(obj) -> Decimal:
        return selectors.item_price(obj)


class PlanOut(Schema):
    id: int
    name: str
    description: str
    active: bool
    items: list[PlanItemOut]
    total: Decimal
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_items(obj):
        return list(obj.items.all())

    @staticmethod
    def resolve_total(obj) -> Decimal:
        return selectors.plan_total(obj)


class PlanItemIn(InputSchema):
    product_id: int
    price: PriceIn | None = None


class PlanCreateIn(InputSchema):
    name: ModelText(SalesPlan, "name")
    description: ModelText(SalesPlan, "description") = ""
    active: bool = True
    items: list[PlanItemIn] = []


class PlanUpdateIn(InputSchema):
    name: ModelText(SalesPlan, "name") | None = None
    description: ModelText(SalesPlan, "description") | None = None
    active: bool | None = None
    items: list[PlanItemIn] | None = None


class ContractFromPlanIn(InputSchema):
    customer_id: int
    plan_id: int
    billing_day: int = 10
    description: ModelText(Contract, "description") = ""


class ContractFromPlanOut(ContractDetailOut):
    sales_plan_id: int | None


def _get(plan_id: int):
    plan = selectors.plan_get(plan_id)
    if plan is None:
        raise NotFound("Plano de venda", "plan_not_found")
    return plan


@router.get(
    "",
    response={200: Page[PlanOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar planos de venda",
    description="Filtros: `q` (nome ou descrição), `active`.",
)
def plan_list(
    request: HttpRequest,
    q: PlanFilterSet.api_type("q") | None = None,
    active: PlanFilterSet.api_type("active") | None = None,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the filters are PlanFilterSet's (plans/filtersets.py), as on the page and in the CLI
    items, next_cursor = keyset_page(selectors.plan_list(q=q, active=active), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "",
    response={201: PlanOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Cadastrar plano de venda",
    description=ITEMS_HELP + " Só produtos ativos (SVA com a integração ativa), cada um uma vez.",
)
def plan_create(request: HttpRequest, payload: PlanCreateIn):
    data = payload.dict()
    plan = services.plan_create(**data, actor=request.user)
    return Status(201, _get(plan.pk))


@router.get("/{plan_id}", response={200: PlanOut, 401: ErrorOut, 404: ErrorOut}, summary="Consultar plano de venda")
def plan_detail(request: HttpRequest, plan_id: int):
    return _get(plan_id)


@router.patch(
    "/{plan_id}",
    response={200: PlanOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Alterar plano de venda",
    description="Só os campos enviados; `items`, quando enviado, substitui todos os produtos do plano. "
    "Contratos já criados com o plano não mudam.",
)
def plan_update(request: HttpRequest, plan_id: int, payload: PlanUpdateIn):
    services.plan_update(plan=_get(plan_id), actor=request.user, **payload.dict(exclude_unset=True))
    return _get(plan_id)


@router.delete(
    "/{plan_id}",
    response={204: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Excluir plano de venda",
    description="Só um plano que nenhum contrato usou (409 `plan_in_use`: desative-o).",
)
def plan_delete(request: HttpRequest, plan_id: int):
    services.plan_delete(plan=_get(plan_id), actor=request.user)
    return Status(204, None)


@router.post(
    "/{plan_id}/items",
    response={201: PlanOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Incluir produto no plano",
)
def plan_add_item(request: HttpRequest, plan_id: int, payload: PlanItemIn):
    services.plan_add_item(plan=_get(plan_id), product_id=payload.product_id, price=payload.price,
                           actor=request.user)
    return Status(201, _get(plan_id))


@router.delete(
    "/{plan_id}/items/{item_id}",
    response={200: PlanOut, 401: ErrorOut, 404: ErrorOut},
    summary="Remover produto do plano",
)
def plan_remove_item(request: HttpRequest, plan_id: int, item_id: int):
    services.plan_remove_item(plan=_get(plan_id), item_id=item_id, actor=request.user)
    return _get(plan_id)


@contract_router.post(
    "/from-plan",
    response={201: ContractFromPlanOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Cadastrar contrato a partir de um plano de venda",
    description="Cria o pré-contrato com os produtos do plano, nos valores do plano. Ao ativá-lo, os "
    "produtos SVA seguem o fluxo de sempre (criação automática do usuário SVA quando a integração "
    "permite). Plano inativo ou sem produtos é recusado (`plan_inactive`, `plan_empty`).",
)
def contract_from_plan(request: HttpRequest, payload: ContractFromPlanIn):
    contract = services.contract_create_from_plan(**payload.dict(), actor=request.user)
    return Status(201, contract_get(contract.pk))
