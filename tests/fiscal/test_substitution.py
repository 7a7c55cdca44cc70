"""NFCom de substituição (finNFCom 3, group gSub; MOC NFCom Anexo I rules G43–G55): after
the cancellation deadline a wrong NFCom is corrected by a new one, numbered in the same
série, valid against the official schema, authorised by the sandbox — which checks that
the key it replaces exists, is authorised and not yet substituted — and the original
becomes "substituída" (consulta cStat 102). A substitute cannot be cancelled (L07)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from lxml import etree

from agrega.core.errors import ApplicationError
from agrega.fiscal import build, key as keys, services, xsd
from agrega.fiscal.models import DocStatus, NFCom, Purpose, Series
from agrega.fiscal.services import nfcom_cancel, nfcom_create, nfcom_send, nfcom_substitute

pytestmark = pytest.mark.django_db(transaction=True)
Q = "{%s}" % build.NS


def _now():
    return timezone.now().replace(microsecond=0) - timedelta(minutes=1)


def _authorised(billed):
    doc = nfcom_send(nfcom_id=nfcom_create(invoice_id=billed(1)[0].pk, now=_now()).pk)
    assert doc.status == DocStatus.AUTHORISED, services.describe(doc)
    return doc


def test_substitution_after_the_deadline_is_built_authorised_and_marks_the_original(emitter, billed, sefaz_admin):
    original = _authorised(billed)
    late = services.cancel_deadline(original.authorised_at) + timedelta(minutes=1)
    with pytest.raises(ApplicationError) as exc:
        nfcom_cancel(nfcom_id=original.pk, reason="Valor da fatura cobrado errado no mes", now=late)
    assert exc.value.code == "cancel_deadline_passed" and "Substituir NFCom" in exc.value.message
    # the operator corrects the customer's data and substitutes (reason 01)
    invoice = original.invoice
    invoice.customer.name = "Cliente Com Nome Corrigido"
    invoice.customer.save()
    doc = nfcom_substitute(nfcom_id=original.pk, reason="01")
    assert (doc.purpose, doc.substitutes_id, doc.substitution_reason) == (Purpose.SUBSTITUTION, original.pk, "01")
    assert doc.number == original.number + 1 and doc.key != original.key
    assert Series.objects.get().next_number == doc.number + 1
    root = etree.fromstring(bytes(doc.xml))
    xsd.validate(root)  # the official schema
    inf = root.find(Q + "infNFCom")
    assert inf.findtext(f"{Q}ide/{Q}finNFCom") == "3"
    assert inf.findtext(f"{Q}gSub/{Q}chNFCom") == original.key and inf.findtext(f"{Q}gSub/{Q}motSub") == "01"
    assert inf.findtext(f"{Q}dest/{Q}xNome") == "Cliente Com Nome Corrigido"
    # gSub sits where the schema puts it: after assinante, before the items
    order = [child.tag.replace(Q, "") for child in inf]
    assert order.index("gSub") == order.index("assinante") + 1 < order.index("det")
    doc = nfcom_send(nfcom_id=doc.pk)
    assert doc.status == DocStatus.AUTHORISED, services.describe(doc)
    original.refresh_from_db()
    assert original.status == DocStatus.SUBSTITUTED
    assert sefaz_admin.document(original.key)["status"] == "substituted"
    consulta = services.client().consultar(original.key)
    assert (consulta.c_stat, consulta.situation) == ("102", "substituted")
    # the título's current NFCom is the substitute; the original cannot be substituted again
    from agrega.fiscal import selectors

    assert selectors.for_invoice(invoice.pk).pk == doc.pk
    with pytest.raises(ApplicationError) as exc:
        nfcom_substitute(nfcom_id=original.pk, reason="02")
    assert exc.value.code == "substitution_exists"
    # a substitute cannot be cancelled (MOC rule L07, cStat 524) — but can be substituted again
    with pytest.raises(ApplicationError) as exc:
        nfcom_cancel(nfcom_id=doc.pk, reason="Valor da fatura cobrado errado no mes")
    assert exc.value.code == "substitute_not_cancellable"
    again = nfcom_send(nfcom_id=nfcom_substitute(nfcom_id=doc.pk, reason="02").pk)
    assert again.status == DocStatus.AUTHORISED
    doc.refresh_from_db()
    assert doc.status == DocStatus.SUBSTITUTED


def test_named_errors_before_anything_is_numbered(emitter, billed):
    invoice = billed(1)[0]
    signed = nfcom_create(invoice_id=invoice.pk, now=_now())
    with pytest.raises(ApplicationError) as exc:
        nfcom_substitute(nfcom_id=signed.pk, reason="01")
    assert exc.value.code == "nfcom_not_authorised"
    doc = nfcom_send(nfcom_id=signed.pk)
    with pytest.raises(ApplicationError) as exc:
        nfcom_substitute(nfcom_id=doc.pk, reason="09")
    assert exc.value.code == "substitution_reason_invalid"
    invoice.customer.document = "52998224725"  # another person: G54 wants the same recipient
    invoice.customer.save()
    with pytest.raises(ApplicationError) as exc:
        nfcom_substitute(nfcom_id=doc.pk, reason="02")
    assert exc.value.code == "substitution_recipient_changed"
    assert NFCom.objects.count() == 1 and Series.objects.get().next_number == doc.number + 1


def test_sandbox_refuses_the_substitution_of_an_unknown_key(emitter, billed, sefaz_admin):
    """The sandbox's own checks (G49 → 208): a substitute naming a key the SEFAZ does not
    have is rejected."""
    original = _authorised(billed)
    doc = nfcom_substitute(nfcom_id=original.pk, reason="04")
    sefaz_admin.reset()  # the SEFAZ forgets the original
    doc = nfcom_send(nfcom_id=doc.pk)
    assert (doc.status, doc.c_stat) == (DocStatus.REJECTED, "208")
    assert "não existe" in services.describe(doc)
    original.refresh_from_db()
    assert original.status == DocStatus.AUTHORISED  # untouched until a substitute is authorised


def test_sandbox_refuses_the_substitution_of_a_cancelled_nfcom(emitter, billed, sefaz_admin):
    from agrega.fiscal import signing
    from agrega.fiscal.services import _emitter_ready, build_cancel_event

    original = _authorised(billed)
    doc = nfcom_substitute(nfcom_id=original.pk, reason="04")
    # cancelled at the SEFAZ behind Agrega's back (another system with the same certificate)
    emitter_row, cert = _emitter_ready()
    event = signing.sign_enveloped(build_cancel_event(original, emitter_row, "Cancelada por outro sistema emissor",
                                                      timezone.now()), certificate=cert)
    assert services.client().registrar_evento(event).registered
    doc = nfcom_send(nfcom_id=doc.pk)
    assert (doc.status, doc.c_stat) == (DocStatus.REJECTED, "210")
    assert "cancelada" in services.describe(doc)


def test_only_one_normal_nfcom_per_titulo_in_the_database(emitter, billed):
    from django.db import IntegrityError, transaction

    doc = nfcom_create(invoice_id=billed(1)[0].pk, now=_now())
    dup = NFCom(invoice=doc.invoice, environment=doc.environment, serie=doc.serie, number=doc.number + 50,
                key=keys.build_key(keys.KeyParts("41", "2612", emitter.cnpj, 1, doc.number + 50, 1, 0, "1234567")),
                c_nf="1234567", issued_at=doc.issued_at)
    with pytest.raises(IntegrityError), transaction.atomic():
        dup.save()
    with pytest.raises(IntegrityError), transaction.atomic():  # a substitution must name its original
        NFCom.objects.filter(pk=doc.pk).update(purpose=Purpose.SUBSTITUTION)


def test_substitution_from_the_titulo_page_the_api_and_the_cli(emitter, billed, role_user):
    from io import StringIO

    from django.core.management import call_command
    from django.test import Client

    from agrega.core.roles import Role
    from tests.fixtures import bearer_headers, logged_in_client

    first, second, third = billed(3)
    for invoice in (first, second, third):
        nfcom_send(nfcom_id=nfcom_create(invoice_id=invoice.pk, now=_now()).pk)
    user = role_user("op", Role.OPERATOR)
    # the page offers the substitution beside the cancellation, with the MOC's reasons
    page = logged_in_client(user)
    html = page.get(f"/financeiro/titulos/{first.pk}/").content.decode()
    assert "Substituir NFCom" in html and "02 — Erro cadastral" in html
    page.post(f"/financeiro/nfcom/{first.pk}/substitute/", {"reason": "02"})
    current = NFCom.objects.filter(invoice=first).order_by("-id").first()
    assert (current.purpose, current.status) == (Purpose.SUBSTITUTION, DocStatus.AUTHORISED)
    html = page.get(f"/financeiro/titulos/{first.pk}/").content.decode()
    assert current.key in html and "NFCom de substituição de" in html
    assert "Cancelar NFCom" not in html  # a substitute cannot be cancelled
    # the API: a named error for an unknown reason, then the substitute
    api = Client()
    op = bearer_headers(user)
    r = api.post(f"/api/nfcom/{second.pk}/substitute", {"reason": "77"}, content_type="application/json", **op)
    assert r.status_code in (400, 422) and r.json()["error"]["code"] == "substitution_reason_invalid"
    assert [e["code"] for e in r.json()["error"]["fields"]["reason"]] == ["reason_invalid"]
    r = api.post(f"/api/nfcom/{second.pk}/substitute", {"reason": "01"}, content_type="application/json", **op)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "authorised" and body["purpose"] == 3, body
    assert body["substitutes_key"] == NFCom.objects.get(invoice=second, purpose=0).key
    assert api.get(f"/api/nfcom/{second.pk}", **op).json()["key"] == body["key"]
    # the CLI
    out = StringIO()
    call_command("nfcom", "substitute", str(third.pk), "--reason", "05", stdout=out)
    assert "NFCom de substituição" in out.getvalue() and "Autorizada" in out.getvalue()
    assert NFCom.objects.get(invoice=third, purpose=0).status == DocStatus.SUBSTITUTED


def test_cancelling_the_titulo_keeps_its_substitute(emitter, billed, sefaz_admin):
    """A substitute cannot be cancelled (L07): cancelling the título asks nothing of the
    SEFAZ for it, and the periodic job does not keep trying."""
    from agrega.billing.services import invoice_cancel
    from agrega.fiscal.services import send_pending

    original = _authorised(billed)
    doc = nfcom_send(nfcom_id=nfcom_substitute(nfcom_id=original.pk, reason="01").pk)
    invoice_cancel(invoice_id=original.invoice_id, reason="Contrato cancelado pelo cliente")
    doc.refresh_from_db()
    assert (doc.status, doc.cancel_requested) == (DocStatus.AUTHORISED, False)
    assert "cancelled" not in send_pending()
    events = [e for e in sefaz_admin.log() if e.get("service") == "evento"]
    assert events == []
