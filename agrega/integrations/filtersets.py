"""The SVA integrations list's filters, declared once for the page (Integrações SVA), the
API (``GET /api/integrations``) and the CLI (``agrega integration list``): see
core/filtersets.py. The product form's integration lupa searches with the same ``q``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q, QuerySet

from agrega.core.filtersets import BOOL, CHOICE, Filter, FilterSet

from .connectors.registry import platform_choices
from .models import SvaIntegration

# The platforms with a connector, as a closed set: an unknown one is refused, never an empty list.
PlatformChoices = models.TextChoices(
    "PlatformChoices", [(code.upper(), (code, label)) for code, label in platform_choices()])


class IntegrationFilterSet(FilterSet):
    filters = (
        Filter("q", "Nome ou prefixo", method="search", max_length=100, metavar="TEXTO", option="--search",
               input_type="search", placeholder="Nome ou prefixo"),
        Filter("platform", "Plataforma", CHOICE, choices=PlatformChoices, normalize=lambda t: t.strip().lower(),
               coded=False, all_label="Todas", metavar="PLATAFORMA"),
        Filter("active", "Ativa", BOOL, yes_no=("Só ativas", "Só inativas")),
    )
    invalid_message = "Filtros de integrações SVA inválidos."

    def base(self) -> QuerySet[SvaIntegration]:
        return SvaIntegration.objects.order_by("id")

    def search(self, queryset: QuerySet[SvaIntegration], text: str) -> QuerySet[SvaIntegration]:
        """A piece of the name or of the prefix, ignoring case."""
        return queryset.filter(Q(name__icontains=text) | Q(prefix__icontains=text))
