"""Which connector serves which platform, by dotted path (imported only when needed).

Adding a platform is one line here plus its connector package and contract tests. The
rest of Agrega asks the connector's declaration (connectors/base.py: credential fields,
prefix, capabilities, data rules, sandbox), never which platform it is.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from .base import CallRecorder, Capability, Connector, IntegrationConfig

PLATFORMS: dict[str, str] = {
    "exa": "agrega.integrations.connectors.exa.connector.ExaConnector",
    "webhook": "agrega.integrations.connectors.webhook.connector.WebhookConnector",
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
    """A connector's declared capability (a ``Capability`` value, e.g.
    ``"one_account_per_customer"``, ``"list_users"``; ``"can_change_package"`` is the
    older name of ``change_package_in_place``); False for an unknown platform."""
    try:
        cls = connector_class(platform)
    except LookupError:
        return False
    if capability == "can_change_package":
        capability = Capability.CHANGE_PACKAGE_IN_PLACE.value
    return capability in {c.value for c in getattr(cls, "capabilities", ())}


def default_platform() -> str:
    """The platform a new integration starts on (the first registered)."""
    return next(iter(PLATFORMS))


def sandbox_platforms() -> list[str]:
    """Platforms whose connector ships a sandbox (a test kit, ``Connector.sandbox``): the
    contract suite and the fault harness run against each of them."""
    return [p for p in PLATFORMS if getattr(connector_class(p), "sandbox", "")]


def sandbox_kit_module(platform: str):
    """The module of ``platform``'s sandbox kit (``Connector.sandbox``); LookupError when
    its connector ships none. Tests take ``SandboxKit`` from it, the demo ``DemoKit``."""
    dotted = getattr(connector_class(platform), "sandbox", "")
    if not dotted:
        raise LookupError(f"the {platform!r} connector ships no sandbox")
    return import_module(dotted)


def sandbox_server_main(platform: str):
    """The ``main(argv)`` that runs ``platform``'s sandbox server (its kit's
    ``SERVER_MAIN``, "module:function"): ``agrega <platform>-sandbox``. LookupError when
    the platform is unknown or its connector ships no sandbox server."""
    if platform not in PLATFORMS:
        raise LookupError(f"unknown platform {platform!r}")
    dotted = getattr(sandbox_kit_module(platform), "SERVER_MAIN", "")
    if not dotted:
        raise LookupError(f"the {platform!r} sandbox kit names no server")
    module, _, name = dotted.partition(":")
    return getattr(import_module(module), name)


def demo_kit(platform: str | None = None):
    """The ``DemoKit`` of ``platform`` (default: ``default_platform()``): how ``agrega
    demo`` runs its sandbox and opens the demo's account; LookupError when it has none."""
    module = sandbox_kit_module(platform or default_platform())
    try:
        return module.DemoKit
    except AttributeError:
        raise LookupError(f"the {platform!r} sandbox kit has no DemoKit") from None
