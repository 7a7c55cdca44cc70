"""/api/integrations: SVA integrations (Configurações > Integrações > Integrações SVA).

Credentials are write-only: no response carries them, nor their encrypted form — only
whether they are set and the names of the fields stored.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.text import ModelText
from agrega.integrations.models import SvaIntegration
from agrega.core.errors import NotFound

from . import selectors, services
from .filtersets import IntegrationFilterSet

router = Router(tags=["Integrações SVA"])

def _credentials_help() -> str:
    """Built from the connectors' declarations: each platform's credential fields."""
    per_platform = "; ".join(
        f"{p.label} ({p.platform}): " + ", ".join(
            f.name + ("" if f.required else " (opcional)") for f in p.credential_fields)
        for p in selectors.platform_list())
    return ("Credenciais da plataforma (somente escrita). Os campos de cada plataforma estão em "
            f"GET /api/integrations/platforms; {per_platform}.")


CREDENTIALS_HELP = _credentials_help()
PREFIX_HELP = "Seu prefixo na plataforma; obrigatório nas plataformas com needs_prefix (GET /api/integrations/platforms)."

REQUIRES_CONSENT_HELP = (
    "Exige consentimento do cliente: nenhum usuário SVA é criado na plataforma sem o aceite "
    "registrado para o produto do contrato (POST /api/contracts/{id}/consents)."
)

RECONCILE_REMOVE_UNKNOWN_HELP = (
    "Política da reconciliação (POST /api/integrations/{id}/reconcile): usuários no prefixo da "
    "integração que o Agrega não conhece, ou que excluiu, são removidos da plataforma; falso: só relatados."
)


RATE_LIMIT_HELP = (
    "Limite de requisições por segundo que a plataforma impõe a esta conta; o worker espaça as "
    "chamadas para não ultrapassá-lo (0: sem limite)."
)


class CredentialFieldOut(Schema):
    name: ModelText(SvaIntegration, "name")
    label: str
    secret: bool
    required: bool
    help: str


class PlatformOut(Schema):
    """A connector's declaration (docs/decisions/0010-connector-declarations.md)."""

    platform: str
    label: str
    credential_fields: list[CredentialFieldOut]
    needs_prefix: bool = Field(..., description="Se a integração precisa de Seu prefixo.")
    capabilities: list[str] = Field(..., description="O que a plataforma permite, ex.: list_users "
                                    "(reconciliação), lookup_by_external_id, change_package_in_place.")


class IntegrationOut(Schema):
    id: int
    name: ModelText(SvaIntegration, "name")
    platform: str
    base_url: str
    prefix: ModelText(SvaIntegration, "prefix")
    auto_create_users: bool
    requires_consent: bool
    reconcile_remove_unknown: bool
    active: bool
    timeout_seconds: float
    rate_limit_rps: float
    credentials_set: bool
    credential_fields: list[str]
    circuit_open_until: datetime | None
    consecutive_failures: int
    last_error_code: str
    last_error_message: str
    last_error_at: datetime | None
    last_success_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_credentials_set(obj) -> bool:
        return bool(obj.credentials_encrypted)

    @staticmethod
    def resolve_credential_fields(obj) -> list[str]:
        return selectors.integration_credential_names(obj)


class IntegrationCreateIn(InputSchema):
    name: ModelText(SvaIntegration, "name")
    platform: str
    base_url: str
    prefix: ModelText(SvaIntegration, "prefix") = Field("", description=PREFIX_HELP)
    auto_create_users: bool = False
    requires_consent: bool = Field(False, description=REQUIRES_CONSENT_HELP)
    reconcile_remove_unknown: bool = Field(False, description=RECONCILE_REMOVE_UNKNOWN_HELP)
    active: bool = True
    timeout_seconds: float = 10.0
    rate_limit_rps: float = Field(0.0, description=RATE_LIMIT_HELP)
    credentials: dict[str, str] = Field(..., description=CREDENTIALS_HELP)


