"""Reads for API tokens (never the hash, never the raw value)."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ApiToken


def api_token_list(*, user, include_revoked: bool = False) -> QuerySet[ApiToken]:
    qs = ApiToken.objects.filter(user=user)
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs.order_by("id")


def user_list(*, include_inactive: bool = True, role: str | None = None, q: str | None = None):
    """The users for user administration (with their groups), filtered as ``UserFilterSet``
    (core/users_filtersets.py) filters the page, the API and the CLI; values already valid."""
    from .users_filtersets import UserFilterSet

    return UserFilterSet.filtered({"q": (q or "").strip() or None, "role": role,
                                   "active": None if include_inactive else True})


def user_role_of(user):
    """The user's role whether active or not (``roles.user_role`` says None for inactive)."""
    from .roles import _ORDER, Role

    if user.is_superuser:
        return Role.ADMIN
    names = {g.name for g in user.groups.all()}
    return next((r for r in _ORDER if r.value in names), None)


def user_tokens(*, user_id: int, include_revoked: bool = True) -> QuerySet[ApiToken]:
    qs = ApiToken.objects.filter(user_id=user_id)
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs.order_by("id")
