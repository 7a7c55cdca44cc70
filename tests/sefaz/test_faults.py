"""The fault switches, and what the client makes of them: an unknown outcome is settled
by a consulta, never by a blind re-send; an unavailable SEFAZ keeps the document."""

from __future__ import annotations

import pytest

from agrega.fiscal.sefaz.client import SefazOutcomeUnknown, SefazUnavailable
from tests.sefaz.conftest import CNPJ, PASSWORD
from tests.sefaz.nfcom_docs import cancel_event, nfcom


def test_lost_answer_then_consulta_finds_it_authorised(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    sefaz_admin.set_faults(lost_next=1)
    with pytest.raises(SefazOutcomeUnknown):
        client.autorizar(xml)
    found = client.consultar(chave)
    assert found.situation == "authorised" and found.n_prot
    assert sefaz_admin.faults()["injected"]["lost"] == 1
    # Sending it again anyway is harmless: 204, the same protocol, still one document.
    again = client.autorizar(xml)
    assert (again.c_stat, again.authorised, again.n_prot) == ("204", True, found.n_prot)
    assert [d["chave"] for d in sefaz_admin.documents()].count(chave) == 1


def test_timeout_is_an_unknown_outcome_and_nothing_was_applied(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    sefaz_admin.set_faults(timeout_next=1, hang_seconds=6)  # the client gives up after 3 s
    with pytest.raises(SefazOutcomeUnknown):
        client.autorizar(xml)
    assert client.consultar(chave).situation == "not_found"
    assert client.autorizar(xml).c_stat == "100"


def test_lost_event_answer(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    n_prot = client.autorizar(xml).n_prot
    sefaz_admin.set_faults(lost_next=1)
    with pytest.raises(SefazOutcomeUnknown):
        client.registrar_evento(cancel_event(a1=a1, password=PASSWORD, cnpj=CNPJ, chave=chave, n_prot=n_prot))
    assert client.consultar(chave).situation == "cancelled"


@pytest.mark.parametrize("code", ["108", "109"])
def test_paralisado(client, a1, sefaz_admin, code):
    sefaz_admin.set_faults(paralisado=code)
    status = client.status_servico()
    assert (status.c_stat, status.in_service) == (code, False)
    assert "fora do ar" in status.message
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    with pytest.raises(SefazUnavailable):
        client.autorizar(xml)
    sefaz_admin.clear_faults()
    assert client.consultar(chave).situation == "not_found"
    assert client.autorizar(xml).authorised  # the same document goes when it returns


def test_http_503_is_unavailable_and_502_unknown(client, a1, sefaz_admin):
    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    sefaz_admin.set_faults(http_error=503)
    with pytest.raises(SefazUnavailable):
        client.autorizar(xml)
    sefaz_admin.set_faults(http_error=502)
    with pytest.raises(SefazOutcomeUnknown):
        client.autorizar(xml)
    with pytest.raises(SefazUnavailable):  # a read that fails is only unavailable
        client.consultar(chave)


def test_forced_rejections_for_the_next_documents(client, a1, sefaz_admin):
    sefaz_admin.set_faults(reject_next=2, reject_code="999")
    codes = [client.autorizar(nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)[1]).c_stat for _ in range(3)]
    assert codes == ["999", "999", "100"]


def test_bad_fault_settings_are_refused(sefaz_admin):
    import httpx

    with pytest.raises(httpx.HTTPStatusError) as info:
        sefaz_admin.set_faults(paralisado="107", lost_next=-1)
    assert set(info.value.response.json()["fields"]) == {"paralisado", "lost_next"}


def test_the_same_document_sent_concurrently_is_authorised_once(client, a1, sefaz_admin):
    from concurrent.futures import ThreadPoolExecutor

    chave, xml = nfcom(a1=a1, password=PASSWORD, cnpj=CNPJ)
    sefaz_admin.set_faults(latency_ms=200)  # all eight are in flight together
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: client.autorizar(xml), range(8)))
    assert sorted(r.c_stat for r in results) == ["100"] + ["204"] * 7
    assert len({r.n_prot for r in results}) == 1 and all(r.authorised for r in results)
    assert [d["chave"] for d in sefaz_admin.documents()].count(chave) == 1
