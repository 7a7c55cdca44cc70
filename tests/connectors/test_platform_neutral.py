"""Nothing outside a connector's own package knows which platform it is: no module,
template or command of Agrega names a platform (its label) or imports a connector's
package — only the registry's line does. And the CLI runs any connector's sandbox by
the registry (``agrega <platform>-sandbox``), not by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agrega.integrations.connectors.registry import PLATFORMS, connector_class, sandbox_kit_module, sandbox_platforms

AGREGA = Path(__file__).resolve().parents[2] / "agrega"
CONNECTORS = AGREGA / "integrations" / "connectors"
REGISTRY = CONNECTORS / "registry.py"


def _outside_connector_packages():
    packages = [CONNECTORS / platform for platform in PLATFORMS]
    for path in sorted(AGREGA.rglob("*")):
        if path.suffix not in {".py", ".html", ".txt", ".js"} or path == REGISTRY:
            continue
        if any(package in path.parents for package in packages):
            continue
        yield path


# the top-level package of each platform's sandbox server (e.g. the one ``agrega demo`` runs)
SANDBOX_PACKAGES = {platform: sandbox_kit_module(platform).SERVER_MAIN.split(".")[0] for platform in sandbox_platforms()}


def _leaks(text: str) -> list[str]:
    found = []
    for platform in PLATFORMS:
        label = connector_class(platform).label
        if re.search(rf"(?<![^\W_]){re.escape(label)}(?![^\W_])", text, re.IGNORECASE):
            found.append(f"names {label!r}")
        if re.search(rf"\bconnectors[./]{re.escape(platform)}\b", text):
            found.append(f"imports the {platform!r} connector's package")
        package = SANDBOX_PACKAGES.get(platform)
        if package and re.search(rf"\b{re.escape(package)}\b", text):
            found.append(f"runs the {platform!r} sandbox ({package})")
    return found


def test_the_check_sees_a_platform_named():
    label = connector_class(PLATFORMS and next(iter(PLATFORMS))).label
    assert _leaks(f'help = "cria o usuário na {label}"') and _leaks(
        f"from agrega.integrations.connectors.{next(iter(PLATFORMS))}.client import X")
    assert _leaks(f"agrega {label.lower()}-sandbox --port 8765")  # the CLI once named its sandbox
    assert _leaks("a plataforma do contrato") == []


def test_no_platform_is_named_outside_its_connector_package():
    found = [f"{path.relative_to(AGREGA.parent)}: {leak}" for path in _outside_connector_packages()
             for leak in _leaks(path.read_text(encoding="utf-8", errors="replace"))]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("platform", sandbox_platforms())
def test_the_cli_finds_each_sandbox_through_the_registry(platform):
    from agrega.cli import _platform_sandbox

    assert callable(_platform_sandbox(platform))


def test_the_cli_knows_no_sandbox_of_an_unknown_platform():
    from agrega.cli import _platform_sandbox

    assert _platform_sandbox("nenhuma") is None
