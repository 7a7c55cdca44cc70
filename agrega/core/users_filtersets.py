"""The operator users list's filters, declared once for the page (Configurações >
Usuários), the API (``GET /api/users``) and the CLI (``agrega user list``): see
core/filtersets.py."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from .filtersets import BOOL, CHOICE, Filter, FilterSet
from .roles import Role

# Short names the CLI always took (no quotes needed); the page and the API take them too.
ROLE_ALIASES = {"admin": Role.ADMIN, "leitura": Role.READONLY, "somente-leitura": Role.READONLY}


def normalize_role(text: str) -> str:
    """A role typed any way: " Operador " is operador, admin is administrador, leitura is somente leitura."""
    normal = text.strip().lower()
    return str(ROLE_ALIASES.get(normal, normal))


class UserFilterSet(FilterSet):
    filters = (
        Filter("q", "Usuário, nome ou e-mail", method="search", max_length=150, metavar="TEXTO",
               option="--search", input_type="search", placeholder="Buscar por usuário, nome ou e-mail"),
        Filter("role", "Papel", CHOICE, choices=Role, normalize=normalize_role, method="by_role", coded=False,
               all_label="Todos os papéis", metavar="PAPEL"),
        # absent: everyone; the CLI's --active-only (as before) is active=sim
        Filter("active", "Ativo", BOOL, lookup="is_active", option="--active-only",
               yes_no=("Só ativos", "Só desativados")),
    )
    invalid_message = "Filtros de usuários inválidos."

    def base(self) -> QuerySet:
        return get_user_model().objects.prefetch_related("groups").order_by("id")

    def search(self, queryset: QuerySet, text: str) -> QuerySet:
        """A piece of the login, the name or the e-mail, ignoring case."""
        return queryset.filter(Q(username__icontains=text) | Q(first_name__icontains=text)
                               | Q(last_name__icontains=text) | Q(email__icontains=text))

    def by_role(self, queryset: QuerySet, role: str) -> QuerySet:
        """A superuser is an administrador; an administrador is only that (the highest role wins)."""
        if role == Role.ADMIN:
            return queryset.filter(Q(is_superuser=True) | Q(groups__name=role)).distinct()
        admins = get_user_model().groups.through.objects.filter(group__name=Role.ADMIN).values("user_id")
        return queryset.filter(groups__name=role, is_superuser=False).exclude(pk__in=admins).distinct()
