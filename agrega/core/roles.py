"""Roles: administrador (everything), operador (customers, contracts, SVA users; no
integration credentials or configuration), somente leitura (sees, never acts).

A role is a Django group of that name; superusers are administrators. Pages and API
endpoints ask ``has_capability(user, CAP)`` — one table, so both obey the same rules.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    ADMIN = "administrador", "Administrador"
    OPERATOR = "operador", "Operador"
    READONLY = "somente leitura", "Somente leitura"


class Capability(models.TextChoices):
    VIEW = "view", "consultar"
    OPERATE = "operate", "operar clientes, contratos e usuários SVA"
    CONFIGURE = "configure", "configurar integrações e produtos"


CAPABILITIES: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset({Capability.VIEW, Capability.OPERATE, Capability.CONFIGURE}),
    Role.OPERATOR: frozenset({Capability.VIEW, Capability.OPERATE}),
    Role.READONLY: frozenset({Capability.VIEW}),
}
# Strongest first: a user in several groups gets the strongest role.
_ORDER = (Role.ADMIN, Role.OPERATOR, Role.READONLY)


def user_role(user) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    cached = getattr(user, "_agrega_role", False)
    if cached is not False:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = next((r for r in _ORDER if r.value in names), None)
    user._agrega_role = role
    return role


def has_capability(user, capability: str) -> bool:
    role = user_role(user)
    return role is not None and capability in CAPABILITIES[role]


def assign_role(user, role: str) -> None:
    """Make ``role`` the user's only role."""
    from django.contrib.auth.models import Group

    if role not in Role.values:
        raise ValueError(f"papel desconhecido: {role}")
    user.groups.remove(*Group.objects.filter(name__in=Role.values))
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    user.__dict__.pop("_agrega_role", None)
