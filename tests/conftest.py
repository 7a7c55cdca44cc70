"""Shared fixtures.

``exa_sandbox`` is one real sandbox process for the whole session (a free port, real
HTTP); tests stay apart by each using its own partner prefix, so nothing is reset
between them. ``sandbox_admin`` drives it and clears the fault switches after each test.
"""

from __future__ import annotations

import os

import pytest

from exa_sandbox.testing import SandboxAdmin

# The EXA, SEFAZ and PSP sandboxes (tests/sefaz_fixtures.py, tests/pix_fixtures.py) listen on
# 127.0.0.1, which the egress policy refuses by default
# (agrega/core/egress.py). The tests allow it explicitly, in-process (fixture below) and
# in the processes they start (workers, fault harness) — the production default stays
# strict, and tests/security/test_egress.py proves it with the allow list emptied.
SANDBOX_EGRESS_ALLOW = "127.0.0.1/32"
os.environ["AGREGA_EGRESS_ALLOW"] = SANDBOX_EGRESS_ALLOW


class Sandboxes:
    """The sandbox of every connector that ships one (its ``sandbox`` test kit, declared by
    the connector), each started on first use and stopped at the end of the session."""

    def __init__(self):
        self.kits = {}

    def get(self, platform: str):
        kit = self.kits.get(platform)
        if kit is None:
            from importlib import import_module

            from agrega.integrations.connectors.registry import connector_class

            kit = import_module(connector_class(platform).sandbox).SandboxKit().start()
            self.kits[platform] = kit
        return kit

    def stop(self):
        for kit in self.kits.values():
            kit.stop()


def _flush_without_post_migrate():
    """After each transactional test Django flushes the database and then re-creates every
    content type and permission (the post_migrate signal): ~50 ms of CPU and a write per
    model, hundreds of times a run. Agrega reads neither (roles are groups by name:
    core/roles.py), so the flush skips that step; the content-type cache, whose ids the
    flush made stale, is cleared instead."""
    from django.test import testcases

    call_command = testcases.call_command

    def flush_or_call(name, *args, **options):
        if name != "flush":
            return call_command(name, *args, **options)
        from django.contrib.contenttypes.models import ContentType

        result = call_command(name, *args, **{**options, "inhibit_post_migrate": True})
        ContentType.objects.clear_cache()
        return result

    testcases.call_command = flush_or_call


_flush_without_post_migrate()


@pytest.fixture(scope="session")
def sandboxes():
    pool = Sandboxes()
    yield pool
    pool.stop()


@pytest.fixture(scope="session")
def exa_sandbox(sandboxes):
    """The EXA sandbox process (tests written for EXA's own behaviour)."""
    return sandboxes.get("exa").process


@pytest.fixture
def sandbox_admin(exa_sandbox):
    with SandboxAdmin(exa_sandbox.url) as admin:
        yield admin
        admin.clear_faults()


@pytest.fixture
def run_tasks():
    """Run the background tasks queued so far, in the test's process and transaction (what
    `agrega worker`'s task process does; agrega/core/tasks.py); returns how many ran."""
    from agrega.core.tasks import run_ready_tasks

    return run_ready_tasks


@pytest.fixture(autouse=True)
def _sandbox_egress_allowed(settings):
    settings.AGREGA_EGRESS_ALLOW = [SANDBOX_EGRESS_ALLOW]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create and log in many users; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_first_due_notice(settings):
    """Most tests bill past months and expect those months' due dates; the minimum notice
    of a first or late título is off here and tested on its own (tests/billing/test_billing_edges.py)."""
    settings.BILLING_FIRST_DUE_MIN_DAYS = 0


@pytest.fixture(autouse=True)
def _pending_users_are_queued(request):
    """After every test that used the database: each SVA user ahead of its platform
    (version > synced_version) has its row in the worker's queue (sva/pending.py). A
    write path that forgets the queue leaves a user the worker never claims; this
    catches it where it happens, not where a worker's repair would hide it."""
    yield
    if request.node.get_closest_marker("queue_out_of_step"):
        return
    if not {"db", "transactional_db", "django_db_setup"} & set(request.fixturenames):
        return
    from django.db.models import F

    from agrega.sva.models import SvaUser

    try:
        missing = list(SvaUser.objects.filter(version__gt=F("synced_version"), pending_work__isnull=True)
                       .values_list("pk", flat=True)[:10])
    except Exception:  # the test left no usable database (dropped, closed): nothing to check
        return
    assert not missing, f"usuários SVA pendentes fora da fila do worker: {missing}"
