"""The customer's blocked notice carries the PIX of the contract's oldest open título:
its copia-e-cola in the text and the HTML parts and its QR code as an inline PNG
(multipart/related, ``cid:``). End to end on the real sandboxes: the cobv created on the
PSP sandbox by the billing run, the user blocked on the EXA sandbox by the régua, the
notice sent by Django's SMTP backend to a real local SMTP server; the PNG taken from the
message as received is decoded by an independent QR decoder back to the exact
copia-e-cola, whose CRC16 and location are checked against the título on the PSP."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest

from agrega.billing.services import payment_register
from agrega.contracts.services import contract_add_product
from agrega.dunning.services import dunning_sweep
from agrega.notices import services as notices
from agrega.pix.models import ChargeStatus, PixCharge
from agrega.sva.models import SvaUser
from tests.fixtures import default_platform_only
from tests.notices.smtp_server import SmtpServer

from .backdated import activated_months_ago, billed_months_ago
from .brcode_check import decode_qr, parse_brcode
from .conftest import Psp

pytestmark = pytest.mark.django_db(transaction=True)

sva_platform = default_platform_only()

MERCHANT = "Provedor Ação & Cia"


@pytest.fixture
def named_psp(pix_sandbox):
    """A usuário recebedor registered at the PSP under ``MERCHANT`` (the BR Code's name)."""
    p = Psp(pix_sandbox.new_account(nome=MERCHANT, cidade="São José dos Campos"))
    yield p
    p.payer.clear_faults()
    p.payer.close()


@pytest.fixture
def named_account(db, named_psp):
    from agrega.pix.services import account_create

    return account_create(name="PSP sandbox", base_url=named_psp.url, token_url=named_psp.token_url,
                          client_id=named_psp.client_id, client_secret=named_psp.client_secret,
                          chave=named_psp.chave, validade_apos_vencimento=365)


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
        yield server


@pytest.fixture
def told_blocked(platform_integration, make_product, make_contract, converge, named_account, fast_pix):
    """An SVA user told "created", then blocked on the platform by the régua for the
    contract's unpaid título (cobv active on the PSP): its blocked notice is written."""
    exa = make_product(platform_integration, name="EXA Segurança", price="9.90", fiscal_class="SVA")
    contract = make_contract(billing_day=10)
    contract_add_product(contract=contract, product_id=exa.pk)
    activated_months_ago(contract)
    converge()
    assert notices.enqueue_state_notices()["created"] == 1
    invoice = billed_months_ago(contract)
    charge = PixCharge.objects.get(invoice=invoice)
    assert charge.status == ChargeStatus.ACTIVE, charge.last_error
    dunning_sweep(today=invoice.due_date + timedelta(days=20))
    converge()
    assert SvaUser.objects.get(contract=contract).confirmed_state == "blocked"
    assert notices.enqueue_state_notices()["blocked"] == 1
    return contract, invoice, charge


def parts(message) -> dict[str, list]:
    found: dict[str, list] = {}
    for part in message.walk():
        found.setdefault(part.get_content_type(), []).append(part)
    return found


def test_the_blocked_notice_carries_the_qr_code_that_decodes_to_the_copia_e_cola(told_blocked, smtp, named_psp):
    contract, invoice, charge = told_blocked
    assert notices.send_pending_notices() == {"sent": 2, "failed": 0}
    created, blocked = (m["message"] for m in smtp.messages)
    assert created["Subject"] == "Seu acesso ao EXA Segurança está pronto"
    assert created.get_content_type() == "text/plain"  # not about a título: no PIX
    assert charge.pix_copia_e_cola not in created.get_content()

    assert blocked["Subject"] == "Seu acesso ao EXA Segurança foi bloqueado"
    assert blocked.get_content_type() == "multipart/alternative"
    found = parts(blocked)
    text, html = found["text/plain"][0].get_content(), found["text/html"][0].get_content()
    assert charge.pix_copia_e_cola in text and "Pague com PIX" in text
    assert charge.pix_copia_e_cola in unescape(html)  # a text node ("&" escaped as &amp;)
    assert len(found["multipart/related"]) == 1 and len(found["image/png"]) == 1
    image = found["image/png"][0]
    content_id = image["Content-ID"].strip("<>")
    assert f'src="cid:{content_id}"' in html
    assert image.get_content_disposition() == "inline"

    # what the customer's bank app reads from the image is exactly the copia-e-cola …
    payload = decode_qr(image.get_content())
    assert payload == charge.pix_copia_e_cola
    # … a valid BR Code (CRC16) of a dynamic charge whose location the PSP serves as this
    # título's cobv, for its amount
    fields = parse_brcode(payload)
    assert fields["01"] == "12" and fields["26"]["00"] == "br.gov.bcb.pix"
    assert fields["59"] == "PROVEDOR ACAO & CIA" and fields["53"] == "986"
    remote = named_psp.api("GET", f"/cobv/{charge.txid}").json()
    assert fields["26"]["25"] == remote["loc"]["location"] == charge.location
    assert remote["status"] == "ATIVA" and remote["valor"]["original"] == f"{invoice.amount:.2f}"


def test_a_titulo_paid_before_the_notice_is_sent_is_not_offered(told_blocked, smtp):
    contract, invoice, charge = told_blocked
    payment_register(invoice_id=invoice.pk, amount=f"{invoice.amount:.2f}")  # the cobv is removed
    assert notices.send_pending_notices() == {"sent": 2, "failed": 0}
    blocked = smtp.messages[-1]["message"]
    assert blocked["Subject"] == "Seu acesso ao EXA Segurança foi bloqueado"
    assert blocked.get_content_type() == "text/plain"
    assert charge.pix_copia_e_cola not in blocked.get_content() and "PIX" not in blocked.get_content()
