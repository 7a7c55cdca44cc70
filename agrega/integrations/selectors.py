"""Reads for SVA integrations and the platforms Agrega has connectors for.

Nothing here returns a credential value: only whether credentials are set and which
fields they hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BooleanField, Case, QuerySet, Value, When
from django.utils import timezone

from .connectors.base import CredentialField
from .connectors.registry import PLATFORMS, connector_class, platform_choices
from .models import SvaIntegration


@dataclass(frozen=True)
class Platform:
    """A connector's declaration, as forms, the API, the CLI and the docs show it."""

    platform: str
    label: str
    credential_fields: tuple[CredentialField, ...]
    needs_prefix: bool
    capabilities: tuple[str, ...]


def platform_list() -> list[Platform]:
    """Every registered platform with what its integrations need and what it can do."""
    return [platform_get(platform) for platform in PLATFORMS]


def platform_get(platform: str) -> Platform:
    """One platform's declaration; LookupError when no connector serves it."""
    cls = connector_class(platform)
    return Platform(platform, cls.label, tuple(cls.credential_fields), bool(cls.needs_prefix),
                    tuple(sorted(c.value for c in cls.capabilities)))


def integration_list(
    *, platform: str | None = None, active: bool | None = None, q: str | None = None
) -> QuerySet[SvaIntegration]:
    """The list as ``IntegrationFilterSet`` (integrations/filtersets.py) filters it, values already valid."""
    from .filtersets import IntegrationFilterSet

    return IntegrationFilterSet.filtered({"platform": platform or None, "active": active,
                                          "q": (q or "").strip() or None})


def integration_get(pk: int) -> SvaIntegration | None:
    return SvaIntegration.objects.filter(pk=pk).first()


def integration_credential_names(integration: SvaIntegration) -> list[str]:
    """Names of the credentials stored for the integration (never their values).

    The services store the platform's required credential fields, all filled, and the
    optional ones given; the names come from the connector's declaration.
    """
    if not integration.credentials_encrypted:
        return []
    try:
        fields = connector_class(integration.platform).credential_fields
        if all(f.required for f in fields):
            return sorted(f.name for f in fields)
        stored = integration.credentials  # optional fields may be unset: decrypt to tell
        return sorted(f.name for f in fields if f.required or stored.get(f.name))
    except LookupError:  # a platform whose connector is no longer installed
        return []


def with_circuit_state(queryset: QuerySet[SvaIntegration]) -> QuerySet[SvaIntegration]:
    """Adds ``circuit_open`` (the breaker holds calls back right now)."""
    return queryset.annotate(
        circuit_open=Case(
            When(circuit_open_until__gt=timezone.now(), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def platform_labels() -> dict[str, str]:
    """Platform code -> its label, for lists that show many integrations."""
    return dict(platform_choices())
