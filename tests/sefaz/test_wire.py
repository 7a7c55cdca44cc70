"""The pieces under the services: the key's check digit, the certificate's CNPJ, the
addresses per UF, every answer valid against the official schema, persistence."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from agrega.fiscal.sefaz import codes, urls
from sefaz_sandbox import app as sandbox_app
from sefaz_sandbox import checks
from sefaz_sandbox.pki import cnpj_of, load_a1, make_a1, make_ca
from sefaz_sandbox.testing import SandboxProcess
from tests.sefaz.conftest import CNPJ, PASSWORD
from tests.sefaz.nfcom_docs import cancel_event, nfcom


def test_check_digit_of_the_manual_sample():
    # nfelib's sample NFCom (from the MOC's examples) carries key ...12345675: DV 5.
    assert checks.check_digit("4125030611747300015062001000000123101234567") == "5"


def _reference_dv(key43: str) -> str:
    """The MOC's rule written the long way: weights 2..9 repeating from the right."""
    weights = [2 + (i % 8) for i in range(43)]
    total = sum((ord(c) - 48) * w for c, w in zip(reversed(key43), weights))
    return "0" if total % 11 in (0, 1) else str(11 - total % 11)


key_chars = st.text(alphabet=string.digits, min_size=6, max_size=6)
cnpj_chars = st.text(alphabet=string.digits + string.ascii_uppercase, min_size=12, max_size=12).map(
    lambda base: base + "00")
tail_chars = st.text(alphabet=string.digits, min_size=23, max_size=23)


@settings(max_examples=300, deadline=None)
@given(key_chars, cnpj_chars, tail_chars)
def test_check_digit_property(head, cnpj, tail):
    key43 = head + cnpj + tail
    digit = checks.check_digit(key43)
    assert digit == _reference_dv(key43) and digit in string.digits
    # A typo in the last digit (weight 2) always moves the remainder; only the 0/1 pair
    # shares a digit.
    changed = key43[:-1] + str((int(key43[-1]) + 1) % 10)
    if checks.check_digit(changed) == digit:
        assert digit == "0"


def test_cnpj_of_certificates():
    ca = make_ca()
    _, cert, _ = load_a1(make_a1(cnpj="12ABC34501DE35", razao="ALFA", password="p", ca=ca), "p")
    assert cnpj_of(cert) == "12ABC34501DE35"
    _, cn_only, _ = load_a1(make_a1(cnpj=CNPJ, razao="BETA", password="p", ca=ca, san_cnpj=False), "p")
    assert cnpj_of(cn_only) == CNPJ
    assert checks.issued_by(cert, ca.cert) == ""
    assert checks.issued_by(cert, make_ca().cert) != ""


def test_urls_per_uf():
    assert urls.base_url("SP", "homologacao") == "https://nfcom-homologacao.svrs.rs.gov.br"
    assert urls.base_url("rs", "1") == "https://nfcom.svrs.rs.gov.br"
    assert urls.base_url("SP", "2", override="https://127.0.0.1:9/") == "https://127.0.0.1:9"
    assert len(urls.AUTHORISERS) == 27
    with pytest.raises(ValueError):
        urls.base_url("XX", "2")


def test_every_sandbox_code_has_a_plain_message():
    assert set(sandbox_app.MOTIVOS) <= set(codes.MESSAGES)
    assert codes.explain("123", "Rejeição: algo") == "A SEFAZ respondeu 123: Rejeição: algo"


def test_every_answer_is_valid_against_the_official_schema(client, a1):
    """Raw answers of the four services (authorised, rejected, consulted with an event,
    not found, status) against retNFCom, retConsSitNFCom, retEventoNFCom and
    retConsStatServNFCom."""
    answers = []

    def raw(service: str, content) -> etree._Element:
        from agrega.fiscal.sefaz.client import N as _N  # noqa: F401 - same namespace

        ret = client._call(service, content, writes=False)
        answers.append(ret)
        return ret

    import base64
    import gzip

    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    ok = raw("recepcao", base64.b64encode(gzip.compress(xml)).decode())
    n_prot = ok.findtext(f".//{checks.N}nProt")
    raw("recepcao", base64.b64encode(gzip.compress(xml)).decode())  # 204
    raw("recepcao", "bm90IGd6aXA=")  # 244
    raw("evento", etree.fromstring(cancel_event(a1=a1, password=PASSWORD, cnpj=CNPJ, chave=chave, n_prot=n_prot)))
    cons = etree.Element(checks.N + "consSitNFCom", nsmap={None: checks.NS}, versao="1.00")
    for tag, value in (("tpAmb", "2"), ("xServ", "CONSULTAR"), ("chNFCom", chave)):
        etree.SubElement(cons, checks.N + tag).text = value
    raw("consulta", cons)
    cons.find(checks.N + "chNFCom").text = nfcom(a1=b"", password="", cnpj=CNPJ, sign_it=False)[0]
    raw("consulta", cons)
    stat = etree.Element(checks.N + "consStatServNFCom", nsmap={None: checks.NS}, versao="1.00")
    etree.SubElement(stat, checks.N + "tpAmb").text = "2"
    etree.SubElement(stat, checks.N + "xServ").text = "STATUS"
    raw("status", stat)
    seen = []
    for ret in answers:
        name = etree.QName(ret).localname
        seen.append((name, ret.findtext(f".//{checks.N}cStat")))
        assert checks.schema_errors(etree.fromstring(etree.tostring(ret)), name) == [], name
    assert seen == [("retNFCom", "100"), ("retNFCom", "204"), ("retNFCom", "244"),
                    ("retEventoNFCom", "135"), ("retConsSitNFCom", "101"), ("retConsSitNFCom", "217"),
                    ("retConsStatServNFCom", "107")]


