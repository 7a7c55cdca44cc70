"""Writes for API tokens: issue one (its raw value is returned once) and revoke it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from agrega.core.errors import FieldErrors, NotFound

from .models import ApiToken
from .text import clean_text_into


@transaction.atomic
def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it with the raw value (shown only this once)."""
    errors = FieldErrors()
    name = clean_text_into(errors, "name", ApiToken, "name", name, label="Nome do token")
    if name == "":
        errors.add("name", "name_required", "Informe um nome para o token (ex.: erp, cli).")
    errors.raise_if_any()
    return ApiToken.issue(user=user, name=name)


@transaction.atomic
def api_token_revoke(*, user, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s tokens; from then on it authenticates nothing."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
    if token is None or token.revoked_at is not None:
        raise NotFound("Token de API", "token_not_found")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token
