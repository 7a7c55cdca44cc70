"""Authorisation against the real SEFAZ sandbox (mTLS, SOAP): authorised with its
protocol; a rejection shown with its code, corrected and re-sent under the same number;
a lost answer settled by consulta (never two authorisations); SEFAZ out of service →
the document waits and goes when it returns; cancellation by event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agrega.billing.services import invoice_cancel
from agrega.core.errors import ApplicationError
from agrega.fiscal import services
from agrega.fiscal.models import DocStatus, NFCom
from agrega.fiscal.services import nfcom_cancel, nfcom_correct, nfcom_create, nfcom_send, send_pending

pytestmark = pytest.mark.django_db(transaction=True)


def _now():
    return timezone.now().replace(microsecond=0) - timedelta(minutes=1)


def authorised_at_sandbox(sefaz_admin, key):
    record = sefaz_admin.document(key)
    return record


def test_authorised_with_protocol(emitter, billed, sefaz_admin):
    doc = nfcom_create(invoice_id=billed(1)[0].pk, now=_now())
    doc = nfcom_send(nfcom_id=doc.pk)
    assert doc.status == DocStatus.AUTHORISED, services.describe(doc)
    assert doc.protocol and b"nfcomProc" in bytes(doc.proc_xml) and b"protNFCom" in bytes(doc.proc_xml)
    assert sefaz_admin.document(doc.key) is not None


def test_rejection_is_shown_corrected_and_resent_under_the_same_number(emitter, billed, sefaz_admin):
    invoice = billed(1)[0]
    doc = nfcom_create(invoice_id=invoice.pk, now=_now())
    sefaz_admin.set_faults(reject_next=1, reject_code="539")
    doc = nfcom_send(nfcom_id=doc.pk)
    assert doc.status == DocStatus.REJECTED
    assert doc.c_stat == "539" and services.describe(doc).startswith("539 — ")
    number, key = doc.number, doc.key
    # the operator corrects the customer's name and re-sends
    invoice.customer.name = "Cliente Corrigido"
    invoice.customer.save()
    doc = nfcom_correct(nfcom_id=doc.pk)
    assert doc.status == DocStatus.SIGNED and b"Cliente Corrigido" in bytes(doc.xml)
    doc = nfcom_send(nfcom_id=doc.pk)
    assert doc.status == DocStatus.AUTHORISED
    assert (doc.number, doc.key) == (number, key)


def test_lost_answer_is_settled_by_consulta_never_two_authorisations(emitter, billed, sefaz_admin):
    doc = nfcom_create(invoice_id=billed(1)[0].pk, now=_now())
    sefaz_admin.set_faults(lost_next=1)
    doc = nfcom_send(nfcom_id=doc.pk)
    # the sandbox authorised it and dropped the answer: the send said "unknown"; the
    # next pass consults before re-sending and finds it authorised
    assert doc.status == DocStatus.UNKNOWN
    doc = nfcom_send(nfcom_id=doc.pk)
    assert doc.status == DocStatus.AUTHORISED and doc.protocol
    recepcoes = [e for e in sefaz_admin.log() if e.get("service") == "recepcao" and e.get("chave") == doc.key]
    assert len(recepcoes) == 1  # sent once, never again
    assert b"protNFCom" in bytes(doc.proc_xml)


def test_timeout_not_applied_is_resent_after_consulta(emitter, billed, sefaz_admin):
    doc = nfcom_create(invoice_id=billed(1)[0].pk, now=_now())
    sefaz_admin.set_faults(timeout_next=1, hang_seconds=6)
    doc = nfcom_send(nfcom_id=doc.pk)
    assert doc.status == DocStatus.UNKNOWN
    doc = nfcom_send(nfcom_id=doc.pk)  # consulta: not found -> sent again
    assert doc.status == DocStatus.AUTHORISED


def test_out_of_service_documents_wait_and_go_when_it_returns(emitter, billed, sefaz_admin):
    docs = [nfcom_create(invoice_id=i.pk, now=_now()) for i in billed(2)]
    sefaz_admin.set_faults(paralisado="108")
    outcome = send_pending()
    assert outcome["in_service"] is False
    assert set(NFCom.objects.values_list("status", flat=True)) == {DocStatus.SIGNED}
    sefaz_admin.clear_faults()
    outcome = send_pending()
    assert outcome[DocStatus.AUTHORISED] == 2
    assert all(NFCom.objects.get(pk=d.pk).status == DocStatus.AUTHORISED for d in docs)


def test_cancellation_by_event_and_from_the_titulo(emitter, billed, sefaz_admin):
    first, second = billed(2)
    a = nfcom_send(nfcom_id=nfcom_create(invoice_id=first.pk, now=_now()).pk)
    b = nfcom_send(nfcom_id=nfcom_create(invoice_id=second.pk, now=_now()).pk)
    with pytest.raises(ApplicationError) as exc:
        nfcom_cancel(nfcom_id=a.pk, reason="curta")
    assert exc.value.code == "cancel_reason_invalid"
    a = nfcom_cancel(nfcom_id=a.pk, reason="Cobranca emitida em duplicidade para o cliente")
    assert a.status == DocStatus.CANCELLED and a.cancel_protocol
    assert sefaz_admin.document(a.key)["status"] in ("cancelled", "cancelada", "101")
    # cancelling the título cancels its NFCom (the task runs at once with the immediate backend)
    invoice_cancel(invoice_id=second.pk, reason="Contrato cancelado pelo cliente")
    assert NFCom.objects.get(pk=b.pk).status == DocStatus.CANCELLED


def test_cancellation_after_the_deadline_names_the_manual_path(emitter, billed):
    doc = nfcom_send(nfcom_id=nfcom_create(invoice_id=billed(1)[0].pk, now=_now()).pk)
    late = services.cancel_deadline(doc.authorised_at) + timedelta(minutes=1)
    with pytest.raises(ApplicationError) as exc:
        nfcom_cancel(nfcom_id=doc.pk, reason="Cobranca emitida em duplicidade para o cliente", now=late)
    assert exc.value.code == "cancel_deadline_passed" and "substituição" in exc.value.message


def test_cancellation_with_lost_answer_is_settled_by_consulta(emitter, billed, sefaz_admin):
    doc = nfcom_send(nfcom_id=nfcom_create(invoice_id=billed(1)[0].pk, now=_now()).pk)
    sefaz_admin.set_faults(lost_next=1, services=["evento"])
    with pytest.raises(Exception):
        nfcom_cancel(nfcom_id=doc.pk, reason="Cobranca emitida em duplicidade para o cliente")
    doc.refresh_from_db()
    assert doc.status == DocStatus.AUTHORISED and doc.cancel_requested
    outcome = send_pending()  # the job: consulta says cancelled; no second event
    doc.refresh_from_db()
    assert doc.status == DocStatus.CANCELLED and outcome.get("cancelled") == 1
    events = [e for e in sefaz_admin.log() if e.get("service") == "evento" and e.get("chave") == doc.key]
    assert len(events) == 1
