"""What leaves Agrega besides the NFCom itself: the cancellation event (XSD + xmlsec1),
the DANFE-COM (pdftotext shows key, totals and items), the accountant's ZIP, and the
reports computed from authorised documents."""

from __future__ import annotations

import subprocess
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.utils import timezone

from agrega.fiscal import reports, selectors, services, signing, xsd
from agrega.fiscal.certificates import unseal
from agrega.fiscal.models import DocStatus
from agrega.fiscal.services import nfcom_cancel, nfcom_create, nfcom_send
from tests.fiscal.test_document import xmlsec_verify

pytestmark = pytest.mark.django_db(transaction=True)


def _authorised(billed, n=1):
    now = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    return [nfcom_send(nfcom_id=nfcom_create(invoice_id=i.pk, now=now).pk) for i in billed(n)]


def test_cancellation_event_validates_and_verifies(emitter, billed, a1, tmp_path):
    doc = _authorised(billed)[0]
    event = signing.sign_enveloped(services.build_cancel_event(doc, emitter, "Cobranca emitida em duplicidade",
                                                               timezone.now()), certificate=unseal(emitter.certificate_enc))
    assert xsd.errors(event, xsd.EVENT) == []
    result = xmlsec_verify(event, a1[1], "infEvento", tmp_path)
    assert result.returncode == 0, result.stderr
    assert xmlsec_verify(event.replace(b"duplicidade", b"duplicidadX"), a1[1], "infEvento", tmp_path).returncode != 0


def test_danfe_pdf_shows_key_totals_and_items(emitter, billed, tmp_path):
    doc = _authorised(billed)[0]
    pdf = tmp_path / "danfe.pdf"
    pdf.write_bytes(selectors.document_pdf(doc))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    grouped = " ".join(doc.key[i:i + 4] for i in range(0, 44, 4))
    assert grouped in text
    assert "Internet 300 Mega" in text and "Streaming Kids" in text
    assert "0100401" in text and "1100101" in text
    assert "R$ 100,00" in text and "R$ 79,90" in text and "R$ 20,10" in text
    assert doc.protocol in text and "DANFE-COM" in text


def test_monthly_zip_and_revenue_from_authorised_documents(emitter, billed):
    docs = _authorised(billed, 3)
    nfcom_cancel(nfcom_id=docs[2].pk, reason="Cobranca emitida em duplicidade para o cliente")
    period = timezone.localdate(docs[0].issued_at).replace(day=1)
    data, n = selectors.monthly_zip(period)
    names = zipfile.ZipFile(BytesIO(data)).namelist()
    assert n == 3 and f"{docs[2].key}-cancelamento.xml" in names and f"{docs[0].key}-nfcom.xml" in names
    rev = reports.revenue(period)
    assert rev["documents"] == 2  # the cancelled one is not revenue
    assert rev["by_class"]["SCM"] == Decimal("159.80") and rev["by_class"]["SVA"] == Decimal("40.20")


def test_tax_transition_view_2026_2027_2033(emitter, billed):
    docs = _authorised(billed, 2)
    period = timezone.localdate(docs[0].issued_at).replace(day=1)
    t = reports.transition(period, uf="PR")
    by_year = {s.year: s for s in t["scenarios"]}
    sva = Decimal("40.20")
    # 2026: SVA pays PIS+Cofins and the test CBS/IBS, no ICMS; as SCM it would also pay ICMS 19.5 %
    assert by_year[2026].taxes["SVA"]["ICMS"] == 0
    assert by_year[2026].sva_saving == (sva * Decimal("0.195")).quantize(Decimal("0.01"))
    # 2027: PIS/Cofins gone, CBS at 8.7 %; ICMS still whole
    assert by_year[2027].taxes["SVA"]["PIS"] == 0 and by_year[2027].taxes["SVA"]["CBS"] == Decimal("3.50")
    # 2033: ICMS extinct, the same IBS/CBS on both: the split saves nothing
    assert by_year[2033].sva_saving == 0
    cent = Decimal("0.01")
    assert by_year[2033].total_by_class["SVA"] == ((sva * Decimal("0.088")).quantize(cent)
                                                   + (sva * Decimal("0.177")).quantize(cent))


def test_bill_email_carries_danfe_and_xml(emitter, billed, mailoutbox):
    from agrega.fiscal.services import send_pending

    invoice = billed(1)[0]
    nfcom_create(invoice_id=invoice.pk, now=timezone.now().replace(microsecond=0) - timedelta(minutes=1))
    send_pending()
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [invoice.customer.email]
    names = [a[0] for a in mail.attachments]
    doc = invoice.nfcoms.get()
    assert names == [f"{doc.key}-danfe.pdf", f"{doc.key}-nfcom.xml"]
    assert mail.attachments[0][1].startswith(b"%PDF") and b"protNFCom" in mail.attachments[1][1]
    send_pending()
    assert len(mailoutbox) == 1  # once


def test_bill_email_carries_the_titulos_pix_qr_code(emitter, billed, pix_sandbox, mailoutbox):
    """The fatura e-mail of an open título with an active cobv (created on the PSP
    sandbox by the billing run) carries its copia-e-cola in the text and the HTML parts
    and its QR code inline; the message as the backend sends it (bytes) is parsed back,
    and the PNG decodes (zxing-cpp) to the exact copia-e-cola with a valid CRC16."""
    from email import message_from_bytes, policy
    from html import unescape

    from agrega.fiscal.services import send_pending
    from agrega.pix.models import ChargeStatus, PixCharge
    from agrega.pix.services import account_create
    from tests.pix.brcode_check import decode_qr, parse_brcode

    psp = pix_sandbox.new_account()
    account_create(name="PSP sandbox", base_url=psp.url, token_url=psp.token_url, client_id=psp.client_id,
                   client_secret=psp.client_secret, chave=psp.chave, validade_apos_vencimento=365)
    invoice = billed(1)[0]
    charge = PixCharge.objects.get(invoice=invoice)
    assert charge.status == ChargeStatus.ACTIVE, charge.last_error
    nfcom_create(invoice_id=invoice.pk, now=timezone.now().replace(microsecond=0) - timedelta(minutes=1))
    send_pending()
    assert len(mailoutbox) == 1
    sent = message_from_bytes(mailoutbox[0].message().as_bytes(), policy=policy.default)
    assert sent.get_content_type() == "multipart/mixed"
    parts: dict[str, list] = {}
    for part in sent.walk():
        parts.setdefault(part.get_content_type(), []).append(part)
    doc = invoice.nfcoms.get()
    assert [p.get_filename() for p in parts["application/pdf"] + parts["application/xml"]] == [
        f"{doc.key}-danfe.pdf", f"{doc.key}-nfcom.xml"]
    text, html = parts["text/plain"][0].get_content(), parts["text/html"][0].get_content()
    assert doc.key in text and charge.pix_copia_e_cola in text
    assert charge.pix_copia_e_cola in unescape(html)
    (image,) = parts["image/png"]
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
    assert decode_qr(image.get_content()) == charge.pix_copia_e_cola
    assert parse_brcode(charge.pix_copia_e_cola)["26"]["25"] == charge.location
