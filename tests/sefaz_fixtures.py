"""The SEFAZ sandbox for the whole session: one real process on a free port, with its
own test CA. ``sefaz_sandbox`` yields the SandboxProcess (``.url``, ``.ca_path``, ``.ca``
to issue A1 certificates it accepts, ``.admin`` for faults and what it stored);
``sefaz_admin`` is its admin client, with the fault switches cleared after each test."""

from __future__ import annotations

import pytest

from sefaz_sandbox.testing import SandboxProcess


@pytest.fixture(scope="session")
def sefaz_sandbox():
    with SandboxProcess() as sandbox:
        yield sandbox


@pytest.fixture
def sefaz_admin(sefaz_sandbox):
    yield sefaz_sandbox.admin
    sefaz_sandbox.admin.clear_faults()
