"""Pix Automático on the PSP sandbox: POST /rec for a contract; the payer approves and
webhookrec brings APROVADA; the billing run's título becomes a cobr inside the window;
the settlement pays it and webhookcobr applies the payment once; a refused attempt is
retried (retentativa) as the policy allows; cancelling the contract cancels the recurrence."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from agrega.billing.models import CreditEntry, Invoice, InvoiceStatus, Payment
from agrega.contracts.services import contract_cancel
from agrega.pix import recurrence, services
from agrega.core.errors import InvalidTransition, ValidationFailed
from agrega.pix.models import (ChargeStatus, PixCharge, PixRecurrence, PixRecurringCharge, RecurrenceStatus,
                               SolicRecStatus)
from tests.pix.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooked(pix_account, live_server, fast_pix):
    account = services.account_register_webhook(account_id=pix_account.pk, public_url=live_server.url)
    account.recebedor_conta, account.recebedor_agencia = "12345", "0001"
    account.save()
    return account


@pytest.fixture
def approved(hooked, billed, psp):
    def make(policy="PERMITE_3R_7D"):
        contract, invoice = billed()
        rec = recurrence.recurrence_start(contract_id=contract.pk, retry_policy=policy)
        assert rec.status == RecurrenceStatus.CREATED and rec.id_rec
        psp.payer.approve_rec(rec.id_rec)
        psp.wait_webhooks()
        assert wait_for(lambda: PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.APPROVED)
        # the título falls due in 5 days: inside the 2–10 days window
        due = timezone.localdate() + timedelta(days=5)
        Invoice.objects.filter(pk=invoice.pk).update(due_date=due)
        return contract, Invoice.objects.get(pk=invoice.pk), PixRecurrence.objects.get(pk=rec.pk)

    return make


def test_authorisation_then_cobr_paid_once_through_webhookcobr(approved, psp):
    contract, invoice, rec = approved()
    charge = recurrence.schedule_cobr(invoice_id=invoice.pk)
    assert charge is not None and charge.due_sent == invoice.due_date, charge and charge.last_error
    assert psp.api("GET", f"/cobr/{charge.txid}").json()["status"] == "ATIVA"
    psp.faults(webhook_duplicate_rate=1.0)
    psp.payer.settle_cobr(invoice.due_date, "pay", txid=charge.txid)
    psp.wait_webhooks()
    assert wait_for(lambda: Payment.objects.filter(invoice=invoice).exists())
    time.sleep(0.3)
    assert Payment.objects.filter(invoice=invoice).count() == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert recurrence.schedule_cobr(invoice_id=invoice.pk) is None  # paid: nothing more to schedule


def test_a_refused_attempt_is_retried_when_the_policy_allows(approved, psp):
    contract, invoice, rec = approved("PERMITE_3R_7D")
    charge = recurrence.schedule_cobr(invoice_id=invoice.pk)
    psp.payer.settle_cobr(invoice.due_date, "fail", txid=charge.txid)
    psp.wait_webhooks()
    assert wait_for(lambda: PixRecurringCharge.objects.get(pk=charge.pk).retries == 1)
    remote = psp.api("GET", f"/cobr/{charge.txid}").json()
    assert [t["status"] for t in remote["tentativas"]] == ["REJEITADA", "AGENDADA"]
    assert not Payment.objects.filter(invoice=invoice).exists()


def test_outside_the_window_nothing_is_sent_yet(approved, psp):
    contract, invoice, rec = approved()
    Invoice.objects.filter(pk=invoice.pk).update(due_date=timezone.localdate() + timedelta(days=20))
    assert recurrence.schedule_cobr(invoice_id=invoice.pk) is None
    assert not PixRecurringCharge.objects.exists()


def test_cancelling_the_contract_cancels_the_recurrence(approved, psp):
    contract, invoice, rec = approved()
    contract_cancel(contract=contract)
    assert wait_for(lambda: PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.CANCELLED)
    assert psp.api("GET", f"/rec/{rec.id_rec}").json()["status"] == "CANCELADA"


def test_an_older_read_of_the_psp_never_moves_the_recurrence_back(hooked, billed, psp):
    """Two webhookrec notices answered out of order: the creation's (its GET read CRIADA
    before the payer approved) written after the approval's. CI once lost an approval so."""
    contract, invoice = billed()
    rec = recurrence.recurrence_start(contract_id=contract.pk)
    psp.wait_webhooks()
    PixRecurrence.objects.filter(pk=rec.pk).update(status=RecurrenceStatus.APPROVED)  # the later notice, first
    recurrence.webhook_rec_receive(secret=hooked.webhook_secret, body={"recs": [{"idRec": rec.id_rec}]})
    assert PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.APPROVED
    psp.payer.reject_rec(rec.id_rec)  # a later state still moves it forward
    psp.wait_webhooks()
    assert wait_for(lambda: PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.REJECTED)


