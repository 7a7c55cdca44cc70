"""The copia-e-cola the sandbox emits parses back with an independent decoder: Stark
Bank's BR Code parser (``starkbank-brcode``; no release since 2022 — no maintained BR Code
parser is on PyPI), with the CRC16 also checked by the standard library's
``binascii.crc_hqx`` (tests/pix/brcode_check.py). What Agrega shows of it (pages, API,
CLI, e-mails, QR images included) is read back in tests/pix/test_brcode_shown.py and
test_notice.py.
"""

from __future__ import annotations

import uuid

import pytest

from pix_sandbox import brcode
from tests.pix.brcode_check import parse_brcode

from .conftest import call
from .test_cobv_pix import cobv_body

# the example of the Manual de Padrões para Iniciação do Pix (BCB), with its own CRC
MANUAL_EXAMPLE = ("00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
                  "5913Fulano de Tal6008BRASILIA62070503***63041D3D")


def decode(payload: str) -> dict:
    fields = parse_brcode(payload)
    assert list(fields)[0] == "00" and fields["00"] == "01"
    return fields


def test_the_decoder_reads_the_manual_example():
    fields = decode(MANUAL_EXAMPLE)
    assert fields["26"] == {"00": "br.gov.bcb.pix", "01": "123e4567-e12b-12d1-a456-426655440000"}
    assert fields["59"] == "Fulano de Tal" and fields["62"] == {"05": "***"}
    with pytest.raises(ValueError, match="CRC16"):
        decode(MANUAL_EXAMPLE[:-1] + "E")  # one wrong CRC digit


def test_the_sandbox_cobv_payload_decodes(pix_sandbox, pix_spec):
    account = pix_sandbox.new_account(nome="Provedor Ação & Cia", cidade="São José dos Campos")
    with account.client() as api:
        created = call(api, "PUT", f"/cobv/{uuid.uuid4().hex}", cobv_body(account.chave)).json()
    fields = decode(created["pixCopiaECola"])
    assert fields["01"] == "12"  # dynamic, single use
    assert fields["26"] == {"00": "br.gov.bcb.pix", "25": created["loc"]["location"]}
    assert fields["52"] == "0000" and fields["53"] == "986" and fields["58"] == "BR"
    assert "54" not in fields  # the amount of a cobv depends on the day: it is in the payload
    assert fields["59"] == "PROVEDOR ACAO & CIA" and fields["60"] == "SAO JOSE DOS CA"
    assert fields["62"] == {"05": "***"}


def test_the_sandbox_cob_payload_carries_the_amount(pix_sandbox, pix_spec):
    account = pix_sandbox.new_account()
    with account.client() as api:
        created = call(api, "POST", "/cob", {"calendario": {"expiracao": 600}, "valor": {"original": "12.34"},
                                             "chave": account.chave}).json()
    assert decode(created["pixCopiaECola"])["54"] == "12.34"


@pytest.mark.parametrize("name", ["A", "Ñandú Telecomunicações Ltda — filial", "x" * 80])
def test_names_are_ascii_and_bounded(name):
    payload = brcode.dynamic_payload(location="pix.example.com/qr/v2/cobv/" + "a" * 32,
                                     merchant_name=name, merchant_city="Brasília",
                                     amount=None)
    fields = decode(payload)
    assert fields["59"].isascii() and 1 <= len(fields["59"]) <= 25
    assert fields["60"] == "BRASILIA"
