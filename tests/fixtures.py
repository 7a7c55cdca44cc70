"""Fixtures for tests that drive Agrega against a real platform sandbox over HTTP.

Platform-neutral: ``sva_platform`` is parametrised over the connectors that ship a sandbox
(``registry.sandbox_platforms``); ``sandbox_kit``, ``platform_account``,
``platform_admin`` and ``make_platform_integration`` build an account and its
integration through the connector's own test kit, so a test never names a platform.
A module about Agrega's own rules pins the default platform (``default_platform_only``,
with ``default_packages`` for its catalogue); one about a rule that binds only some
platforms runs on those declaring it (``platforms_with``). The ``exa_*`` fixtures below
are for tests of EXA's own behaviour (its credentials, its rules, its admin UI).
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass

import pytest

from agrega.core.br import make_cpf
from agrega.integrations.connectors.registry import sandbox_platforms

_seq = itertools.count(1)


@pytest.fixture
def fast_retries(settings):
    """Short backoff and breaker timings so fault scenarios finish in seconds."""
    settings.SVA_WORKER = {
        **settings.SVA_WORKER,
        "BACKOFF_BASE_SECONDS": 0.05,
        "BACKOFF_MAX_SECONDS": 0.4,
        "CIRCUIT_OPEN_SECONDS": 0.5,
        "CIRCUIT_FAILURE_THRESHOLD": 5,
        "IDLE_POLL_SECONDS": 0.05,
        "CONCURRENCY": 8,
        # no queue repair in-process: a write path that forgets the queue must show (the
        # repair has its own tests in tests/sva/test_pending_queue.py)
        "QUEUE_REPAIR_SECONDS": 0,
    }
    return settings.SVA_WORKER


@dataclass
class ExaAccount:
    """A partner account on the sandbox plus the Agrega integration that points to it."""

    prefix: str
    client_id: str
    client_secret: str
    admin: object
    url: str
    integration: object = None

    def users(self) -> list[dict]:
        return self.admin.users(self.prefix)

    def user(self, external_id: str) -> dict | None:
        return next((u for u in self.users() if u["external_id"] == external_id), None)


PACKAGES = [
    ("EXA-SEG-BASICO", "EXA Segurança Básico"),
    ("EXA-SEG-FAMILIA", "EXA Família"),
    ("EXA-BACKUP-100", "EXA Backup 100 GB"),
]


@pytest.fixture
def exa_account(exa_sandbox, sandbox_admin):
    prefix = "isp" + uuid.uuid4().hex[:10]
    client_id, client_secret = "cid-" + prefix, "secret-" + uuid.uuid4().hex
    sandbox_admin.create_partner(prefix, client_id, client_secret, packages=PACKAGES)
    return ExaAccount(prefix, client_id, client_secret, sandbox_admin, exa_sandbox.url)


@pytest.fixture(params=sandbox_platforms())
def sva_platform(request) -> str:
    """Each platform whose connector ships a sandbox, in turn."""
    return request.param


def default_platform_only():
    """For a test module about Agrega's own behaviour: ``sva_platform = default_platform_only()``
    at module level runs its neutral-fixture tests once, on ``registry.default_platform()``,
    instead of once per platform (a platform-specific rule belongs in tests/connectors)."""
    from agrega.integrations.connectors.registry import default_platform

    @pytest.fixture
    def sva_platform() -> str:
        return default_platform()

    return sva_platform


def default_packages() -> tuple[str, ...]:
    """The package codes of the default platform's sandbox, for a module pinned to that
    platform by ``default_platform_only``: basic, family, backup (every kit lists three)."""
    from importlib import import_module

    from agrega.integrations.connectors.registry import connector_class, default_platform

    return tuple(import_module(connector_class(default_platform()).sandbox).SandboxKit.package_codes)


def sandbox_platforms_with(capability: str) -> list[str]:
    """The platforms that ship a sandbox and declare ``capability`` (``Capability`` of
    connectors/base.py): for a test of a rule that binds only them
    (``@pytest.mark.parametrize("sva_platform", sandbox_platforms_with(...))``)."""
    from agrega.integrations.connectors.registry import connector_class

    return [p for p in sandbox_platforms() if capability in connector_class(p).capabilities]


def platforms_with(capability: str):
    """``sva_platform = platforms_with(...)`` at module level: the whole module runs on each
    platform of ``sandbox_platforms_with(capability)``, and on no other."""

    @pytest.fixture(params=sandbox_platforms_with(capability))
    def sva_platform(request) -> str:
        return request.param

    return sva_platform


@pytest.fixture
def sandbox_kit(sandboxes, sva_platform):
    return sandboxes.get(sva_platform)


@pytest.fixture
def platform_admin(sandbox_kit):
    with sandbox_kit.admin() as admin:
        yield admin
        admin.clear_faults()


@pytest.fixture
def platform_account(sandbox_kit, platform_admin):
    """A fresh account on the platform's sandbox (``prefix`` scopes its faults)."""
    return sandbox_kit.new_account(platform_admin)


