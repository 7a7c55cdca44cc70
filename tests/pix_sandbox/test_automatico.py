"""Pix Automático on the sandbox: rec, solicrec, cobr, retentativa and their webhooks."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from pix_sandbox.conformance import validate_callback
from pix_sandbox.store import today

from .conftest import call
from .test_cobv_pix import PERIOD, txid



@pytest.fixture
def account(pix_sandbox, pix_spec):
    acc = pix_sandbox.new_account()
    yield acc
    acc.payer.set_cobr_window(True)
    acc.payer.close()


@pytest.fixture
def api(account, receiver):
    with account.client() as client:
        assert call(client, "PUT", "/webhookrec", {"webhookUrl": receiver.url}).status_code == 200
        assert call(client, "PUT", "/webhookcobr", {"webhookUrl": receiver.url}).status_code == 200
        yield client


def rec_body(policy: str = "PERMITE_3R_7D", **valor) -> dict:
    return {
        "vinculo": {"contrato": "CT-00042", "objeto": "Internet 500 Mb",
                    "devedor": {"cpf": "12345678909", "nome": "Maria da Silva"}},
        "calendario": {"dataInicial": (today() + dt.timedelta(days=1)).isoformat(), "periodicidade": "MENSAL"},
        "valor": valor or {"valorRec": "99.90"},
        "politicaRetentativa": policy,
    }


def solicrec_body(id_rec: str) -> dict:
    return {"idRec": id_rec,
            "calendario": {"dataExpiracaoSolicitacao": (dt.datetime.now(dt.timezone.utc)
                                                        + dt.timedelta(days=3)).isoformat()},
            "destinatario": {"conta": "123456", "ispbParticipante": "60701190", "agencia": "0001",
                             "cpf": "12345678909"}}


def cobr_body(id_rec: str, due: dt.date, amount: str = "99.90") -> dict:
    return {"idRec": id_rec, "calendario": {"dataDeVencimento": due.isoformat()},
            "valor": {"original": amount}, "ajusteDiaUtil": True,
            "recebedor": {"conta": "998877", "tipoConta": "CORRENTE", "agencia": "0001"},
            "infoAdicional": "Fatura de internet"}


def approved_rec(account, api, policy="PERMITE_3R_7D") -> str:
    id_rec = call(api, "POST", "/rec", rec_body(policy)).json()["idRec"]
    call(api, "POST", "/solicrec", solicrec_body(id_rec))
    account.payer.approve_rec(id_rec)
    return id_rec


def hooks(receiver, kind: str) -> list[dict]:
    out = []
    for c in receiver.calls:
        if c["path"].endswith("/" + kind):
            validate_callback(kind, c["body"])
            out += c["body"]["recs" if kind == "rec" else "cobsr"]
    return out


def test_rec_solicrec_approval_and_webhookrec(account, api, receiver):
    created = call(api, "POST", "/rec", rec_body())
    assert created.status_code == 201
    rec = created.json()
    assert len(rec["idRec"]) == 29 and rec["status"] == "CRIADA"
    assert rec["recebedor"]["cnpj"] and rec["atualizacao"][0]["status"] == "CRIADA"
    sol = call(api, "POST", "/solicrec", solicrec_body(rec["idRec"]))
    assert sol.status_code == 201 and sol.json()["status"] == "ENVIADA"
    id_solic = sol.json()["idSolicRec"]
    assert call(api, "POST", "/solicrec", solicrec_body(rec["idRec"])).status_code == 400  # one active request
    account.payer.approve_rec(rec["idRec"])
    got = call(api, "GET", f"/rec/{rec['idRec']}").json()
    assert got["status"] == "APROVADA" and got["pagador"]["ispbParticipante"] == "60701190"
    assert [a["status"] for a in got["atualizacao"]] == ["CRIADA", "APROVADA"]
    assert call(api, "GET", f"/solicrec/{id_solic}").json()["status"] == "ACEITA"
    assert account.payer.wait_webhooks(10)
    assert [r["status"] for r in hooks(receiver, "rec")] == ["CRIADA", "APROVADA"]
    listed = call(api, "GET", "/rec", params={**PERIOD, "status": "APROVADA"}).json()
    assert [r["idRec"] for r in listed["recs"]] == [rec["idRec"]]


def test_rec_rejected_and_cancelled(account, api, receiver):
    rejected = call(api, "POST", "/rec", rec_body()).json()["idRec"]
    account.payer.reject_rec(rejected)
    rec = call(api, "GET", f"/rec/{rejected}").json()
    assert rec["status"] == "REJEITADA" and rec["encerramento"]["rejeicao"]["codigo"] == "AP13"
    assert call(api, "PATCH", f"/rec/{rejected}", {"status": "CANCELADA"}).status_code == 400

    id_rec = approved_rec(account, api)
    due = today() + dt.timedelta(days=5)
    txid_ = txid()
    call(api, "PUT", f"/cobr/{txid_}", cobr_body(id_rec, due))
    cancelled = call(api, "PATCH", f"/rec/{id_rec}", {"status": "CANCELADA"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELADA"
    assert cancelled.json()["encerramento"]["cancelamento"]["solicitante"] == "USUARIO_RECEBEDOR"
    assert call(api, "GET", f"/cobr/{txid_}").json()["status"] == "CANCELADA"  # its cobr go with it
    assert account.payer.wait_webhooks(10)
    assert "CANCELADA" in [r["status"] for r in hooks(receiver, "rec")]
    assert "CANCELADA" in [c["status"] for c in hooks(receiver, "cobr")]


def test_the_payer_cancels_an_approved_recurrence(account, api, receiver):
    id_rec = approved_rec(account, api)
    account.payer.cancel_rec(id_rec)
    rec = call(api, "GET", f"/rec/{id_rec}").json()
    assert rec["status"] == "CANCELADA" and rec["encerramento"]["cancelamento"]["solicitante"] == "USUARIO_PAGADOR"


@pytest.mark.parametrize("change, prop", [
    ({"valor": {"valorRec": "10.00", "valorMinimoRecebedor": "5.00"}}, "rec.valor"),
    ({"politicaRetentativa": "SEMPRE"}, "rec.politicaRetentativa"),
    ({"calendario": {"dataInicial": "2001-01-01", "periodicidade": "MENSAL"}}, "rec.calendario.dataInicial"),
    ({"calendario": {"dataInicial": (today() + dt.timedelta(days=1)).isoformat(), "periodicidade": "DIARIA"}},
     "rec.calendario.periodicidade"),
])
def test_rec_violations(account, api, change, prop):
    response = call(api, "POST", "/rec", {**rec_body(), **change}, check_request=False)
    assert response.status_code == 400 and response.json()["type"].endswith("/RecOperacaoInvalida")
    assert prop in [v["propriedade"] for v in response.json()["violacoes"]]


def test_cobr_paid_on_settlement_day(account, api, receiver):
    id_rec = approved_rec(account, api)
    due = today() + dt.timedelta(days=3)
    t = txid()
    created = call(api, "PUT", f"/cobr/{t}", cobr_body(id_rec, due))
    assert created.status_code == 201 and created.json()["status"] == "ATIVA"
    cobr = call(api, "GET", f"/cobr/{t}").json()
    assert cobr["tentativas"][0]["status"] == "AGENDADA" and cobr["tentativas"][0]["dataLiquidacao"] == due.isoformat()
    assert account.payer.settle_cobr(due - dt.timedelta(days=1)) == []  # nothing due that day
    settled = account.payer.settle_cobr(due)
    assert [c["txid"] for c in settled] == [t]
    cobr = call(api, "GET", f"/cobr/{t}").json()
    assert cobr["status"] == "CONCLUIDA" and cobr["tentativas"][0]["status"] == "PAGA"
    e2e = cobr["pix"][0]["endToEndId"]
    assert call(api, "GET", f"/pix/{e2e}").json()["valor"] == "99.90"  # a received Pix like any other
    assert account.payer.wait_webhooks(10)
    notes = hooks(receiver, "cobr")
    assert [n["status"] for n in notes] == ["ATIVA", "CONCLUIDA"]
    assert notes[-1]["pix"][0]["endToEndId"] == e2e
    listed = call(api, "GET", "/cobr", params={**PERIOD, "idRec": id_rec}).json()
    assert [c["txid"] for c in listed["cobsr"]] == [t]


def test_cobr_rules(account, api):
    id_rec = approved_rec(account, api)
    pending = call(api, "POST", "/rec", rec_body()).json()["idRec"]
    late = call(api, "PUT", f"/cobr/{txid()}", cobr_body(id_rec, today() + dt.timedelta(days=1)))
    assert late.status_code == 400 and late.json()["type"].endswith("/CobROperacaoInvalida")
    early = call(api, "PUT", f"/cobr/{txid()}", cobr_body(id_rec, today() + dt.timedelta(days=11)))
    assert early.status_code == 400
    assert call(api, "PUT", f"/cobr/{txid()}", cobr_body(pending, today() + dt.timedelta(days=4))).status_code == 400
    wrong_amount = call(api, "PUT", f"/cobr/{txid()}", cobr_body(id_rec, today() + dt.timedelta(days=4), "50.00"))
    assert "cobr.valor.original" in [v["propriedade"] for v in wrong_amount.json()["violacoes"]]
    first = call(api, "POST", "/cobr", cobr_body(id_rec, today() + dt.timedelta(days=4)))
    assert first.status_code == 201
    # one cobr per cycle (month) of the recurrence, unless the first is cancelled
    other_day = today() + dt.timedelta(days=4)
    same = call(api, "PUT", f"/cobr/{txid()}", cobr_body(id_rec, other_day))
    assert same.status_code == 400
    assert call(api, "PATCH", f"/cobr/{first.json()['txid']}", {"status": "CANCELADA"}).status_code == 200
    assert call(api, "PUT", f"/cobr/{txid()}", cobr_body(id_rec, other_day)).status_code == 201
    # the window check can be switched off for tests that bill a far date
    account.payer.set_cobr_window(False)
    next_year = call(api, "PUT", f"/cobr/{txid()}", cobr_body(id_rec, today() + dt.timedelta(days=400)))
    assert next_year.status_code == 201


def test_failed_cobr_is_retried_under_the_policy(account, api, receiver):
    id_rec = approved_rec(account, api)
    due = today() + dt.timedelta(days=2)
    t = txid()
    call(api, "PUT", f"/cobr/{t}", cobr_body(id_rec, due))
    retry_day = due + dt.timedelta(days=1)
    busy = call(api, "POST", f"/cobr/{t}/retentativa/{retry_day.isoformat()}")
    assert busy.status_code == 400  # the first attempt is still scheduled
    account.payer.settle_cobr(due, outcome="fail")
    cobr = call(api, "GET", f"/cobr/{t}").json()
    assert cobr["status"] == "ATIVA" and cobr["tentativas"][0]["status"] == "REJEITADA"
    assert cobr["tentativas"][0]["rejeicao"]["codigo"] == "AM02"
    past = call(api, "POST", f"/cobr/{t}/retentativa/{today().isoformat()}")
    assert past.status_code == 400  # data must be in the future
    retried = call(api, "POST", f"/cobr/{t}/retentativa/{retry_day.isoformat()}")
    assert retried.status_code == 201
    assert [a["tipo"] for a in retried.json()["tentativas"]] == ["AGND", "NTAG"]
    account.payer.settle_cobr(retry_day)
    assert call(api, "GET", f"/cobr/{t}").json()["status"] == "CONCLUIDA"
    assert account.payer.wait_webhooks(10)
    assert hooks(receiver, "cobr")[-1]["status"] == "CONCLUIDA"


def test_no_retry_policy_and_fatal_codes_end_the_cobr(account, api):
    strict = approved_rec(account, api, policy="NAO_PERMITE")
    due = today() + dt.timedelta(days=2)
    t = txid()
    call(api, "PUT", f"/cobr/{t}", cobr_body(strict, due))
    account.payer.settle_cobr(due, outcome="fail", txid=t)
    assert call(api, "GET", f"/cobr/{t}").json()["status"] == "REJEITADA"
    no = call(api, "POST", f"/cobr/{t}/retentativa/{(due + dt.timedelta(days=1)).isoformat()}")
    assert no.status_code == 400

    lenient = approved_rec(account, api)
    t2 = txid()
    call(api, "PUT", f"/cobr/{t2}", cobr_body(lenient, due))
    account.payer.settle_cobr(due, outcome="fail", txid=t2, codigo="MSUC")
    assert call(api, "GET", f"/cobr/{t2}").json()["status"] == "REJEITADA"


def test_webhookrec_and_webhookcobr_crud(account, api, receiver):
    assert call(api, "GET", "/webhookrec").json()["webhookUrl"] == receiver.url
    assert call(api, "GET", "/webhookcobr").json()["webhookUrl"] == receiver.url
    assert call(api, "DELETE", "/webhookrec").status_code == 204
    assert call(api, "GET", "/webhookrec").status_code == 404
    assert call(api, "DELETE", "/webhookcobr").status_code == 204
    assert call(api, "DELETE", "/webhookcobr").status_code == 404
    assert call(api, "PUT", "/webhookcobr", {"webhookUrl": 42}, check_request=False).status_code == 400


def test_payer_errors(account, api):
    with pytest.raises(httpx.HTTPStatusError):
        account.payer.approve_rec("RR" + "0" * 27)
    id_rec = approved_rec(account, api)
    with pytest.raises(httpx.HTTPStatusError):
        account.payer.approve_rec(id_rec)  # approved already
