"""Shared fixtures.

``exa_sandbox`` is one real sandbox process for the whole session (a free port, real
HTTP); tests stay apart by each using its own partner prefix, so nothing is reset
between them. ``sandbox_admin`` drives it and clears the fault switches after each test.
"""

from __future__ import annotations

import pytest

from exa_sandbox.testing import SandboxAdmin, SandboxProcess


@pytest.fixture(scope="session")
def exa_sandbox():
    with SandboxProcess() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox_admin(exa_sandbox):
    with SandboxAdmin(exa_sandbox.url) as admin:
        yield admin
        admin.clear_faults()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create and log in many users; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
