"""A1 certificates issued by the session sandbox's CA, one emitter per test module."""

from __future__ import annotations

import pytest

from agrega.fiscal.sefaz.client import SefazClient
from sefaz_sandbox.pki import make_a1

CNPJ = "11222333000181"
RAZAO = "PROVEDOR TESTE LTDA"
PASSWORD = "senha-do-a1"


@pytest.fixture(scope="session")
def a1(sefaz_sandbox) -> bytes:
    return make_a1(cnpj=CNPJ, razao=RAZAO, password=PASSWORD, ca=sefaz_sandbox.ca)


@pytest.fixture
def client(sefaz_sandbox, sefaz_admin, a1):
    with SefazClient(url=sefaz_sandbox.url, pkcs12=a1, password=PASSWORD, timeout=3.0,
                     ca_bundle=sefaz_sandbox.ca_path) as sefaz:
        yield sefaz
