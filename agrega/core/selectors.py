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
    """The users for user administration, each with ``role_names`` (their role groups)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from .roles import Role

    qs = get_user_model().objects.prefetch_related("groups")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if q:
        q = q.strip()
        qs = qs.filter(Q(username__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
                       | Q(email__icontains=q))
    if role:
        if role == Role.ADMIN:
            qs = qs.filter(Q(is_superuser=True) | Q(groups__name=role)).distinct()
        else:
            admins = get_user_model().groups.through.objects.filter(group__name=Role.ADMIN).values("user_id")
            qs = qs.filter(groups__name=role, is_superuser=False).exclude(pk__in=admins).distinct()
    return qs.order_by("id")


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