class IntegrationUpdateIn(InputSchema):
    name: ModelText(SvaIntegration, "name") | None = None
    platform: str | None = None
    base_url: str | None = None
    prefix: ModelText(SvaIntegration, "prefix") | None = None
    auto_create_users: bool | None = None
    requires_consent: bool | None = Field(None, description=REQUIRES_CONSENT_HELP)
    reconcile_remove_unknown: bool | None = Field(None, description=RECONCILE_REMOVE_UNKNOWN_HELP)
    active: bool | None = None
    timeout_seconds: float | None = None
    rate_limit_rps: float | None = Field(None, description=RATE_LIMIT_HELP)
    credentials: dict[str, str] | None = Field(
        None, description=CREDENTIALS_HELP + " Substituídas só quando enviadas."
    )


class CheckOut(Schema):
    ok: bool
    code: str
    message: str


class PackageOut(Schema):
    code: str
    name: ModelText(SvaIntegration, "name")
    description: str


def _get(integration_id: int):
    integration = selectors.integration_get(integration_id)
    if integration is None:
        raise NotFound("Integração SVA", "integration_not_found")
    return integration


@router.get(
    "/platforms",
    response={200: list[PlatformOut], 401: ErrorOut},
    summary="Plataformas disponíveis",
    description="Plataformas SVA com conector e os campos de credencial de cada uma.",
)
def platform_list(request: HttpRequest):
    return selectors.platform_list()


@router.get(
    "",
    response={200: Page[IntegrationOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar integrações SVA",
    description="Filtros: `q` (parte do nome ou do prefixo), `platform` (plataforma; desconhecida: 422), "
    "`active`. Paginação por `cursor` e `limit`.",
)
def integration_list(
    request: HttpRequest,
    q: IntegrationFilterSet.api_type("q") | None = None,
    platform: IntegrationFilterSet.api_type("platform") = None,
    active: IntegrationFilterSet.api_type("active") | None = None,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the filters are IntegrationFilterSet's (integrations/filtersets.py), as on the page and in the CLI
    filters = IntegrationFilterSet({"q": q, "platform": platform, "active": active})
    items, next_cursor = keyset_page(filters.queryset(), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "",
    response={201: IntegrationOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Cadastrar integração SVA",
)
def integration_create(request: HttpRequest, payload: IntegrationCreateIn):
    return Status(201, services.integration_create(actor=request.user, **payload.dict()))


@router.get(
    "/{integration_id}",
    response={200: IntegrationOut, 401: ErrorOut, 404: ErrorOut},
    summary="Consultar integração SVA",
)
def integration_detail(request: HttpRequest, integration_id: int):
    return _get(integration_id)


@router.patch(
    "/{integration_id}",
    response={200: IntegrationOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Alterar integração SVA",
    description="Só os campos enviados são alterados; as credenciais só quando enviadas.",
)
def integration_update(request: HttpRequest, integration_id: int, payload: IntegrationUpdateIn):
    return services.integration_update(
        actor=request.user,
        integration=_get(integration_id), **payload.dict(exclude_unset=True)
    )


@router.post(
    "/{integration_id}/check",
    response={200: CheckOut, 401: ErrorOut, 404: ErrorOut},
    summary="Testar conexão",
    description="Pede à plataforma que aceite as credenciais e leia o catálogo de pacotes.",
)
def integration_check(request: HttpRequest, integration_id: int):
    return services.integration_check_credentials(integration=_get(integration_id))


@router.get(
    "/{integration_id}/packages",
    response={200: list[PackageOut], 400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 502: ErrorOut},
    summary="Pacotes da plataforma",
    description="Catálogo de pacotes SVA lido da plataforma agora. 502 quando ela não responde; "
    "400 quando recusa as credenciais.",
)
def integration_packages(request: HttpRequest, integration_id: int):
    return services.integration_list_packages(integration=_get(integration_id))
