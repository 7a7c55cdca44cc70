"""Pix Automático on the PSP sandbox: POST /rec for a contract; the payer approves and
webhookrec brings APROVADA; the billing run's título becomes a cobr inside the window;
the settlement pays it and webhookcobr applies the payment once; a refused attempt is
retried (retentativa) as the policy allows; cancelling the contract cancels the recurrence."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from agrega.billing.models import Invoice, InvoiceStatus, Payment
from agrega.contracts.services import contract_cancel
from agrega.pix import recurrence, services
from agrega.pix.models import PixRecurrence, PixRecurringCharge, RecurrenceStatus

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


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
