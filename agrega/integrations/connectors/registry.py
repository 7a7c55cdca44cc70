"""Which connector serves which platform, by dotted path (imported only when needed).

Adding a platform is one line here plus its connector package and contract tests.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from .base import CallRecorder, Connector, IntegrationConfig

PLATFORMS: dict[str, str] = {
    "exa": "agrega.integrations.connectors.exa.connector.ExaConnector",
}


@cache
def connector_class(platform: str) -> type:
    """The connector class for ``platform``; LookupError when no connector serves it."""
    try:
        dotted = PLATFORMS[platform]
    except KeyError:
        raise LookupError(f"no connector for platform {platform!r}") from None
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def platform_choices() -> list[tuple[str, str]]:
    """(value, label) pairs for a form or an API enum, e.g. [("exa", "EXA")]."""
    return [(platform, connector_class(platform).label) for platform in PLATFORMS]


def build_connector(
    platform: str, config: IntegrationConfig, recorder: CallRecorder | None = None
) -> Connector:
    return connector_class(platform)(config, recorder=recorder)


def platform_allows(platform: str, capability: str) -> bool:
    """A connector's declared capability (``one_account_per_customer``,
    ``can_change_package``: connectors/base.py); False for an unknown platform."""
    try:
        return bool(getattr(connector_class(platform), capability, False))
    except LookupError:
        return False
