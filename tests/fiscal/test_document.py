"""The NFCom of a título: built from the real billing run, valid against the official
XSD, signed (verified by xmlsec1, an independent implementation), with the items,
classes and taxes of its date."""

from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest
from lxml import etree

from agrega.core.errors import ApplicationError
from agrega.fiscal import key as keys
from agrega.fiscal import xsd
from agrega.fiscal.models import DocStatus, NFCom
from agrega.fiscal.services import nfcom_create
from tests.fiscal.conftest import issue_time

NS = {"n": "http://www.portalfiscal.inf.br/nfcom"}


def xmlsec_verify(xml: bytes, cert_pem: bytes, id_node: str, tmp_path) -> subprocess.CompletedProcess:
    doc, pem = tmp_path / "doc.xml", tmp_path / "cert.pem"
    doc.write_bytes(xml)
    pem.write_bytes(cert_pem)
    return subprocess.run(["xmlsec1", "--verify", "--id-attr:Id", id_node, "--pubkey-cert-pem", str(pem), str(doc)],
                          capture_output=True, text=True)


@pytest.mark.django_db(transaction=True)
def test_nfcom_of_a_bill_validates_and_its_signature_verifies_with_xmlsec1(emitter, billed, a1, tmp_path):
    invoice = billed(1)[0]
    doc = nfcom_create(invoice_id=invoice.pk, now=issue_time())
    assert doc.status == DocStatus.SIGNED
    xml = bytes(doc.xml)
    assert xsd.errors(xml) == []
    result = xmlsec_verify(xml, a1[1], "infNFCom", tmp_path)
    assert result.returncode == 0 and "OK" in result.stdout + result.stderr, result.stderr
    # tampering breaks it (the verifier is really checking)
    tampered = xml.replace(b"<vNF>100.00</vNF>", b"<vNF>1.00</vNF>")
    assert tampered != xml
    assert xmlsec_verify(tampered, a1[1], "infNFCom", tmp_path).returncode != 0

    root = etree.fromstring(xml)
    assert root.findtext("n:infNFCom/n:ide/n:nNF", namespaces=NS) == str(doc.number)
    assert root.find("n:infNFCom", NS).get("Id") == "NFCom" + doc.key
    assert keys.is_valid_key(doc.key) and doc.key[6:20] == emitter.cnpj and doc.key[2:6] == "2612"
    dets = root.findall("n:infNFCom/n:det", NS)
    assert [d.findtext("n:prod/n:cClass", namespaces=NS) for d in dets] == ["0100401", "1100101"]
    scm, sva = dets
    assert scm.find("n:imposto/n:ICMS00", NS) is not None
    assert scm.findtext("n:imposto/n:ICMS00/n:pICMS", namespaces=NS) == "19.50"  # PR, in force in 12/2026
    assert sva.find("n:imposto/n:ICMS00", NS) is None and sva.find("n:imposto/n:ICMS40", NS) is not None
    # 2026: CBS 0,9 % and IBS 0,1 % (test year) on every item, PIS/Cofins still in force
    assert scm.findtext("n:imposto/n:IBSCBS/n:gIBSCBS/n:gCBS/n:pCBS", namespaces=NS) == "0.90"
    assert root.findtext("n:infNFCom/n:total/n:vNF", namespaces=NS) == str(invoice.amount)
    assert root.findtext("n:infNFCom/n:total/n:IBSCBSTot/n:gCBS/n:vCBS", namespaces=NS) == str(
        (invoice.amount * Decimal("0.009")).quantize(Decimal("0.01")))
    assert root.findtext("n:infNFCom/n:gFat/n:CompetFat", namespaces=NS) == "202612"
    assert root.findtext("n:infNFComSupl/n:qrCodNFCom", namespaces=NS).endswith(f"chNFCom={doc.key}&tpAmb=2")
    assert doc.scm_amount == Decimal("79.90") and doc.sva_amount == Decimal("20.10")


@pytest.mark.django_db(transaction=True)
def test_the_rules_of_the_document_date_apply(emitter, billed):
    from datetime import datetime

    from django.utils import timezone

    invoice = billed(1)[0]
    doc = nfcom_create(invoice_id=invoice.pk, now=timezone.make_aware(datetime(2027, 1, 2, 9)))
    root = etree.fromstring(bytes(doc.xml))
    assert root.find(".//n:PIS", NS) is None  # PIS/Cofins extinct in 2027
    assert root.findtext(".//n:gCBS/n:pCBS", namespaces=NS) == "8.70"


@pytest.mark.django_db(transaction=True)
def test_missing_customer_data_is_named_and_consumes_no_number(emitter, billed):
    invoice = billed(1, ibge_code="")[0]
    with pytest.raises(ApplicationError) as exc:
        nfcom_create(invoice_id=invoice.pk, now=issue_time())
    assert exc.value.code == "customer_fiscal_data_missing"
    assert [p["code"] for p in exc.value.extra["problems"]] == ["customer_ibge_code_missing"]
    assert not NFCom.objects.exists()
    from agrega.fiscal.models import Series
    assert Series.objects.get(serie=1).next_number == 1


@pytest.mark.django_db(transaction=True)
def test_one_nfcom_per_titulo_and_numbers_follow(emitter, billed):
    invoices = billed(3)
    docs = [nfcom_create(invoice_id=i.pk, now=issue_time()) for i in invoices]
    again = nfcom_create(invoice_id=invoices[0].pk, now=issue_time())
    assert again.pk == docs[0].pk
    assert sorted(d.number for d in docs) == [1, 2, 3]