def test_an_older_read_of_a_cobr_never_reopens_it(approved, psp, hooked):
    contract, invoice, rec = approved()
    cobr = recurrence.schedule_cobr(invoice_id=invoice.pk)
    psp.wait_webhooks()
    PixRecurringCharge.objects.filter(pk=cobr.pk).update(status="CONCLUIDA")
    recurrence.webhook_cobr_receive(secret=hooked.webhook_secret, body={"cobsr": [{"txid": cobr.txid}]})
    assert psp.api("GET", f"/cobr/{cobr.txid}").json()["status"] == "ATIVA"
    assert PixRecurringCharge.objects.get(pk=cobr.pk).status == "CONCLUIDA"


# ---------------------------------------------------------------- cobv beside cobr (decision 0011)

def test_paid_through_the_cobv_cancels_the_cobr(approved, psp, inbox_consumer):
    contract, invoice, rec = approved()
    cobr = recurrence.schedule_cobr(invoice_id=invoice.pk)
    cobv = PixCharge.objects.get(invoice=invoice)
    psp.pay(cobv.txid)  # the customer pays the QR code before the debit day
    psp.wait_webhooks()
    assert wait_for(lambda: PixRecurringCharge.objects.get(pk=cobr.pk).status == "CANCELADA")
    assert psp.api("GET", f"/cobr/{cobr.txid}").json()["status"] == "CANCELADA"
    assert PixCharge.objects.get(pk=cobv.pk).status == ChargeStatus.PAID
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_paid_through_the_cobr_removes_the_cobv(approved, psp):
    contract, invoice, rec = approved()
    cobr = recurrence.schedule_cobr(invoice_id=invoice.pk)
    cobv = PixCharge.objects.get(invoice=invoice)
    psp.payer.settle_cobr(invoice.due_date, "pay", txid=cobr.txid)
    psp.wait_webhooks()
    assert wait_for(lambda: PixCharge.objects.get(pk=cobv.pk).status == ChargeStatus.REMOVED)
    assert psp.api("GET", f"/cobv/{cobv.txid}").json()["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    with pytest.raises(Exception):
        psp.pay(cobv.txid)  # nobody can pay it any more
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_paid_twice_the_second_payment_is_credit(approved, psp, hooked):
    """Both paid before Agrega heard of either (webhooks lost): each Pix counts once, the
    título is paid once, and the second payment is credit for the next títulos."""
    contract, invoice, rec = approved()
    cobr = recurrence.schedule_cobr(invoice_id=invoice.pk)
    cobv = PixCharge.objects.get(invoice=invoice)
    psp.faults(webhook_lost_rate=1.0)
    psp.pay(cobv.txid)
    psp.payer.settle_cobr(invoice.due_date, "pay", txid=cobr.txid)
    psp.payer.clear_faults()
    services.reconcile(account_id=hooked.pk)  # the cobv's Pix
    recurrence.webhook_cobr_receive(secret=hooked.webhook_secret, body={"cobsr": [{"txid": cobr.txid}]})
    payments = Payment.objects.filter(invoice=invoice)
    assert payments.count() == 2
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.overpaid == invoice.amount
    assert sum(c.amount for c in CreditEntry.objects.filter(contract=contract)) == invoice.amount
    # a repeated delivery changes nothing
    recurrence.webhook_cobr_receive(secret=hooked.webhook_secret, body={"cobsr": [{"txid": cobr.txid}]})
    services.reconcile(account_id=hooked.pk)
    assert Payment.objects.filter(invoice=invoice).count() == 2


# ---------------------------------------------------------------- solicrec: the request to the payer's bank

def test_solicrec_sent_to_the_payers_bank_then_accepted(hooked, billed, psp):
    contract, invoice = billed()
    rec = recurrence.solicrec_send(contract_id=contract.pk, ispb="12345678", agencia="0001", conta="998877")
    assert rec.status == RecurrenceStatus.CREATED and rec.id_rec
    assert rec.solicrec_status == SolicRecStatus.SENT and rec.solicrec_id
    remote = psp.api("GET", f"/solicrec/{rec.solicrec_id}").json()
    assert remote["status"] == "ENVIADA" and remote["idRec"] == rec.id_rec
    assert remote["destinatario"] == {"conta": "998877", "ispbParticipante": "12345678", "agencia": "0001",
                                      "cpf": contract.customer.document}
    with pytest.raises(InvalidTransition):  # one request at a time
        recurrence.solicrec_send(contract_id=contract.pk, ispb="12345678", conta="998877")
    psp.payer.approve_rec(rec.id_rec)  # the customer approves in their bank's app
    psp.wait_webhooks()
    assert wait_for(lambda: PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.APPROVED)
    assert wait_for(lambda: PixRecurrence.objects.get(pk=rec.pk).solicrec_status == SolicRecStatus.ACCEPTED)


def test_solicrec_rejected_by_the_payer_and_sent_again(hooked, billed, psp):
    contract, invoice = billed()
    rec = recurrence.solicrec_send(contract_id=contract.pk, ispb="87654321", conta="1")
    psp.payer.reject_rec(rec.id_rec)
    psp.wait_webhooks()
    assert wait_for(lambda: PixRecurrence.objects.get(pk=rec.pk).solicrec_status == SolicRecStatus.REJECTED)
    assert PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.REJECTED
    again = recurrence.solicrec_send(contract_id=contract.pk, ispb="87654321", conta="2")  # a new recurrence
    assert again.pk != rec.pk and again.solicrec_status == SolicRecStatus.SENT


def test_solicrec_checks_the_bank_data_before_any_call(hooked, billed, psp):
    contract, invoice = billed()
    with pytest.raises(ValidationFailed) as caught:
        recurrence.solicrec_send(contract_id=contract.pk, ispb="123", conta="", agencia="00001")
    assert set(caught.value.fields) == {"ispb", "conta", "agencia"}
    assert not PixRecurrence.objects.filter(contract=contract).exists()


def test_solicrec_from_the_contract_page_the_api_and_the_cli(hooked, billed, psp, client, capsys):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from agrega.core.models import ApiToken
    from agrega.core.roles import assign_role
    from tests.fixtures_api import ApiClient

    user = get_user_model().objects.create_user("op-solicrec", password="x-senha-123")
    assign_role(user, "administrador")
    client.force_login(user)
    first, _ = billed()
    response = client.post(f"/contratos/{first.pk}/pix-automatico/solicitar-ao-banco/",
                           {"ispb": "12345678", "conta": "4321", "agencia": "12"})
    assert response.status_code == 302
    rec = PixRecurrence.objects.get(contract=first)
    assert rec.solicrec_status == SolicRecStatus.SENT
    page = client.get(f"/contratos/{first.pk}/").content.decode()
    assert "Solicitação ao banco do pagador" in page and "Enviada ao banco do pagador" in page

    second, _ = billed(months=3)
    api = ApiClient(ApiToken.issue(user=user, name="t")[1])
    response = api.post(f"/contracts/{second.pk}/pix-automatico/solicitacao", {"ispb": "12345678", "conta": "77"})
    assert response.status_code == 201, response.content
    assert response.json()["solicrec_status"] == "ENVIADA"
    third, _ = billed(months=4)
    call_command("pix", "rec-request", str(third.pk), "--ispb", "12345678", "--conta", "55")
    assert "Enviada ao banco do pagador" in capsys.readouterr().out
    assert PixRecurrence.objects.get(contract=third).solicrec_status == SolicRecStatus.SENT