@pytest.fixture
def make_platform_integration(db, sva_platform, platform_account):
    from agrega.integrations.services import integration_create

    def make(*, auto_create_users: bool = True, **kw):
        data = dict(name=f"{sva_platform} {platform_account.prefix}", platform=sva_platform,
                    auto_create_users=auto_create_users, timeout_seconds=1.0,
                    **platform_account.integration_fields())
        data.update(kw)
        integration = integration_create(**data)
        platform_account.integration = integration
        return integration

    return make


@pytest.fixture
def platform_integration(make_platform_integration):
    return make_platform_integration(auto_create_users=True)


@pytest.fixture
def make_integration(db, exa_account):
    from agrega.integrations.services import integration_create

    def make(*, auto_create_users: bool = True, **kw):
        data = dict(
            name="EXA " + exa_account.prefix,
            platform="exa",
            base_url=exa_account.url,
            prefix=exa_account.prefix,
            auto_create_users=auto_create_users,
            timeout_seconds=1.0,
            credentials={"client_id": exa_account.client_id, "client_secret": exa_account.client_secret},
        )
        data.update(kw)
        integration = integration_create(**data)
        exa_account.integration = integration
        return integration

    return make


@pytest.fixture
def integration(make_integration):
    return make_integration(auto_create_users=True)


@pytest.fixture
def make_customer(db):
    from agrega.customers.services import customer_create

    def make(**kw):
        n = next(_seq) + int(time.time() * 1000) % 100000 * 1000
        data = dict(
            name=f"Cliente {n}",
            document=make_cpf(n),
            email=f"cliente{n}@example.com.br",
            mobile_phone="(11) 9" + f"{n % 100000000:08d}",
            city="São Paulo",
            state="SP",
        )
        data.update(kw)
        return customer_create(**data)

    return make


@pytest.fixture
def make_product(db, sandboxes):
    from agrega.catalog.services import product_create

    def make(integration=None, package=None, **kw):
        """A product; with an integration, of its platform's first sandbox package unless
        ``package`` is given."""
        if integration is not None and package is None:
            package = sandboxes.get(integration.platform).package_codes[0]
        data = dict(name=f"Produto {next(_seq)}", price="19.90", fiscal_class="SVA")
        if integration is not None:
            data.update(sva_integration_id=integration.pk, sva_package_code=package)
        data.update(kw)
        product, _ = product_create(**data)
        return product

    return make


@pytest.fixture
def make_contract(db, make_customer):
    from agrega.contracts.services import contract_create

    def make(customer=None, **kw):
        return contract_create(customer_id=(customer or make_customer()).pk, **kw)

    return make


@pytest.fixture
def converge(fast_retries):
    """Run the real worker in this process until every SVA user has converged (or fail)."""
    from agrega.sva.controller.worker import SvaWorker
    from agrega.sva.models import SvaPendingWork

    def run(timeout: float = 15.0, *, allow_errors: bool = False):
        deadline = time.monotonic() + timeout
        worker = SvaWorker()
        try:
            while True:
                worker.run(until_idle=True, max_seconds=max(0.1, deadline - time.monotonic()))
                pending = SvaPendingWork.objects.count()
                if pending == 0:
                    break
                if time.monotonic() > deadline:
                    if allow_errors:
                        break
                    raise AssertionError(f"{pending} SVA user(s) did not converge in {timeout}s")
                time.sleep(0.05)
        finally:
            worker.close()
        return worker.stats

    return run


@pytest.fixture
def client_as(role_user):
    """``client_as(role, username=None, raise_request_exception=True)``: Django's test client
    logged in as a new user with that role (``web-<role>`` unless named)."""
    from django.test import Client

    def make(role: str, username: str | None = None, *, raise_request_exception: bool = True):
        client = Client(raise_request_exception=raise_request_exception)
        client.force_login(role_user(username or f"web-{role.replace(' ', '-')}", role))
        return client

    return make


@pytest.fixture
def role_user(db):
    """``role_user(username, role)``: a user with one of the roles (core/roles.py)."""
    from django.contrib.auth import get_user_model

    from agrega.core.roles import assign_role

    def make(username: str, role: str):
        user = get_user_model().objects.create_user(username, f"{username}@example.com.br", "senha-de-teste-123")
        assign_role(user, role)
        return user

    return make


def bearer_headers(user) -> dict[str, str]:
    """Django test-client headers carrying a new API token of ``user``."""
    from agrega.core.models import ApiToken

    _, raw = ApiToken.issue(user=user, name="testes")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def logged_in_client(user):
    """A Django test client with ``user``'s cookie session."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client
