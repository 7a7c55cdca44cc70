"""Pix Automático loses nothing (agrega/pix/automatico.py), on the PSP sandbox over HTTP:
a lost webhookcobr or webhookrec is caught by the periodic job ``pix.reconcile_automatico``
run as the worker runs it (claimed, queued as a task, run by the task runner); a
webhookcobr delivered twice and out of order is one baixa; a PSP failing while a notice is
read back keeps the notice until it answers; a ``POST /rec`` whose answer is lost is never
sent again and its row is settled from ``GET /rec``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agrega.billing.models import Invoice, InvoiceStatus, Payment
from agrega.core.errors import ApplicationError, InvalidTransition
from agrega.core.jobs import enqueue_job
from agrega.core.models import ScheduledJob
from agrega.pix import automatico, recurrence
from agrega.pix.models import (PixAutoNotification, PixRecurrence, PixRecurringCharge, RecurrenceStatus,
                               SolicRecStatus)
from tests.pix.test_recurrence import approved, hooked  # noqa: F401 — fixtures shared
from tests.pix.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
JOB = "pix.reconcile_automatico"


@pytest.fixture(autouse=True)
def _retry_at_once(settings):
    """A notice the PSP could not confirm is due again at once (no backoff to wait out)."""
    settings.PIX_INBOX = {**getattr(settings, "PIX_INBOX", {}), "RETRY_BASE_SECONDS": 0}


@pytest.fixture(autouse=True)
def _webhooks_done(psp):
    """No callback still reaching Agrega (and its drain writing) while the test's
    database is flushed."""
    yield
    psp.wait_webhooks()


@pytest.fixture
def run_job(settings, run_tasks):
    """The periodic job as ``agrega worker`` runs it: claimed and queued as a task in the
    database queue (agrega/core/jobs.py), then run by the task runner. Returns its row."""
    def run() -> ScheduledJob:
        immediate = settings.TASKS
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
        try:
            assert enqueue_job(JOB, force=True) is not None
            assert run_tasks() >= 1
        finally:
            settings.TASKS = immediate
        job = ScheduledJob.objects.get(name=JOB)
        assert job.last_ok, job.last_error
        return job

    return run


def remote_recs(psp) -> list[dict]:
    start = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return psp.api("GET", "/rec", params={"inicio": start, "fim": end}).json()["recs"]


def test_a_lost_webhookcobr_is_applied_by_the_periodic_job(approved, psp, run_job):
    contract, invoice, rec = approved()
    charge = recurrence.schedule_cobr(invoice_id=invoice.pk)
    psp.wait_webhooks()  # the creation's notice (read back later, it would find the payment)
    psp.faults(webhook_lost_rate=1.0)
    psp.payer.settle_cobr(invoice.due_date, "pay", txid=charge.txid)
    psp.wait_webhooks()
    paid = [d for d in psp.webhooks() if d["kind"] == "cobr" and d["body"]["cobsr"][0]["status"] == "CONCLUIDA"]
    assert paid and {d["outcome"] for d in paid} == {"lost"}
    assert not Payment.objects.filter(invoice=invoice).exists()

    job = run_job()
    assert job.last_result["applied"] == 1, job.last_result
    assert Payment.objects.filter(invoice=invoice, provider="pix").count() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert PixRecurringCharge.objects.get(pk=charge.pk).status == "CONCLUIDA"
    run_job()  # again: nothing twice
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_a_lost_webhookrec_is_caught_by_the_periodic_job(hooked, billed, psp, run_job):
    contract, invoice = billed()
    rec = recurrence.recurrence_start(contract_id=contract.pk)
    psp.wait_webhooks()
    psp.faults(webhook_lost_rate=1.0)
    psp.payer.approve_rec(rec.id_rec)
    psp.wait_webhooks()
    assert PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.CREATED

    job = run_job()
    assert job.last_result["recs_updated"] == 1, job.last_result
    assert PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.APPROVED
    psp.payer.cancel_rec(rec.id_rec)  # the payer cancels in their bank; that notice is lost too
    psp.wait_webhooks()
    run_job()
    assert PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.CANCELLED


def test_a_webhookcobr_twice_and_out_of_order_is_one_baixa(approved, psp, hooked):
    contract, invoice, rec = approved()
    psp.faults(webhook_duplicate_rate=1.0, webhook_reorder_ms=300)
    charge = recurrence.schedule_cobr(invoice_id=invoice.pk)  # its ATIVA notice may come last
    psp.payer.settle_cobr(invoice.due_date, "pay", txid=charge.txid)
    psp.wait_webhooks()
    assert wait_for(lambda: Payment.objects.filter(invoice=invoice).exists())
    notice = PixAutoNotification.objects.get(kind="cobr", ref=charge.txid)
    assert notice.deliveries >= 2
    # the creation's notice delivered once more, after the payment
    recurrence.webhook_cobr_receive(secret=hooked.webhook_secret,
                                    body={"cobsr": [{"txid": charge.txid, "status": "ATIVA"}]})
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert PixRecurringCharge.objects.get(pk=charge.pk).status == "CONCLUIDA"
    assert PixAutoNotification.objects.get(pk=notice.pk).outcome in ("applied", "done")


def test_a_psp_failing_while_a_webhookcobr_is_read_back_keeps_the_notice(approved, psp, run_job):
    contract, invoice, rec = approved()
    charge = recurrence.schedule_cobr(invoice_id=invoice.pk)
    psp.wait_webhooks()
    psp.faults(error_rate=1.0)  # every API call: 5xx
    psp.payer.settle_cobr(invoice.due_date, "pay", txid=charge.txid)
    psp.wait_webhooks()
    delivered = [d for d in psp.webhooks() if d["kind"] == "cobr" and d["outcome"] == "delivered"
                 and d["body"]["cobsr"][0]["status"] == "CONCLUIDA"]
    assert delivered  # Agrega answered 200: the notice is its to keep
    notice = PixAutoNotification.objects.get(kind="cobr", ref=charge.txid)
    assert notice.due_at is not None and notice.attempts >= 1 and notice.outcome == "", notice.last_error
    assert "HTTP 50" in notice.last_error, notice.last_error
    assert not Payment.objects.filter(invoice=invoice).exists()

    psp.payer.clear_faults()
    job = run_job()
    assert job.last_result["notices_applied"] == 1, job.last_result
    notice.refresh_from_db()
    assert notice.outcome == "applied" and notice.due_at is None
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_a_post_rec_whose_answer_is_lost_is_sent_once_and_settled_by_the_job(hooked, billed, psp, run_job):
    contract, invoice = billed()
    psp.faults(lost_response_rate=1.0, webhook_lost_rate=1.0)
    rec = recurrence.recurrence_start(contract_id=contract.pk)
    assert rec.status == RecurrenceStatus.UNKNOWN and rec.id_rec == ""
    assert "pix_outcome_unknown" in rec.last_error
    with pytest.raises(InvalidTransition) as caught:  # no second POST /rec while the first is unknown
        recurrence.recurrence_start(contract_id=contract.pk)
    assert caught.value.code == "recurrence_exists"
    with pytest.raises(InvalidTransition) as caught:
        recurrence.solicrec_send(contract_id=contract.pk, ispb="12345678", conta="1")
    assert caught.value.code == "pix_outcome_unknown"
    psp.payer.clear_faults()
    psp.faults(webhook_lost_rate=1.0)

    job = run_job()
    assert job.last_result["unknown_found"] == 1, job.last_result
    recs = remote_recs(psp)
    assert len(recs) == 1  # exactly one recurrence on the PSP
    rec.refresh_from_db()
    assert rec.id_rec == recs[0]["idRec"] and rec.status == RecurrenceStatus.CREATED and rec.last_error == ""
    psp.payer.approve_rec(rec.id_rec)
    run_job()
    assert PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.APPROVED


def test_a_post_rec_answered_5xx_is_not_sent_again_and_ends_when_the_psp_never_made_it(hooked, billed, psp):
    contract, invoice = billed()
    before = psp.payer.stats()["requests"].get("post_rec", 0)
    psp.faults(error_rate=1.0)
    rec = recurrence.recurrence_start(contract_id=contract.pk)
    assert psp.payer.stats()["requests"].get("post_rec", 0) == before + 1  # sent once, not retried
    assert rec.status == RecurrenceStatus.UNKNOWN
    psp.payer.clear_faults()
    automatico.reconcile(account_id=hooked.pk)  # not found yet: still unknown within the grace
    assert PixRecurrence.objects.get(pk=rec.pk).status == RecurrenceStatus.UNKNOWN
    later = timezone.now() + automatico.UNKNOWN_GRACE + timedelta(minutes=1)
    assert automatico.reconcile(account_id=hooked.pk, now=later)["unknown_ended"] == 1
    rec.refresh_from_db()
    assert rec.status == RecurrenceStatus.NOT_CREATED and rec.last_error == automatico.NOT_CREATED_MESSAGE
    assert remote_recs(psp) == []
    again = recurrence.recurrence_start(contract_id=contract.pk)  # an operator starts again
    assert again.status == RecurrenceStatus.CREATED and len(remote_recs(psp)) == 1


def test_a_post_rec_throttled_is_sent_again(hooked, billed, psp):
    """A 429 says the PSP did nothing: the POST is repeated (here until the client gives up)."""
    contract, invoice = billed()
    before = psp.payer.stats()["requests"].get("post_rec", 0)
    psp.faults(throttle_rate=1.0, retry_after_seconds=0)
    with pytest.raises(ApplicationError) as caught:
        recurrence.recurrence_start(contract_id=contract.pk)
    assert caught.value.code == "pix_rec_failed"
    assert psp.payer.stats()["requests"].get("post_rec", 0) > before + 1
    assert PixRecurrence.objects.get(contract=contract).status == RecurrenceStatus.NOT_CREATED


def test_a_post_solicrec_whose_answer_is_lost_is_settled_from_the_recurrence(hooked, billed, psp, run_job):
    contract, invoice = billed()
    rec = recurrence.recurrence_start(contract_id=contract.pk)
    psp.faults(lost_response_rate=1.0)
    rec = recurrence.solicrec_send(contract_id=contract.pk, ispb="12345678", conta="998877")
    assert rec.solicrec_status == SolicRecStatus.UNKNOWN and rec.solicrec_id == ""
    psp.payer.clear_faults()
    run_job()
    rec.refresh_from_db()
    remote = psp.api("GET", f"/rec/{rec.id_rec}").json()
    assert len(remote["solicitacao"]) == 1  # sent once
    assert rec.solicrec_id == remote["solicitacao"][0]["idSolicRec"] and rec.solicrec_status == SolicRecStatus.SENT


def test_the_contract_page_tells_the_operator_the_outcome_is_being_checked(hooked, billed, psp, client):
    from django.contrib.auth import get_user_model

    from agrega.core.roles import assign_role

    user = get_user_model().objects.create_user("op-incerta", password="x-senha-123")
    assign_role(user, "administrador")
    client.force_login(user)
    contract, invoice = billed()
    psp.faults(lost_response_rate=1.0)
    response = client.post(f"/contratos/{contract.pk}/pix-automatico/iniciar/", follow=True)
    page = response.content.decode()
    assert recurrence.UNKNOWN_MESSAGE in page
    assert "Sem resposta do PSP (verificando)" in page and "pix_outcome_unknown" in page
    assert "Solicitar Pix Automático" not in page and "Cancelar Pix Automático" not in page
    psp.payer.clear_faults()
    automatico.reconcile(account_id=hooked.pk)
    page = client.get(f"/contratos/{contract.pk}/").content.decode()
    assert "Criada (aguarda o pagador)" in page and "pix_outcome_unknown" not in page


def test_a_retentativa_whose_answer_is_lost_is_not_sent_again(approved, psp, hooked, run_job):
    """``POST /cobr/{txid}/retentativa/{data}`` reaches the PSP and its answer is lost: not
    sent again; the next read of the cobr shows the attempt scheduled and counts it."""
    from agrega.pix.services import shared_client

    contract, invoice, rec = approved("PERMITE_3R_7D")
    charge = recurrence.schedule_cobr(invoice_id=invoice.pk)
    psp.wait_webhooks()
    psp.faults(webhook_lost_rate=1.0)
    psp.payer.settle_cobr(invoice.due_date, "fail", txid=charge.txid)  # refused; its notice is lost
    psp.wait_webhooks()
    refused = psp.api("GET", f"/cobr/{charge.txid}").json()  # what a notice's read finds
    assert [t["status"] for t in refused["tentativas"]] == ["REJEITADA"]
    before = psp.payer.stats()["requests"].get("post_retentativa", 0)
    psp.faults(webhook_lost_rate=1.0, lost_response_rate=1.0)
    charge = PixRecurringCharge.objects.select_related("recurrence").get(pk=charge.pk)
    recurrence._settle_cobr(charge, refused, shared_client(hooked))
    assert psp.payer.stats()["requests"].get("post_retentativa", 0) == before + 1  # sent once
    charge.refresh_from_db()
    assert charge.retries == 0 and "será verificado no PSP" in charge.last_error, charge.last_error

    psp.payer.clear_faults()
    psp.faults(webhook_lost_rate=1.0)
    run_job()
    charge.refresh_from_db()
    assert charge.retries == 1 and charge.last_error == ""  # the PSP's NTAG attempt, counted
    remote = psp.api("GET", f"/cobr/{charge.txid}").json()
    assert [(t["tipo"], t["status"]) for t in remote["tentativas"]] == [("AGND", "REJEITADA"), ("NTAG", "AGENDADA")]
    assert psp.payer.stats()["requests"].get("post_retentativa", 0) == before + 1  # none more
