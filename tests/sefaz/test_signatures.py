"""The sandbox's signature verdict agrees with xmlsec1 (an independent implementation),
and a ``ds:``-prefixed signature — valid XML-DSig — is refused as the SEFAZ does (404)."""

from __future__ import annotations

import subprocess

import pytest
from lxml import etree

from sefaz_sandbox import checks
from tests.sefaz.conftest import CNPJ, PASSWORD
from tests.sefaz.nfcom_docs import cancel_event, nfcom, sign_prefixed


def xmlsec1_verifies(xml: bytes, ca_path: str, id_node: str, tmp_path) -> bool:
    path = tmp_path / "doc.xml"
    path.write_bytes(xml)
    result = subprocess.run(["xmlsec1", "--verify", "--trusted-pem", ca_path, "--id-attr:Id", id_node, str(path)],
                            capture_output=True)
    return result.returncode == 0


def sandbox_verifies(xml: bytes, ca, signed_tag: str) -> checks.SignatureCheck:
    root = etree.fromstring(xml)
    return checks.verify_signature(root, root.find(checks.N + signed_tag), ca.cert)


@pytest.mark.parametrize("tamper", [None, (b"<xNome>CLIENTE DE TESTE</xNome>", b"<xNome>CLIENTE DE TESTF</xNome>"),
                                    (b"<vNF>109.80</vNF>", b"<vNF>109.81</vNF>")])
def test_nfcom_verdict_agrees_with_xmlsec1(sefaz_sandbox, a1, tmp_path, tamper):
    _, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    if tamper:
        assert tamper[0] in xml
        xml = xml.replace(*tamper)
    ours = sandbox_verifies(xml, sefaz_sandbox.ca, "infNFCom")
    assert ours.ok == xmlsec1_verifies(xml, sefaz_sandbox.ca_path, "infNFCom", tmp_path) == (tamper is None)
    if tamper:
        assert ours.c_stat == "297"


def test_event_verdict_agrees_with_xmlsec1(sefaz_sandbox, a1, tmp_path):
    chave, _ = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ, sign_it=False)
    xml = cancel_event(a1=a1, password=PASSWORD, cnpj=CNPJ, chave=chave, n_prot="4326000000000001")
    assert sandbox_verifies(xml, sefaz_sandbox.ca, "infEvento").ok
    assert xmlsec1_verifies(xml, sefaz_sandbox.ca_path, "infEvento", tmp_path)
    bad = xml.replace(b"4326000000000001", b"4326000000000002")
    assert not sandbox_verifies(bad, sefaz_sandbox.ca, "infEvento").ok
    assert not xmlsec1_verifies(bad, sefaz_sandbox.ca_path, "infEvento", tmp_path)


def test_prefixed_signature_is_refused(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ, sign_it=False)
    root = etree.fromstring(xml)
    prefixed = sign_prefixed(root, root.find(checks.N + "infNFCom"), a1, PASSWORD)
    assert b"<ds:Signature" in prefixed
    result = client.autorizar(prefixed)
    assert (result.c_stat, result.authorised) == ("404", False)
    assert "prefixo" in result.message
    assert sefaz_admin.document(chave) is None
