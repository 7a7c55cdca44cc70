"""The client against the sandbox, service by service (real process, real mTLS)."""

from __future__ import annotations

import ssl

import httpx
import pytest
from lxml import etree

from agrega.fiscal.sefaz.client import SefazClient, SefazConfigError
from sefaz_sandbox import checks
from tests.sefaz.conftest import CNPJ, PASSWORD
from tests.sefaz.nfcom_docs import cancel_event, nfcom


def test_status_in_service(client):
    status = client.status_servico()
    assert (status.c_stat, status.in_service) == ("107", True)
    assert "funcionando" in status.message


def test_authorise_consult_cancel(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    result = client.autorizar(xml)
    assert result.authorised and result.c_stat == "100" and result.chave == chave
    assert len(result.n_prot) == 16
    proc = etree.fromstring(result.proc_xml)
    assert checks.schema_errors(proc, "nfcomProc") == []
    assert proc.findtext(f".//{checks.N}nProt") == result.n_prot
    assert sefaz_admin.document(chave)["n_prot"] == result.n_prot

    found = client.consultar(chave)
    assert (found.situation, found.c_stat, found.n_prot) == ("authorised", "100", result.n_prot)

    event = client.registrar_evento(cancel_event(a1=a1, password=PASSWORD, cnpj=CNPJ, chave=chave,
                                                 n_prot=result.n_prot))
    assert event.registered and event.c_stat == "135" and len(event.n_prot) == 16
    assert checks.schema_errors(etree.fromstring(event.proc_xml), "procEventoNFCom") == []

    found = client.consultar(chave)
    assert (found.situation, found.c_stat) == ("cancelled", "101")
    assert len(found.events) == 1

    again = client.registrar_evento(cancel_event(a1=a1, password=PASSWORD, cnpj=CNPJ, chave=chave,
                                                 n_prot=result.n_prot))
    assert (again.registered, again.c_stat) == (False, "218")


def test_consult_unknown_key(client):
    chave, _ = nfcom(a1=b"", password="", cnpj=CNPJ, sign_it=False)
    found = client.consultar(chave)
    assert (found.situation, found.c_stat, found.n_prot) == ("not_found", "217", None)


def test_request_without_client_certificate_is_refused(sefaz_sandbox):
    with pytest.raises(httpx.TransportError):
        httpx.post(sefaz_sandbox.url + "/WS/NFComStatusServico/NFComStatusServico.asmx",
                   content=b"<x/>", verify=ssl.create_default_context(cafile=sefaz_sandbox.ca_path),
                   timeout=5)


def test_certificate_from_another_ca_is_refused(sefaz_sandbox):
    from sefaz_sandbox.pki import make_a1

    foreign = make_a1(cnpj=CNPJ, razao="OUTRA AC", password="x")  # its own CA
    with SefazClient(url=sefaz_sandbox.url, pkcs12=foreign, password="x", timeout=3.0,
                     ca_bundle=sefaz_sandbox.ca_path) as sefaz:
        with pytest.raises(Exception) as info:
            sefaz.status_servico()
    assert info.value.code in ("sefaz_unavailable", "sefaz_outcome_unknown")


def test_wrong_a1_password(sefaz_sandbox, a1):
    with pytest.raises(SefazConfigError):
        SefazClient(url=sefaz_sandbox.url, pkcs12=a1, password="errada", ca_bundle=sefaz_sandbox.ca_path)


def test_the_egress_policy_applies(sefaz_sandbox, a1, settings):
    settings.AGREGA_EGRESS_ALLOW = []  # production's default: no local addresses
    with SefazClient(url=sefaz_sandbox.url, pkcs12=a1, password=PASSWORD, timeout=3.0,
                     ca_bundle=sefaz_sandbox.ca_path) as sefaz:
        with pytest.raises(SefazConfigError) as info:
            sefaz.status_servico()
    assert info.value.code == "egress_refused"


def test_unreachable_sefaz_is_unavailable(sefaz_sandbox, a1):
    import socket

    from agrega.fiscal.sefaz.client import SefazUnavailable

    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with SefazClient(url=f"https://127.0.0.1:{port}", pkcs12=a1, password=PASSWORD, timeout=3.0,
                     ca_bundle=sefaz_sandbox.ca_path) as sefaz:
        chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
        with pytest.raises(SefazUnavailable):
            sefaz.autorizar(xml)


def test_a_wrong_address_is_a_protocol_error(sefaz_sandbox, a1):
    from agrega.fiscal.sefaz.client import SefazProtocolError

    with SefazClient(url=sefaz_sandbox.url + "/errado", pkcs12=a1, password=PASSWORD, timeout=3.0,
                     ca_bundle=sefaz_sandbox.ca_path) as sefaz:
        with pytest.raises(SefazProtocolError):
            sefaz.autorizar(nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)[1])
