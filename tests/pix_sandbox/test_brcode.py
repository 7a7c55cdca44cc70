"""The copia-e-cola the sandbox emits parses back with an independent decoder.

No maintained BR Code parser is on PyPI (the ones there are unmaintained since 2020-2022
or pre-alpha and static-only), so the decoder is the smallest one the EMV QRCPS-MPM
spec allows: TLV (2-digit ID, 2-digit length) with the CRC checked by the standard
library's ``binascii.crc_hqx`` (CRC-16/CCITT, init 0xFFFF) — not by the sandbox's code.
"""

from __future__ import annotations

import binascii
import uuid

import pytest

from pix_sandbox import brcode

from .conftest import call
from .test_cobv_pix import cobv_body

# the example of the Manual de Padrões para Iniciação do Pix (BCB), with its own CRC
MANUAL_EXAMPLE = ("00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
                  "5913Fulano de Tal6008BRASILIA62070503***63041D3D")


def tlv(text: str) -> dict[str, str]:
    fields, i = {}, 0
    while i < len(text):
        tag, length = text[i:i + 2], int(text[i + 2:i + 4])
        value = text[i + 4:i + 4 + length]
        assert len(value) == length, f"field {tag} truncated"
        assert tag not in fields, f"field {tag} repeated"
        fields[tag] = value
        i += 4 + length
    return fields


def decode(payload: str) -> dict[str, object]:
    assert payload[-8:-4] == "6304", "the CRC field must be last"
    crc = "%04X" % binascii.crc_hqx(payload[:-4].encode("utf-8"), 0xFFFF)
    assert payload[-4:] == crc, f"CRC {payload[-4:]} != {crc}"
    fields = tlv(payload)
    assert list(fields)[0] == "00" and fields["00"] == "01"
    decoded: dict[str, object] = dict(fields)
    for tag in ("26", "62"):
        if tag in fields:
            decoded[tag] = tlv(fields[tag])
    return decoded


def test_the_decoder_reads_the_manual_example():
    fields = decode(MANUAL_EXAMPLE)
    assert fields["26"] == {"00": "br.gov.bcb.pix", "01": "123e4567-e12b-12d1-a456-426655440000"}
    assert fields["59"] == "Fulano de Tal" and fields["62"] == {"05": "***"}
    with pytest.raises(AssertionError):
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
