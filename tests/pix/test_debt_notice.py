"""The régua's debt notice e-mail carries the PIX of the contract's oldest open título
(its cobv created on the PSP sandbox by the billing run): the copia-e-cola in the text
and its QR code inline, sent by Django's SMTP backend to a real local SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agrega.contracts.services import contract_add_product
from agrega.core.money import format_brl
from agrega.dunning.models import DunningNotice
from agrega.dunning.services import dunning_sweep
from agrega.notices import jobs
from agrega.pix.models import ChargeStatus, PixCharge
from tests.notices.smtp_server import SmtpServer

from .brcode_check import decode_qr
from .backdated import activated_months_ago, billed_months_ago
from .test_notice import parts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.DEBT_NOTICE_SETTLE_SECONDS = 0  # the notice is sent at once
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
        yield server


def test_the_debt_notice_carries_the_titulo_s_pix(make_product, make_contract, pix_account, fast_pix, smtp):
    product = make_product(name="Internet", price="99.90", fiscal_class="SCM")
    contract = make_contract(billing_day=10)
    contract_add_product(contract=contract, product_id=product.pk)
    activated_months_ago(contract)
    invoice = billed_months_ago(contract)
    charge = PixCharge.objects.get(invoice=invoice)
    assert charge.status == ChargeStatus.ACTIVE, charge.last_error
    dunning_sweep(today=invoice.due_date + timedelta(days=3))  # the notice stage only

    assert jobs.run()["sending"]["sent"] == 1
    assert jobs.run()["sending"]["sent"] == 0
    (received,) = (m["message"] for m in smtp.messages)
    assert received["Subject"] == f"Aviso de débito do contrato {contract.pk}"
    found = parts(received)
    text = found["text/plain"][0].get_content()
    assert (f"o valor de {format_brl(invoice.amount)}, com o vencimento mais antigo em "
            f"{invoice.due_date:%d/%m/%Y}") in text
    assert charge.pix_copia_e_cola in text and "Pague com PIX" in text
    assert decode_qr(found["image/png"][0].get_content()) == charge.pix_copia_e_cola
    assert DunningNotice.objects.get(contract=contract).sent_at is not None
