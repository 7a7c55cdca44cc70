"""The fatura's payment fields (MOC NFCom, Anexo I, gFat): ``codBarras`` is the linha
digitável of a boleto (47 digits) or arrecadação document (48), verified digit by digit;
without one (Agrega bills by PIX) it carries the título's number and the DANFE-COM says
so; ``gPIX/urlQRCodePIX`` carries the BR Code of the título's active PIX cobrança, which
the DANFE-COM prints as a QR code."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone
from lxml import etree

from agrega.core.errors import ApplicationError
from agrega.fiscal import barcode, build, selectors, services
from agrega.fiscal.services import nfcom_create

Q = "{%s}" % build.NS
# Banco do Brasil's published example of a linha digitável (47 digits)
BB_LINE = "00190500954014481606906809350314337370000000100"


def test_boleto_line_check_digits():
    assert barcode.boleto_ok(BB_LINE)
    for i in (3, 12, 25, 40):  # one wrong digit in each field, or in the amount
        wrong = BB_LINE[:i] + str((int(BB_LINE[i]) + 1) % 10) + BB_LINE[i + 1:]
        assert not barcode.boleto_ok(wrong), i
    assert barcode.formatted(BB_LINE) == "00190.50095 40144.816069 06809.350314 3 37370000000100"


def test_boleto_general_digit_from_a_real_barcode():
    """A real 44-digit boleto barcode (its general digit at position 5, set by the bank)
    turned into its linha digitável must pass."""
    code = "75697994100000890001300301112934154971708001"
    f1, f2, f3 = code[0:4] + code[19:24], code[24:34], code[34:44]
    line = (f1 + str(barcode.mod10(f1)) + f2 + str(barcode.mod10(f2)) + f3 + str(barcode.mod10(f3))
            + code[4] + code[5:19])
    assert barcode.boleto_ok(line)
    assert not barcode.boleto_ok(line[:32] + str((int(line[32]) + 1) % 10) + line[33:])


def test_arrecadacao_line_structure():
    blocks = ["84670000001", "43590024020", "24050002405", "02661000000"]  # product 8, value id 6 (mod 10)
    line = "".join(b + str(barcode.mod10(b)) for b in blocks)
    assert barcode.arrecadacao_ok(line) and barcode.is_valid_line(line)
    assert not barcode.arrecadacao_ok("7" + line[1:])  # not an arrecadação product
    assert not barcode.arrecadacao_ok(line[:11] + str((int(line[11]) + 1) % 10) + line[12:])


@pytest.mark.django_db(transaction=True)
def test_without_boleto_the_titulo_number_and_the_pix_br_code(emitter, billed, tmp_path):
    from agrega.pix.models import ChargeStatus, PixAccount, PixCharge

    invoice, other = billed(2)
    account = PixAccount.objects.create(name="PSP", base_url="https://psp.example/api/v2", client_id="c",
                                        chave="11222333000181")
    brcode = ("00020101021226880014br.gov.bcb.pix2566psp.example/qr/v2/cobv/9d36b84fc70b478fb95c12729b90ca25"
              "5204000053039865802BR5913PROVEDOR TESTE6008CURITIBA62070503***6304ABCD")
    PixCharge.objects.create(invoice=invoice, account=account, txid="agrega" + "0" * 20 + str(invoice.pk),
                             status=ChargeStatus.ACTIVE, pix_copia_e_cola=brcode, location="psp.example/qr/v2/x")
    PixCharge.objects.create(invoice=other, account=account, txid="agrega" + "1" * 20 + str(other.pk),
                             status=ChargeStatus.PENDING)  # not registered at the PSP yet: no QR
    now = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    doc = nfcom_create(invoice_id=invoice.pk, now=now)
    fat = etree.fromstring(bytes(doc.xml)).find(f"{Q}infNFCom/{Q}gFat")
    assert fat.findtext(Q + "codBarras") == f"{invoice.pk:011d}"
    assert fat.findtext(f"{Q}gPIX/{Q}urlQRCodePIX") == brcode
    pdf = tmp_path / "danfe.pdf"
    pdf.write_bytes(selectors.document_pdf(doc))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert f"Identificação da fatura: {invoice.pk:011d} (sem boleto)" in text and "Pague com PIX" in text
    second = nfcom_create(invoice_id=other.pk, now=now)
    assert etree.fromstring(bytes(second.xml)).find(f"{Q}infNFCom/{Q}gFat/{Q}gPIX") is None


@pytest.mark.django_db(transaction=True)
def test_a_boleto_line_goes_in_and_a_wrong_one_is_refused(emitter, billed):
    invoice = billed(1)[0]
    invoice.barcode = BB_LINE  # what a boleto app would give
    assert services.barcode_for(invoice) == BB_LINE
    invoice.barcode = BB_LINE[:-1] + "7"
    with pytest.raises(ApplicationError) as exc:
        services.barcode_for(invoice)
    assert exc.value.code == "barcode_invalid"
