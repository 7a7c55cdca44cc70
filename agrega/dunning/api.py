"""/api/dunning/policies (the réguas: CONFIGURE to change) and /api/dunning-sweeps
(apply the régua now: OPERATE). Two first path segments, because the API authorizes a
write by its first segment (agrega.core.api.WRITE_CAPABILITY)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from agrega.core.api import ErrorOut, InputSchema
from agrega.core.tasks_api import TaskOut, task_accepted
from agrega.core.text import ModelText
from agrega.dunning.models import DunningPolicy, TrustRelease

from . import selectors, services
from .models import DunningAction
from .tasks import queue_sweep

router = Router(tags=["Régua de cobrança"])
sweeps_router = Router(tags=["Régua de cobrança"])
contract_router = Router(tags=["Contratos"])  # /api/contracts/{id}/trust-release

WRITE_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
ACTIONS_DOC = ", ".join(f"`{value}` ({label})" for value, label in DunningAction.choices)


class StageOut(Schema):
    level: int
    days_after_due: int
    action: str
    action_display: str

    @staticmethod
    def resolve_action_display(obj) -> str:
        return obj.get_action_display()


class PolicyOut(Schema):
    id: int
    name: str
    preset: str
    is_default: bool
    trust_release_days: int
    trust_release_max_uses: int
    trust_release_period_days: int
    multa_modalidade: int
    multa_valor: Decimal
    juros_modalidade: int
    juros_valor: Decimal
    desconto_modalidade: int
    desconto_valor: Decimal
    desconto_dias: int
    validade_apos_vencimento: int | None
    contracts_count: int
    stages: list[StageOut]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_stages(obj):
        return list(obj.stages.all())

    @staticmethod
    def resolve_contracts_count(obj) -> int:
        return getattr(obj, "contracts_count", 0)


class ActionOut(Schema):
    value: str
    label: str


class PolicyCreateIn(InputSchema):
    preset: str
    name: ModelText(DunningPolicy, "name") | None = None
    make_default: bool = False
    block_after_days: int | None = None


class StageIn(InputSchema):
    days_after_due: int
    action: str


class StagesIn(InputSchema):
    stages: list[StageIn]


class PolicyPatchIn(InputSchema):
    name: ModelText(DunningPolicy, "name") | None = None
    is_default: bool | None = None
    trust_release_days: int | None = None
    trust_release_max_uses: int | None = None
    trust_release_period_days: int | None = None
    # the cobrança PIX (dunning/charges.py); validade_apos_vencimento null = the PIX account's
    multa_modalidade: int | None = None
    multa_valor: Decimal | None = None
    juros_modalidade: int | None = None
    juros_valor: Decimal | None = None
    desconto_modalidade: int | None = None
    desconto_valor: Decimal | None = None
    desconto_dias: int | None = None
    validade_apos_vencimento: int | None = None


class SweepIn(InputSchema):
    today: date | None = None


@router.get("/policies", response={200: list[PolicyOut], 401: ErrorOut}, summary="Listar réguas de cobrança",
            description="A padrão primeiro. `contracts_count`: contratos que escolheram esta régua (os demais "
                        "seguem a padrão).")
def policy_list(request: HttpRequest):
    return list(selectors.policy_list())


@router.get("/actions", response={200: list[ActionOut], 401: ErrorOut}, summary="Ações possíveis numa etapa")
def action_list(request: HttpRequest):
    return [{"value": v, "label": label} for v, label in DunningAction.choices]


@router.post(
    "/policies", response={201: PolicyOut, **WRITE_ERRORS}, summary="Criar régua a partir de um modelo",
    description="`preset`: `anatel` (aviso, suspensão parcial em 15 dias, total em mais 30, rescisão em mais "
                "30 — RGC) ou `simples` (bloqueio CA após `block_after_days` dias, 15 se omitido). "
                "`make_default`: passa a ser a régua padrão.",
)
def policy_create(request: HttpRequest, payload: PolicyCreateIn):
    return Status(201, services.policy_create(**payload.dict(), actor=request.user))


@router.get("/policies/{policy_id}", response={200: PolicyOut, 401: ErrorOut, 404: ErrorOut},
            summary="Consultar régua")
def policy_detail(request: HttpRequest, policy_id: int):
    return selectors.policy_get(policy_id)


@router.put(
    "/policies/{policy_id}/stages", response={200: PolicyOut, **WRITE_ERRORS}, summary="Substituir etapas",
    description="Lista completa, em ordem: os dias após o vencimento crescem de uma etapa para a seguinte "
                f"(1 a 3650). Ações: {ACTIONS_DOC}.",
)
def policy_stages(request: HttpRequest, policy_id: int, payload: StagesIn):
    stages = [s.dict() for s in payload.stages]
    return services.policy_replace_stages(policy_id=policy_id, stages=stages, actor=request.user)


@router.patch(
    "/policies/{policy_id}", response={200: PolicyOut, **WRITE_ERRORS}, summary="Alterar régua",
    description="Nome, limites do desbloqueio de confiança (dias 1–30, usos 0–30 por período de 1–365 dias) "
                "e `is_default: true` para torná-la a padrão (a padrão não é desmarcada: marque outra).",
)
def policy_patch(request: HttpRequest, policy_id: int, payload: PolicyPatchIn):
    return services.policy_update(policy_id=policy_id, actor=request.user, **payload.dict(exclude_unset=True))


@sweeps_router.post(
    "", response={202: TaskOut, **WRITE_ERRORS}, summary="Aplicar a régua de cobrança agora",
    description="Expira desbloqueios de confiança, libera quem não deve nada vencido e aplica cada etapa, "
                "em segundo plano: responde 202 na hora com a tarefa (`Location`: `GET /api/tasks/{id}`), "
                "cujo `result` traz, ao terminar, `today`, `released`, `trust_expired`, `by_stage`, "
                "`access_changed` e `notices`. `today` (opcional, AAAA-MM-DD): não pode ser futura nem "
                "anterior a uma execução manual já feita (recusada na hora).",
)
def sweep(request: HttpRequest, response: HttpResponse, payload: SweepIn | None = None):
    today = payload.today if payload is not None else None
    return task_accepted(response, queue_sweep(today=today, actor=request.user).id)


# ---------------------------------------------------------------- trust release of a contract

class TrustReleaseIn(InputSchema):
    days: int | None = None
    note: ModelText(TrustRelease, "note") = ""


class TrustReleaseOut(Schema):
    id: int
    contract_id: int
    starts_at: datetime
    ends_at: datetime
    note: str
    actor_label: str
    restore_access: str


@contract_router.post(
    "/{contract_id}/trust-release",
    response={201: TrustReleaseOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Desbloqueio de confiança",
    description="Libera por `days` dias (padrão e máximo: os da régua do contrato) um contrato "
    "bloqueado pela régua (FA ou CA), dentro do limite de usos por período. Erros: "
    "`trust_release_not_blocked`, `trust_release_limit` (com `next_available_at`), "
    "`trust_days_invalid`.",
)
def contract_trust_release(request: HttpRequest, contract_id: int, payload: TrustReleaseIn | None = None):
    payload = payload or TrustReleaseIn()
    release = services.trust_release(contract_id=contract_id, days=payload.days, actor=request.user,
                                      note=payload.note)
    return Status(201, release)
