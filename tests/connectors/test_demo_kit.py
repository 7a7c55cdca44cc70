"""``agrega demo`` and ``seed_demo`` name no platform: they take the default platform's
``DemoKit`` (registry.demo_kit) to run its sandbox, open the demo's account and read its
users back. Run here against a sandbox of its own (the demo resets it)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.core.management import call_command

from agrega.integrations.connectors.registry import connector_class, default_platform, demo_kit, sandbox_kit_module


@pytest.fixture
def demo_sandbox():
    kit = sandbox_kit_module(default_platform()).SandboxKit().start()
    yield kit
    kit.stop()


def test_the_demo_kit_runs_the_default_platforms_sandbox(tmp_path):
    """``server_args`` is a command line ``python -m`` accepts (``--help`` answers)."""
    kit = demo_kit()
    args = kit.server_args("127.0.0.1", 0, str(tmp_path / "data.json"))
    assert "--port" in args and str(tmp_path / "data.json") in args
    done = subprocess.run([sys.executable, "-m", args[0], "--help"], capture_output=True, timeout=30)
    assert done.returncode == 0 and b"--port" in done.stdout


def test_seed_demo_builds_the_integration_from_the_declaration_and_converges(
        transactional_db, demo_sandbox, converge):
    from agrega.cli import _check_demo_converged
    from agrega.integrations.models import SvaIntegration
    from agrega.sva.models import SvaUser

    platform, kit = default_platform(), demo_kit()
    call_command("seed_demo", sandbox_url=demo_sandbox.url, stdout=io.StringIO())
    integration = SvaIntegration.objects.get()
    assert (integration.platform, integration.name) == (platform, connector_class(platform).label)
    from agrega.contracts.models import Contract

    for contract in Contract.objects.select_related("customer"):  # entered before they started (backdated)
        assert contract.customer.created_at <= contract.created_at
        assert contract.activated_at is None or contract.created_at <= contract.activated_at, contract.pk
    assert set(integration.products.values_list("sva_package_code", flat=True)) == {
        p["code"] for p in kit.packages}
    converge(timeout=30, allow_errors=True)
    remote = kit.remote_statuses(demo_sandbox.url)
    assert remote and set(remote) <= set(SvaUser.objects.values_list("external_id", flat=True))
    assert _check_demo_converged(demo_sandbox.url, kit, connector_class(platform).label, seconds=5)
    call_command("seed_demo", sandbox_url=demo_sandbox.url, stdout=io.StringIO())  # safe to run again
    assert SvaIntegration.objects.count() == 1
