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
    platform: str
    label: str
    credential_fields: tuple[CredentialField, ...]


def platform_list() -> list[Platform]:
    """Every registered platform with the credential fields its integrations need."""
    result = []
    for platform in PLATFORMS:
        cls = connector_class(platform)
        result.append(Platform(platform, cls.label, tuple(cls.credential_fields)))
    return result


def integration_list(
    *, platform: str | None = None, active: bool | None = None
) -> QuerySet[SvaIntegration]:
    qs = SvaIntegration.objects.all()
    if platform:
        qs = qs.filter(platform=platform)
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("id")


def integration_get(pk: int) -> SvaIntegration | None:
    return SvaIntegration.objects.filter(pk=pk).first()


def integration_credential_names(integration: SvaIntegration) -> list[str]:
    """Names of the credentials stored for the integration (never their values).

    The services store exactly the platform's credential fields, all filled, so the
    names come from the connector and nothing is decrypted to answer a read.
    """
    if not integration.credentials_encrypted:
        return []
    try:
        return sorted(f.name for f in connector_class(integration.platform).credential_fields)
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
