"""Each SEFAZ check of the sandbox rejects what it must, with its code, and the client
reports it as a value (not an exception) with a plain-Portuguese message."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from agrega.fiscal.sefaz.client import SefazClient
from sefaz_sandbox.checks import N, check_digit
from sefaz_sandbox.pki import make_a1
from tests.sefaz.conftest import CNPJ, PASSWORD
from tests.sefaz.nfcom_docs import BRT, cancel_event, nfcom, sign

RAZAO_EXPIRED = "PROVEDOR VENCIDO"


def _rejected(client, xml: bytes, code: str, sefaz_admin, chave: str | None = None):
    result = client.autorizar(xml)
    assert (result.c_stat, result.authorised, result.n_prot, result.proc_xml) == (code, False, None, None)
    assert result.message and result.x_motivo
    if chave:
        assert sefaz_admin.document(chave) is None
    return result


def test_tampered_document_fails_its_signature(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    tampered = xml.replace(b"<xNome>CLIENTE DE TESTE</xNome>", b"<xNome>Outro Cliente</xNome>")
    assert tampered != xml
    _rejected(client, tampered, "297", sefaz_admin, chave)


def test_unsigned_document_is_refused(client, sefaz_admin):
    chave, xml = nfcom(a1=b"", password="", cnpj=CNPJ, sign_it=False)
    _rejected(client, xml, "215", sefaz_admin, chave)  # the schema requires ds:Signature


def test_wrong_check_digit(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ, wrong_dv=True)
    assert chave[43] != check_digit(chave[:43])
    _rejected(client, xml, "253", sefaz_admin, chave)


def test_key_not_matching_the_fields(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ, sign_it=False)
    root = etree.fromstring(xml)
    root.find(f"{N}infNFCom/{N}ide/{N}nNF").text = "7"  # the key still says another number
    signed = sign(root, root.find(N + "infNFCom"), a1, PASSWORD)
    _rejected(client, signed, "227", sefaz_admin, chave)


def test_emitter_not_the_certificate_holder(client, sefaz_sandbox, sefaz_admin):
    other = "99888777000166"
    other_a1 = make_a1(cnpj=other, razao="OUTRO PROVEDOR", password="x", ca=sefaz_sandbox.ca)
    chave, xml = nfcom(a1=other_a1, password="x", cnpj=other)  # signed by its own emitter...
    result = _rejected(client, xml, "213", sefaz_admin, chave)  # ...sent with our A1
    assert "certificado" in result.message


def test_schema_error(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ, sign_it=False)
    root = etree.fromstring(xml)
    root.find(f"{N}infNFCom/{N}ide/{N}mod").text = "55"
    signed = sign(root, root.find(N + "infNFCom"), a1, PASSWORD)
    result = _rejected(client, signed, "215", sefaz_admin, chave)
    assert "mod" in result.x_motivo


@pytest.mark.parametrize(("shift", "code"), [(dt.timedelta(days=1), "212"), (dt.timedelta(days=-45), "228")])
def test_emission_date_out_of_range(client, a1, sefaz_admin, shift, code):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ, when=dt.datetime.now(BRT) + shift)
    _rejected(client, xml, code, sefaz_admin, chave)


def test_certificate_with_cnpj_only_in_the_cn(sefaz_sandbox, sefaz_admin):
    cn_only = make_a1(cnpj=CNPJ, razao="PROVEDOR CN", password="y", ca=sefaz_sandbox.ca, san_cnpj=False)
    with SefazClient(url=sefaz_sandbox.url, pkcs12=cn_only, password="y", timeout=3.0,
                     ca_bundle=sefaz_sandbox.ca_path) as sefaz:
        chave, xml = nfcom(a1=cn_only, password="y", cnpj=CNPJ)
        assert sefaz.autorizar(xml).authorised


def test_duplicates(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ, serie=7, nnf=4242)
    first = client.autorizar(xml)
    assert first.authorised
    # The same document again: 204, settled by a consulta as the same authorisation.
    again = client.autorizar(xml)
    assert (again.c_stat, again.authorised, again.n_prot) == ("204", True, first.n_prot)
    # The same série and número under another key (another cNF): 539, not authorised.
    other_key, other = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ, serie=7, nnf=4242)
    assert other_key != chave
    _rejected(client, other, "539", sefaz_admin, other_key)
    # A different document under an authorised key: 204, and not taken as ours.
    root = etree.fromstring(xml)
    root.remove(root.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    root.find(f"{N}infNFCom/{N}dest/{N}xNome").text = "Outro Destinatario"
    changed = sign(root, root.find(N + "infNFCom"), a1, PASSWORD)
    clash = client.autorizar(changed)
    assert (clash.c_stat, clash.authorised, clash.proc_xml) == ("204", False, None)
    assert [d["chave"] for d in sefaz_admin.documents()].count(chave) == 1


def test_cancellation_checks(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    result = client.autorizar(xml)
    wrong = client.registrar_evento(cancel_event(a1=a1, password=PASSWORD, cnpj=CNPJ, chave=chave,
                                                 n_prot="4399000000000000"))
    assert (wrong.c_stat, wrong.registered) == ("222", False)
    unknown_key, _ = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ, sign_it=False)
    missing = client.registrar_evento(cancel_event(a1=a1, password=PASSWORD, cnpj=CNPJ, chave=unknown_key,
                                                   n_prot=result.n_prot))
    assert missing.c_stat == "217"
    options = sefaz_admin.set_options(cancel_hours=-32 * 24)  # the deadline before the authorisation
    try:
        late = client.registrar_evento(cancel_event(a1=a1, password=PASSWORD, cnpj=CNPJ, chave=chave,
                                                    n_prot=result.n_prot))
    finally:
        sefaz_admin.set_options(cancel_hours=120)
    assert options["cancel_hours"] == -32 * 24
    assert (late.c_stat, late.registered) == ("220", False)
    assert client.consultar(chave).situation == "authorised"


def test_signature_by_an_expired_certificate(client, sefaz_sandbox, sefaz_admin):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400)
    expired = make_a1(cnpj=CNPJ, razao=RAZAO_EXPIRED, password="z", ca=sefaz_sandbox.ca, not_before=past, days=30)
    chave, xml = nfcom(a1=expired, password="z", cnpj=CNPJ)  # sent with the valid A1
    result = _rejected(client, xml, "291", sefaz_admin, chave)
    assert "vencido" in result.message


def test_oversized_or_broken_compressed_payload(client, sefaz_admin):
    import base64
    import gzip

    bomb = base64.b64encode(gzip.compress(b"<a>" + b" " * (9 * 1024 * 1024) + b"</a>")).decode()
    assert len(bomb) < 100_000
    for payload in (bomb, base64.b64encode(gzip.compress(b"<NFCom/>")[:-6]).decode(), "***"):
        ret = client._call("recepcao", payload, writes=True)
        assert ret.findtext(N + "cStat") == "244"


def test_a_malformed_message_is_a_protocol_error(client):
    from agrega.fiscal.sefaz.client import SefazProtocolError

    with pytest.raises(SefazProtocolError):
        client._call("consulta", "não é um elemento", writes=False)
