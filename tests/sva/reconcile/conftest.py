"""Reconciliation against the real sandbox of the default platform (each module here
pins it with ``default_platform_only``).

``platform`` is the connector of the integration, reached with its own credentials: the
tests use it the way someone using the platform's own panel would change users behind
Agrega's back (delete, block, edit, create under our prefix).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import uuid

import pytest

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.core.br import make_cpf
from agrega.integrations.connectors.base import RemoteStatus, UserSpec
from agrega.integrations.services import connector_for
from agrega.sva.models import SvaPendingWork, SvaUser
from tests.faults.harness import database_url
from tests.fixtures import default_packages

_n = itertools.count(1)
PACKAGES = default_packages()


@pytest.fixture
def platform(platform_integration):
    connector = connector_for(platform_integration)
    yield connector
    connector.close()


def spec(external_id: str | None = None, *, status: RemoteStatus = RemoteStatus.ACTIVE, **kw) -> UserSpec:
    """A user as someone would type it in the platform's panel."""
    n = next(_n) + int(time.time()) % 100000 * 100
    data = dict(
        external_id=external_id or "painel-" + uuid.uuid4().hex[:12],
        name=f"Pessoa {n}", email=f"pessoa{n}-{uuid.uuid4().hex[:6]}@example.com.br",
        phone="+55119" + f"{n % 100000000:08d}", document=make_cpf(n + 7000000),
        package_code=PACKAGES[0], status=status,
    )
    data.update(kw)
    return UserSpec(**data)


@pytest.fixture
def synced_users(platform_integration, make_product, make_contract, converge):
    """``n`` active contracts with one SVA user each, converged on the platform."""

    def make(n: int, package: str = PACKAGES[0]) -> list[SvaUser]:
        product = make_product(platform_integration, package=package)
        for _ in range(n):
            contract = make_contract()
            contract_add_product(contract=contract, product_id=product.pk)
            contract_transition(contract=contract, action="activate")
        converge()
        users = list(SvaUser.objects.filter(integration=platform_integration).order_by("id"))
        assert all(u.confirmed_state == "active" for u in users)
        return users

    return make


def agrega_process(*args: str, **env) -> subprocess.Popen:
    """A real ``agrega`` command on this test's database (stdout and stderr kept apart)."""
    agrega = os.path.join(os.path.dirname(sys.executable), "agrega")
    return subprocess.Popen([agrega, *args], env={**os.environ, "DATABASE_URL": database_url(), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def wait_until(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pending_count() -> int:
    return SvaPendingWork.objects.count()
