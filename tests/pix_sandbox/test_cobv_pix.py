"""The API Pix subset Agrega uses, over real HTTP, each exchange checked against the yaml."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import httpx
import pytest

from pix_sandbox.store import next_business_day, today
from pix_sandbox.testing import SandboxProcess

from .conftest import call



@pytest.fixture
def account(pix_sandbox, pix_spec):
    return pix_sandbox.new_account()


@pytest.fixture
def api(account):
    with account.client() as client:
        yield client


def cobv_body(chave: str, *, due: dt.date | None = None, amount: str = "99.90", **valor) -> dict:
    return {
        "calendario": {"dataDeVencimento": (due or today() + dt.timedelta(days=10)).isoformat(),
                       "validadeAposVencimento": 30},
        "devedor": {"cpf": "12345678909", "nome": "Maria da Silva", "email": "maria@example.com"},
        "valor": {"original": amount, **valor},
        "chave": chave,
        "solicitacaoPagador": "Mensalidade",
    }


def txid() -> str:
    return uuid.uuid4().hex  # 32 alphanumerics: inside [a-zA-Z0-9]{26,35}


PERIOD = {"inicio": "2000-01-01T00:00:00Z", "fim": "2100-01-01T00:00:00Z"}


def test_token_needs_the_client_credentials_and_grants_only_known_scopes(pix_sandbox, account):
    basic = (account.client_id, account.client_secret)
    ok = httpx.post(account.token_url, data={"grant_type": "client_credentials", "scope": "cobv.write cobv.read"},
                    auth=basic)
    assert ok.status_code == 200
    assert ok.json()["token_type"] == "Bearer" and ok.json()["scope"] == "cobv.read cobv.write"
    assert ok.json()["expires_in"] > 0
    wrong = httpx.post(account.token_url, data={"grant_type": "client_credentials"},
                       auth=(account.client_id, "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    scope = httpx.post(account.token_url, data={"grant_type": "client_credentials", "scope": "nope.write"},
                       auth=basic)
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"
    grant = httpx.post(account.token_url, data={"grant_type": "password"}, auth=basic)
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    # a token without cobv.write may read but not create
    token = ok.json()["access_token"]
    read_only = httpx.post(account.token_url, data={"grant_type": "client_credentials", "scope": "cobv.read"},
                           auth=basic).json()["access_token"]
    put = httpx.put(f"{account.url}/cobv/{txid()}", json=cobv_body(account.chave),
                    headers={"authorization": f"Bearer {read_only}"})
    assert put.status_code == 403 and put.json()["type"].endswith("/AcessoNegado")
    assert httpx.get(f"{account.url}/cobv/{txid()}", headers={"authorization": f"Bearer {token}"}).status_code == 404
    assert httpx.get(f"{account.url}/cobv/{txid()}").status_code == 401


def test_expired_tokens_answer_401_until_a_new_token(pix_sandbox, account, api):
    assert call(api, "PUT", f"/cobv/{txid()}", cobv_body(account.chave)).status_code == 201
    old = api.token
    assert account.payer.expire_tokens(account.client_id) >= 1
    stale = httpx.get(f"{account.url}/cobv", params=PERIOD, headers={"authorization": f"Bearer {old}"})
    assert stale.status_code == 401 and stale.headers["www-authenticate"].startswith("Bearer")
    assert api.request("GET", "/cobv", params=PERIOD).status_code == 200  # renewed the token
    assert api.token != old


def test_token_ttl_is_honoured():
    with SandboxProcess(args=["--client", "c:s:k", "--token-ttl", "1"]) as sandbox:
        token = httpx.post(sandbox.token_url, data={"grant_type": "client_credentials"}, auth=("c", "s")).json()
        assert token["expires_in"] == 1
        headers = {"authorization": f"Bearer {token['access_token']}"}
        assert httpx.get(sandbox.url + "/webhook/k", headers=headers).status_code == 404
        time.sleep(1.2)
        assert httpx.get(sandbox.url + "/webhook/k", headers=headers).status_code == 401


def test_cobv_lifecycle_put_get_patch_pay(account, api):
    t = txid()
    created = call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave, multa={"modalidade": 2, "valorPerc": "2.00"}))
    assert created.status_code == 201
    cob = created.json()
    assert cob["status"] == "ATIVA" and cob["revisao"] == 0 and cob["txid"] == t
    assert cob["loc"]["tipoCob"] == "cobv" and cob["location"] == cob["loc"]["location"]
    assert cob["pixCopiaECola"].startswith("000201")
    assert cob["recebedor"]["cnpj"] and cob["calendario"]["criacao"].endswith("Z")

    # the same PUT again (a retry) is accepted and the charge keeps its location
    again = call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave, multa={"modalidade": 2, "valorPerc": "2.00"}))
    assert again.status_code == 201 and again.json()["loc"]["id"] == cob["loc"]["id"]

    patched = call(api, "PATCH", f"/cobv/{t}", {"valor": {"original": "120.00"}})
    assert patched.status_code == 200
    assert patched.json()["valor"]["original"] == "120.00"
    assert patched.json()["valor"]["multa"] == {"modalidade": 2, "valorPerc": "2.00"}  # merged, not replaced
    assert patched.json()["revisao"] == 2

    old = call(api, "GET", f"/cobv/{t}", params={"revisao": "0"}).json()
    assert old["valor"]["original"] == "99.90" and old["revisao"] == 0

    pix = account.payer.pay(t)
    assert pix["valor"] == "120.00" and pix["txid"] == t
    assert len(pix["endToEndId"]) == 32 and pix["endToEndId"].startswith("E")
    got = call(api, "GET", f"/cobv/{t}").json()
    assert got["status"] == "CONCLUIDA" and [p["endToEndId"] for p in got["pix"]] == [pix["endToEndId"]]
    assert "pixCopiaECola" not in got  # a paid charge no longer offers a payload to pay

    refused = call(api, "PATCH", f"/cobv/{t}", {"valor": {"original": "1.00"}})
    assert refused.status_code == 400 and refused.json()["type"].endswith("/CobVOperacaoInvalida")
    with pytest.raises(httpx.HTTPStatusError):
        account.payer.pay(t)  # paid already


def test_cobv_removed_by_the_receiver_cannot_be_paid_or_changed(account, api):
    t = txid()
    call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave))
    both = call(api, "PATCH", f"/cobv/{t}", {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR",
                                             "valor": {"original": "1.00"}})
    assert both.status_code == 400  # removing and changing at once makes no sense (yaml)
    removed = call(api, "PATCH", f"/cobv/{t}", {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"})
    assert removed.status_code == 200 and removed.json()["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    assert call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave)).status_code == 400
    with pytest.raises(httpx.HTTPStatusError) as exc:
        account.payer.pay(t)
    assert exc.value.response.status_code == 400


def test_cobv_removed_by_the_psp(account, api):
    t = txid()
    call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave))
    account.payer.remove_by_psp(t)
    assert call(api, "GET", f"/cobv/{t}").json()["status"] == "REMOVIDA_PELO_PSP"


@pytest.mark.parametrize("body_change, prop", [
    ({"chave": "not-my-key"}, "chave"),
    ({"valor": {"original": "0.00"}}, "valor.original"),
    ({"valor": {"original": "12,30"}}, "valor.original"),
    ({"devedor": {"nome": "Sem documento"}}, "devedor"),
    ({"devedor": {"cpf": "123", "nome": "X"}}, "devedor.cpf"),
    ({"calendario": {"dataDeVencimento": "31/12/2030"}}, "calendario.dataDeVencimento"),
    ({"calendario": {"dataDeVencimento": "2030-12-31", "validadeAposVencimento": -1}},
     "calendario.validadeAposVencimento"),
])
def test_cobv_violations_are_problems_naming_the_property(account, api, body_change, prop):
    body = {**cobv_body(account.chave), **body_change}
    response = call(api, "PUT", f"/cobv/{txid()}", body, check_request=False)
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "https://pix.bcb.gov.br/api/v2/error/CobVOperacaoInvalida"
    assert prop in [v["propriedade"] for v in problem["violacoes"]]


@pytest.mark.parametrize("bad", ["short", "a" * 36, "abc-def-ghi-jkl-mno-pqr-stu-vwx"])
def test_txid_rules(account, api, bad):
    response = api.request("PUT", f"/cobv/{bad}", json=cobv_body(account.chave))
    assert response.status_code == 400 and response.json()["violacoes"][0]["propriedade"] == "txid"


def test_pay_at_a_moment_and_amount_with_juros_multa_and_desconto(account, api):
    due = next_business_day(today() + dt.timedelta(days=5))  # a due date on a weekend would move
    body = cobv_body(account.chave, due=due, amount="100.00",
                     multa={"modalidade": 2, "valorPerc": "2.00"},
                     juros={"modalidade": 2, "valorPerc": "0.10"},
                     desconto={"modalidade": 1, "descontoDataFixa": [
                         {"data": (due - dt.timedelta(days=2)).isoformat(), "valorPerc": "5.00"}]})
    early, late, partial = txid(), txid(), txid()
    for t in (early, late, partial):
        assert call(api, "PUT", f"/cobv/{t}", body).status_code == 201
    on_time = account.payer.pay(early, at=dt.datetime.combine(due - dt.timedelta(days=3), dt.time(10),
                                                              dt.timezone.utc))
    assert on_time["valor"] == "95.00" and on_time["componentesValor"]["desconto"] == {"valor": "5.00"}
    ten_days_late = dt.datetime.combine(due + dt.timedelta(days=10), dt.time(9), dt.timezone.utc)
    after = account.payer.pay(late, at=ten_days_late)
    # 100 + 2% multa + 0.10%/day × 10 days
    assert after["valor"] == "103.00"
    assert after["componentesValor"]["multa"] == {"valor": "2.00"}
    assert after["componentesValor"]["juros"] == {"valor": "1.00"}
    assert after["horario"].startswith(ten_days_late.strftime("%Y-%m-%dT%H:%M"))
    assert after["endToEndId"][9:21] == ten_days_late.strftime("%Y%m%d%H%M")
    less = account.payer.pay(partial, amount="40.00")
    assert less["valor"] == "40.00"
    for pix in (on_time, after, less):
        call(api, "GET", f"/pix/{pix['endToEndId']}")


def test_pix_list_is_paged_and_filtered_by_period_and_txid(account, api):
    paid = []
    for _ in range(5):
        t = txid()
        call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave))
        paid.append(account.payer.pay(t))
    first = call(api, "GET", "/pix", params={**PERIOD, "paginacao.itensPorPagina": "2"}).json()
    assert first["parametros"]["paginacao"] == {"paginaAtual": 0, "itensPorPagina": 2,
                                                "quantidadeDePaginas": 3, "quantidadeTotalDeItens": 5}
    seen = []
    for page in range(3):
        body = call(api, "GET", "/pix", params={**PERIOD, "paginacao.itensPorPagina": "2",
                                                "paginacao.paginaAtual": str(page)}).json()
        seen += [p["endToEndId"] for p in body["pix"]]
    assert sorted(seen) == sorted(p["endToEndId"] for p in paid)
    one = call(api, "GET", "/pix", params={**PERIOD, "txid": paid[2]["txid"]}).json()
    assert [p["endToEndId"] for p in one["pix"]] == [paid[2]["endToEndId"]]
    future = call(api, "GET", "/pix", params={"inicio": "2099-01-01T00:00:00Z",
                                              "fim": "2099-02-01T00:00:00Z"}).json()
    assert future["pix"] == []
    backwards = call(api, "GET", "/pix", params={"inicio": "2030-01-01T00:00:00Z",
                                                 "fim": "2020-01-01T00:00:00Z"})
    assert backwards.status_code == 400 and backwards.json()["type"].endswith("/PixConsultaInvalida")
    assert api.request("GET", "/pix").status_code == 400  # inicio and fim are required
    missing = call(api, "GET", "/pix/E00000000202001010000abcdefghijk")
    assert missing.status_code == 404 and missing.json()["type"].endswith("/PixNaoEncontrado")


def test_accounts_do_not_see_each_other(pix_sandbox, account, api):
    t = txid()
    call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave))
    other = pix_sandbox.new_account()
    with other.client() as other_api:
        assert call(other_api, "GET", f"/cobv/{t}").status_code == 404
        assert call(other_api, "PUT", f"/cobv/{txid()}", cobv_body(account.chave)).status_code == 400


def test_cobv_list(account, api):
    mine = [txid() for _ in range(3)]
    for t in mine:
        call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave))
    account.payer.pay(mine[0])
    listed = call(api, "GET", "/cobv", params=PERIOD).json()
    assert sorted(c["txid"] for c in listed["cobs"]) == sorted(mine)
    active = call(api, "GET", "/cobv", params={**PERIOD, "status": "ATIVA"}).json()
    assert sorted(c["txid"] for c in active["cobs"]) == sorted(mine[1:])


def test_devolucao(account, api, receiver):
    t = txid()
    call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave, amount="50.00"))
    e2e = account.payer.pay(t)["endToEndId"]
    first = call(api, "PUT", f"/pix/{e2e}/devolucao/dev1", {"valor": "20.00", "descricao": "estorno"})
    assert first.status_code == 201
    assert first.json()["status"] == "DEVOLVIDO" and first.json()["rtrId"].startswith("D")
    assert call(api, "GET", f"/pix/{e2e}/devolucao/dev1").json()["valor"] == "20.00"
    assert call(api, "PUT", f"/pix/{e2e}/devolucao/dev1", {"valor": "1.00"}).status_code == 400  # id reused
    too_much = call(api, "PUT", f"/pix/{e2e}/devolucao/dev2", {"valor": "30.01"})
    assert too_much.status_code == 400 and too_much.json()["type"].endswith("/PixDevolucaoInvalida")
    assert call(api, "GET", f"/pix/{e2e}/devolucao/nope").status_code == 404
    pix = call(api, "GET", f"/pix/{e2e}").json()
    assert [d["id"] for d in pix["devolucoes"]] == ["dev1"]
    refunded = call(api, "GET", "/pix", params={**PERIOD, "devolucaoPresente": "true"}).json()
    assert [p["endToEndId"] for p in refunded["pix"]] == [e2e]


def test_cob_immediate(account, api):
    t = txid()
    body = {"calendario": {"expiracao": 3600}, "valor": {"original": "10.00"}, "chave": account.chave}
    created = call(api, "PUT", f"/cob/{t}", body).json()
    assert created["status"] == "ATIVA" and created["calendario"]["expiracao"] == 3600
    posted = call(api, "POST", "/cob", body)
    assert posted.status_code == 201 and len(posted.json()["txid"]) >= 26
    assert account.payer.pay(t)["valor"] == "10.00"
    assert call(api, "GET", f"/cob/{t}").json()["status"] == "CONCLUIDA"
    assert call(api, "GET", "/cob", params=PERIOD).json()["parametros"]["paginacao"]["quantidadeTotalDeItens"] == 2
    short = call(api, "POST", "/cob", {**body, "calendario": {"expiracao": 60}}).json()
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)
    with pytest.raises(httpx.HTTPStatusError) as exc:
        account.payer.pay(short["txid"], at=later)  # expired: calendario.expiracao
    assert exc.value.response.json()["type"].endswith("/CobOperacaoInvalida")
    assert account.payer.pay(short["txid"])["valor"] == "10.00"


def test_a_due_date_on_carnaval_or_a_movable_holiday_moves_to_the_next_dia_util(account, api):
    """Carnaval, Sexta-feira Santa and Corpus Christi are not dias úteis (the banks do not
    settle): a cobv due on one is paid without multa on the next dia útil, and juros in
    dias úteis skip them (agrega/core/feriados.py, the calendar Agrega shares)."""
    def at(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(13), dt.timezone.utc)  # 10:00 in Brasília

    carnaval_monday = dt.date(2027, 2, 8)
    body = cobv_body(account.chave, due=carnaval_monday, amount="100.00",
                     multa={"modalidade": 2, "valorPerc": "2.00"}, juros={"modalidade": 2, "valorPerc": "1.00"})
    on_wednesday, on_thursday = txid(), txid()
    for t in (on_wednesday, on_thursday):
        call(api, "PUT", f"/cobv/{t}", body)
    assert account.payer.pay(on_wednesday, at=at(dt.date(2027, 2, 10)))["valor"] == "100.00"
    late = account.payer.pay(on_thursday, at=at(dt.date(2027, 2, 11)))
    assert late["valor"] == "103.00"  # multa 2.00 + juros 1 % × 1 day since Ash Wednesday

    # juros per dia útil over Sexta-feira Santa 2027: due Thu 25 Mar, paid Mon 29 Mar → 1 dia útil
    easter_body = cobv_body(account.chave, due=dt.date(2027, 3, 25), amount="100.00",
                            juros={"modalidade": 6, "valorPerc": "1.00"})
    t = txid()
    call(api, "PUT", f"/cobv/{t}", easter_body)
    assert account.payer.pay(t, at=at(dt.date(2027, 3, 29)))["valor"] == "101.00"

    corpus_christi = cobv_body(account.chave, due=dt.date(2027, 5, 27), amount="100.00",
                               multa={"modalidade": 1, "valorPerc": "5.00"})
    t = txid()
    call(api, "PUT", f"/cobv/{t}", corpus_christi)
    assert account.payer.pay(t, at=at(dt.date(2027, 5, 28)))["valor"] == "100.00"  # Friday: the moved due date


def test_an_account_registered_with_a_subset_of_scopes_gets_only_those(pix_sandbox, pix_spec):
    """``POST /_sandbox/accounts {scopes}``: the PSP granted this client less than all;
    a call outside it is the yaml's 403 AcessoNegado (checked against the yaml)."""
    limited = pix_sandbox.new_account(scopes=["cobv.write", "cobv.read", "pix.read"])
    with limited.client() as client:
        token = httpx.post(limited.token_url, data={"grant_type": "client_credentials"},
                           auth=(limited.client_id, limited.client_secret)).json()
        assert token["scope"] == "cobv.read cobv.write pix.read"
        assert call(client, "PUT", f"/cobv/{txid()}", cobv_body(limited.chave)).status_code == 201
        refused = call(client, "POST", "/rec", {"vinculo": {"objeto": "x", "devedor": {"nome": "Maria"}},
                                                "calendario": {"dataInicial": today().isoformat(),
                                                               "periodicidade": "MENSAL"},
                                                "politicaRetentativa": "NAO_PERMITE"}, check_request=False)
        assert refused.status_code == 403 and refused.json()["type"].endswith("/AcessoNegado")
        assert "rec.write" in refused.json()["detail"]
    asked = httpx.post(limited.token_url, data={"grant_type": "client_credentials", "scope": "rec.write"},
                       auth=(limited.client_id, limited.client_secret))
    assert asked.status_code == 400 and asked.json()["error"] == "invalid_scope"
    with pytest.raises(httpx.HTTPStatusError) as exc:
        pix_sandbox.new_account(scopes=["cobv.write", "nada.read"])
    assert exc.value.response.status_code == 400
    assert pix_sandbox.new_account(scopes="cobv.read pix.read").client_id  # a space-separated string too
