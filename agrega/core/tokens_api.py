"""/api/tokens: the authenticated user's API tokens. The raw token is shown once, at
creation; afterwards only its first characters (``key_prefix``) identify it."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from . import selectors, services
from .api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from .text import ModelText
from .models import ApiToken

router = Router(tags=["Tokens de API"])


class TokenOut(Schema):
    id: int
    name: ModelText(ApiToken, "name")
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str


class TokenCreateIn(InputSchema):
    name: ModelText(ApiToken, "name")


@router.post(
    "",
    response={201: TokenCreatedOut, 401: ErrorOut, 422: ErrorOut},
    summary="Criar token",
    description="O valor de `token` só é mostrado nesta resposta: guarde-o.",
)
def token_create(request: HttpRequest, payload: TokenCreateIn):
    token, raw = services.api_token_create(user=request.user, name=payload.name)
    return Status(201, TokenCreatedOut(**TokenOut.from_orm(token).dict(), token=raw))


@router.get(
    "",
    response={200: Page[TokenOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar meus tokens",
)
def token_list(
    request: HttpRequest,
    include_revoked: bool = False,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    qs = selectors.api_token_list(user=request.user, include_revoked=include_revoked)
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.delete(
    "/{token_id}",
    response={200: TokenOut, 401: ErrorOut, 404: ErrorOut},
    summary="Revogar token",
)
def token_revoke(request: HttpRequest, token_id: int):
    return services.api_token_revoke(user=request.user, token_id=token_id)
