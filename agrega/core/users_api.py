"""/api/users: user administration (administrators only, read and write: core.api's
READ_CAPABILITY and WRITE_CAPABILITY). The rules live in core.services; a generated
password is in the answer of its reset only."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from . import selectors, services
from .api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from .errors import NotFound
from .text import ModelText, Text
from .tokens_api import TokenOut
from .users_filtersets import UserFilterSet

router = Router(tags=["Usuários"])

RoleName = Literal["administrador", "operador", "somente leitura"]


class UserOut(Schema):
    id: int
    username: str
    name: str
    email: str
    role: str | None
    is_active: bool
    date_joined: datetime
    last_login: datetime | None

    @staticmethod
    def of(user) -> dict:
        role = selectors.user_role_of(user)
        return {"id": user.pk, "username": user.username, "name": services.user_name(user), "email": user.email,
                "role": role.value if role else None, "is_active": user.is_active,
                "date_joined": user.date_joined, "last_login": user.last_login}


class UserCreateIn(InputSchema):
    username: ModelText(User, "username")
    name: Text(300)
    email: ModelText(User, "email")
    role: RoleName
    password: Text(1024)


class RoleIn(InputSchema):
    role: RoleName


class PasswordIn(InputSchema):
    password: Text(1024) | None = None


class PasswordResetOut(Schema):
    user: UserOut
    password: str | None = None


def _user(user_id: int):
    user = selectors.user_list().filter(pk=user_id).first()
    if user is None:
        raise NotFound("Usuário", "user_not_found")
    return user


@router.get("", response={200: Page[UserOut], 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
            summary="Listar usuários",
            description="Filtros: `q` (parte do login, do nome ou do e-mail), `role` (administrador, operador, "
            "somente leitura; também admin e leitura), `active` (true: só os ativos; false: só os desativados). "
            "`include_inactive=false` (antigo) é o mesmo que `active=true`. Paginação por `cursor` e `limit`.")
def user_list(request: HttpRequest, q: UserFilterSet.api_type("q") | None = None,
              role: UserFilterSet.api_type("role") = None,
              active: UserFilterSet.api_type("active") | None = None,
              include_inactive: bool = True, cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=500)):
    # the filters are UserFilterSet's (core/users_filtersets.py), as on the page and in the CLI
    if active is None and not include_inactive:
        active = True
    filters = UserFilterSet({"q": q, "role": role, "active": active})
    items, next_cursor = keyset_page(filters.queryset(), cursor=cursor, limit=limit)
    return {"items": [UserOut.of(u) for u in items], "next_cursor": next_cursor}


@router.post("", response={201: UserOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
             summary="Criar usuário",
             description="A senha inicial passa pelos validadores de senha configurados.")
def user_create(request: HttpRequest, payload: UserCreateIn):
    user = services.user_create(actor=request.user, **payload.dict())
    return Status(201, UserOut.of(_user(user.pk)))


@router.get("/{user_id}", response={200: UserOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="Ver usuário")
def user_detail(request: HttpRequest, user_id: int):
    return UserOut.of(_user(user_id))


@router.post("/{user_id}/role", response={200: UserOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                          409: ErrorOut, 422: ErrorOut},
             summary="Definir papel",
             description="409 `last_admin` se deixaria o Agrega sem administrador ativo.")
def user_set_role(request: HttpRequest, user_id: int, payload: RoleIn):
    services.user_set_role(actor=request.user, user_id=user_id, role=payload.role)
    return UserOut.of(_user(user_id))


@router.post("/{user_id}/deactivate", response={200: UserOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                                409: ErrorOut},
             summary="Desativar usuário",
             description="Revoga os tokens e encerra as sessões do usuário na hora. "
                         "409 `last_admin` se deixaria o Agrega sem administrador ativo.")
def user_deactivate(request: HttpRequest, user_id: int):
    services.user_deactivate(actor=request.user, user_id=user_id)
    return UserOut.of(_user(user_id))


@router.post("/{user_id}/reactivate", response={200: UserOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
             summary="Reativar usuário")
def user_reactivate(request: HttpRequest, user_id: int):
    services.user_reactivate(actor=request.user, user_id=user_id)
    return UserOut.of(_user(user_id))


@router.post("/{user_id}/reset-password",
             response={200: PasswordResetOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
             summary="Redefinir senha",
             description="Sem `password`, gera uma senha aleatória e a devolve uma única vez em `password`. "
                         "As sessões do usuário terminam.")
def user_reset_password(request: HttpRequest, user_id: int, payload: PasswordIn):
    _, generated = services.user_reset_password(actor=request.user, user_id=user_id, password=payload.password)
    return {"user": UserOut.of(_user(user_id)), "password": generated}


@router.get("/{user_id}/tokens", response={200: Page[TokenOut], 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                           422: ErrorOut},
            summary="Tokens do usuário")
def user_tokens(request: HttpRequest, user_id: int, include_revoked: bool = True, cursor: Cursor | None = None,
                limit: int = Query(50, ge=1, le=500)):
    _user(user_id)
    qs = selectors.user_tokens(user_id=user_id, include_revoked=include_revoked)
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.delete("/{user_id}/tokens/{token_id}", response={200: TokenOut, 401: ErrorOut, 403: ErrorOut,
                                                         404: ErrorOut},
               summary="Revogar token do usuário")
def user_token_revoke(request: HttpRequest, user_id: int, token_id: int):
    return services.user_token_revoke(actor=request.user, user_id=user_id, token_id=token_id)
