"""The customer notice e-mail carries the PIX copia e cola of the contract's oldest open
título (the blocked notice offers it, so paying releases access at once)."""

import pytest

from agrega.notices.rendering import DEFAULTS
from agrega.notices.selectors import contract_open_pix
from agrega.notices.models import NoticeEvent
from agrega.notices.rendering import render
from agrega.pix.models import ChargeStatus, PixCharge
from agrega.pix.services import account_create, txid_for

pytestmark = pytest.mark.django_db


def test_blocked_notice_offers_the_copia_e_cola(billed):
    contract, invoice = billed()
    assert contract_open_pix(contract.pk) == ""
    account = account_create(name="PSP", base_url="https://psp.example/api", client_id="c", client_secret="s",
                             chave="k")
    PixCharge.objects.create(invoice=invoice, account=account, txid=txid_for(invoice.pk), status=ChargeStatus.ACTIVE,
                             pix_copia_e_cola="000201COPIAECOLA6304ABCD")
    assert contract_open_pix(contract.pk) == "000201COPIAECOLA6304ABCD"
    subject, body = DEFAULTS[NoticeEvent.BLOCKED]
    text = render(body, {"cliente": "Maria", "contrato": str(contract.pk), "produto": "EXA", "plataforma": "EXA",
                         "pix_copia_e_cola": contract_open_pix(contract.pk)})
    assert "000201COPIAECOLA6304ABCD" in text
    PixCharge.objects.filter(invoice=invoice).update(status=ChargeStatus.PAID)
    assert contract_open_pix(contract.pk) == ""