def test_state_survives_a_restart(tmp_path):
    from agrega.fiscal.sefaz.client import SefazClient

    data = str(tmp_path / "sefaz.json")
    pki = str(tmp_path / "pki")
    with SandboxProcess(data_path=data, pki_dir=pki) as sandbox:
        a1 = make_a1(cnpj=CNPJ, razao="PERSISTE", password="p", ca=sandbox.ca)
        chave, xml = nfcom(a1=a1, password="p", cnpj=CNPJ)
        with SefazClient(url=sandbox.url, pkcs12=a1, password="p", ca_bundle=sandbox.ca_path) as sefaz:
            n_prot = sefaz.autorizar(xml).n_prot
    with SandboxProcess(data_path=data, pki_dir=pki) as sandbox:  # same CA: the same A1 works
        with SefazClient(url=sandbox.url, pkcs12=a1, password="p", ca_bundle=sandbox.ca_path) as sefaz:
            found = sefaz.consultar(chave)
            assert (found.situation, found.n_prot) == ("authorised", n_prot)
            assert sefaz.autorizar(nfcom(a1=a1, password="p", cnpj=CNPJ)[1]).n_prot != n_prot


@pytest.mark.parametrize(("authorised", "deadline"), [
    ("2026-01-10T09:00:00-03:00", "2026-02-05T23:59:59-03:00"),  # 120 h after 31/01 ends
    ("2026-02-28T23:59:00-03:00", "2026-03-05T23:59:59-03:00"),
    ("2026-12-31T10:00:00-03:00", "2027-01-05T23:59:59-03:00"),
    ("2026-06-01T02:00:00+00:00", "2026-06-05T23:59:59-03:00"),  # 31/05 23:00 in Brasília
])
def test_cancellation_deadline(authorised, deadline):
    import datetime as dt

    limit = sandbox_app.cancel_deadline(authorised, 120)
    last_ok = dt.datetime.fromisoformat(deadline)
    assert last_ok < limit <= last_ok + dt.timedelta(seconds=1)


def test_agrega_sefaz_sandbox_command(tmp_path):
    """``agrega sefaz-sandbox`` runs the same server: it creates the PKI, answers the
    status service over mTLS (paralisado from the command line) and stops cleanly on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from agrega.fiscal.sefaz.client import SefazClient
    from sefaz_sandbox.pki import TestCA

    port_file, data = tmp_path / "port", tmp_path / "state.json"  # --data: loaded if present
    process = subprocess.Popen(
        [sys.executable, "-m", "agrega.cli", "sefaz-sandbox", "--pki", str(tmp_path / "pki"), "--port", "0",
         "--port-file", str(port_file), "--data", str(data), "--paralisado", "109"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
            time.sleep(0.05)
        ca = TestCA.load(tmp_path / "pki")
        a1 = make_a1(cnpj=CNPJ, razao="CLI", password="c", ca=ca)
        with SefazClient(url=f"https://127.0.0.1:{port_file.read_text()}", pkcs12=a1, password="c",
                         ca_bundle=str(tmp_path / "pki" / "ca.pem")) as sefaz:
            assert sefaz.status_servico().c_stat == "109"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    assert "Sandbox SEFAZ (NFCom) ouvindo em https://127.0.0.1:" in process.stdout.read().decode()


def test_envelope_shape(client):
    """SOAP 1.2 with nfcomCabecMsg (cUF, versaoDados) and nfcomDadosMsg in the service's
    WSDL namespace; recepção carries text (the GZip+Base64 NFCom)."""
    env = etree.fromstring(client.envelope("recepcao", "SDRzSQ=="))
    soap = "{http://www.w3.org/2003/05/soap-envelope}"
    ns = "{http://www.portalfiscal.inf.br/nfcom/wsdl/NFComRecepcao}"
    assert env.tag == soap + "Envelope"
    assert env.findtext(f"{soap}Header/{ns}nfcomCabecMsg/{ns}cUF") == "43"
    assert env.findtext(f"{soap}Header/{ns}nfcomCabecMsg/{ns}versaoDados") == "1.00"
    assert env.findtext(f"{soap}Body/{ns}nfcomDadosMsg") == "SDRzSQ=="
