"""Pix Automático: recorrências (``rec``), solicitações (``solicrec``), cobranças
recorrentes (``cobr``), retentativas and their webhooks (``webhookrec``, ``webhookcobr``).

The life of a recurrence in the sandbox, as in the yaml's descriptions:

* ``POST /rec`` → ``CRIADA``; ``POST /solicrec`` sends the request to the payer's PSP
  (``ENVIADA``); the payer approves (``/_sandbox/rec/{idRec}/approve``: rec ``APROVADA``,
  solicrec ``ACEITA``) or rejects (``REJEITADA``); either side may cancel (``CANCELADA``).
* ``PUT|POST /cobr`` on an APROVADA recurrence, due 2 to 10 days ahead (the window the
  rules allow, switchable), one per cycle → ``ATIVA`` with an ``AGND`` attempt scheduled
  on the due date; ``/_sandbox/cobr/settle`` runs a settlement day: ``PAGA`` (a Pix is
  received, the cobr ``CONCLUIDA``) or ``REJEITADA`` (kept ATIVA when the policy
  ``PERMITE_3R_7D`` allows a ``retentativa`` within 7 days, up to 3; else the cobr is
  ``REJEITADA``/``EXPIRADA``).
* Every status change is notified to ``<webhookrec>/rec`` or ``<webhookcobr>/cobr``.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from decimal import Decimal
from typing import Any

from .store import (CNPJ, CPF, ISPB, TXID, Account, ApiError, Violations, _alnum, _bool_param,
                    _money_field, _page, _period_query, _text, _webhook_url, end_to_end_id, local_date,
                    now, parse_date, parse_stamp, stamp, today)

ID_REC = re.compile(r"[a-zA-Z0-9]{29}")
PERIODS = ("SEMANAL", "MENSAL", "TRIMESTRAL", "SEMESTRAL", "ANUAL")
POLICIES = ("NAO_PERMITE", "PERMITE_3R_7D")
ACCOUNT_TYPES = ("CORRENTE", "POUPANCA", "PAGAMENTO")
# tentativa codes that end the cobr at once (the yaml's description of rejeicao.codigo)
FATAL_CODES = {"AC05", "AM09", "DENC", "DS27", "DTED", "MIDI", "MSUC", "NITX", "RC09"}
ALL_CODES = {"AB10", "AC05", "AC06", "AM02", "AM09", "DENC", "DS27", "DTED", "DTNT", "FBRD", "IRNT",
             "MIDI", "MSUC", "NIEC", "NIPA", "NITX", "QUNT", "RC09", "UDEI"}


def _ident(prefix: str) -> str:
    """``RR``/``SC`` + ISPB + ``yyyyMMdd`` + 11 alphanumerics = 29 characters."""
    return prefix + ISPB + now().strftime("%Y%m%d") + _alnum(11)


def _cycle(period: str, day: dt.date) -> tuple[int, ...]:
    if period == "SEMANAL":
        return tuple(day.isocalendar()[:2])
    if period == "MENSAL":
        return (day.year, day.month)
    if period == "TRIMESTRAL":
        return (day.year, (day.month - 1) // 3)
    if period == "SEMESTRAL":
        return (day.year, (day.month - 1) // 6)
    return (day.year,)


class AutomaticoMixin:
    """Pix Automático operations of ``Store`` (same conventions: ``(status, body)``)."""

    notify: Any
    accounts: dict[str, Account]
    e2e_owner: dict[str, str]
    cobr_window: bool

    # -- rec -----------------------------------------------------------------------------

    def post_rec(self, account: Account, body: Any) -> tuple[int, dict]:
        v = Violations("RecOperacaoInvalida")
        if not isinstance(body, dict):
            raise ApiError(400, v.kind, "O corpo deve ser um objeto JSON.")
        vinculo = body.get("vinculo")
        if not isinstance(vinculo, dict):
            v.add("rec.vinculo", "Objeto vinculo obrigatório.")
        else:
            _text(v, "rec.vinculo.contrato", vinculo.get("contrato"), 35, required=True)
            _text(v, "rec.vinculo.objeto", vinculo.get("objeto"), 35)
            devedor = vinculo.get("devedor")
            if not isinstance(devedor, dict) or ("cpf" in devedor) == ("cnpj" in devedor):
                v.add("rec.vinculo.devedor", "devedor com nome e cpf ou cnpj.")
            else:
                if "cpf" in devedor and not (isinstance(devedor["cpf"], str) and CPF.fullmatch(devedor["cpf"])):
                    v.add("rec.vinculo.devedor.cpf", "CPF deve ter 11 dígitos.")
                if "cnpj" in devedor and not (isinstance(devedor["cnpj"], str) and CNPJ.fullmatch(devedor["cnpj"])):
                    v.add("rec.vinculo.devedor.cnpj", "CNPJ deve ter 14 caracteres.")
                _text(v, "rec.vinculo.devedor.nome", devedor.get("nome"), 140, required=True)
        calendario = body.get("calendario")
        start = end = None
        if not isinstance(calendario, dict):
            v.add("rec.calendario", "Objeto calendario obrigatório.")
        else:
            start = parse_date(calendario.get("dataInicial"))
            if start is None:
                v.add("rec.calendario.dataInicial", "Data AAAA-MM-DD obrigatória.")
            elif start < today():
                v.add("rec.calendario.dataInicial", "dataInicial anterior à criação da recorrência.")
            if calendario.get("dataFinal") is not None:
                end = parse_date(calendario.get("dataFinal"))
                if end is None:
                    v.add("rec.calendario.dataFinal", "Data AAAA-MM-DD.")
                elif start and end < start:
                    v.add("rec.calendario.dataFinal", "dataFinal anterior a dataInicial.")
            if calendario.get("periodicidade") not in PERIODS:
                v.add("rec.calendario.periodicidade", "Periodicidade inválida.")
        valor = body.get("valor")
        if valor is not None:
            if not isinstance(valor, dict):
                v.add("rec.valor", "Deve ser um objeto.")
            else:
                if "valorRec" in valor and "valorMinimoRecebedor" in valor:
                    v.add("rec.valor", "valorRec e valorMinimoRecebedor não podem vir juntos.")
                for name in ("valorRec", "valorMinimoRecebedor"):
                    if name in valor:
                        _money_field(v, f"rec.valor.{name}", valor[name], positive=True)
        if body.get("politicaRetentativa") not in POLICIES:
            v.add("rec.politicaRetentativa", "NAO_PERMITE ou PERMITE_3R_7D.")
        recebedor = body.get("recebedor")
        if recebedor is not None and (not isinstance(recebedor, dict)
                                      or not isinstance(recebedor.get("convenio", ""), str)
                                      or len(recebedor.get("convenio", "")) > 60):
            v.add("rec.recebedor", "recebedor.convenio: texto de até 60 caracteres.")
        if body.get("loc") is not None:
            v.add("rec.loc", "O location referenciado por rec.loc inexiste.")
        txid = _jornada_txid(v, body.get("ativacao"))
        v.raise_if_any()
        moment = stamp(now())
        rec: dict[str, Any] = {
            "idRec": _ident("RR"),
            "vinculo": copy.deepcopy(vinculo),
            "calendario": copy.deepcopy(calendario),
            "politicaRetentativa": body["politicaRetentativa"],
            "recebedor": {"cnpj": account.cnpj, "nome": account.nome[:140],
                          **({"convenio": recebedor["convenio"]} if recebedor and recebedor.get("convenio") else {})},
            "status": "CRIADA",
            "atualizacao": [{"status": "CRIADA", "data": moment}],
            "ativacao": {"tipoJornada": "JORNADA_3" if txid else "AGUARDANDO_DEFINICAO",
                         **({"dadosJornada": {"txid": txid}} if txid else {})},
            "_solicitacoes": [],
            "_criacao": moment,
        }
        if valor:
            rec["valor"] = copy.deepcopy(valor)
        account.recs[rec["idRec"]] = rec
        self._notify_rec(account, rec)
        return 201, self._rec_view(rec)

    def _rec(self, account: Account, id_rec: str) -> dict:
        rec = account.recs.get(id_rec)
        if rec is None:
            raise ApiError(404, "RecNaoEncontrada", "Recorrência não encontrada para o idRec informado.")
        return rec

    def get_rec(self, account: Account, id_rec: str) -> tuple[int, dict]:
        return 200, self._rec_view(self._rec(account, id_rec), full=True)

    def patch_rec(self, account: Account, id_rec: str, body: Any) -> tuple[int, dict]:
        rec = self._rec(account, id_rec)
        kind = "RecOperacaoInvalida"
        if not isinstance(body, dict):
            raise ApiError(400, kind, "O corpo deve ser um objeto JSON.")
        if rec["status"] in ("EXPIRADA", "CANCELADA", "REJEITADA"):
            raise ApiError(400, kind, "A recorrência encontra-se expirada, cancelada ou rejeitada.")
        v = Violations(kind)
        unknown = set(body) - {"status", "vinculo", "calendario", "loc", "ativacao"}
        for name in sorted(unknown):
            v.add("rec." + name, "Campo não pode ser alterado.")
        if "status" in body and body["status"] != "CANCELADA":
            v.add("rec.status", "Só se altera o status para CANCELADA.")
        if "loc" in body:
            v.add("rec.loc", "O location referenciado por rec.loc inexiste.")
        if "calendario" in body:
            cal = body["calendario"]
            start = parse_date(cal.get("dataInicial")) if isinstance(cal, dict) else None
            if rec["status"] != "CRIADA":
                v.add("rec.calendario.dataInicial", "Só se altera com a recorrência CRIADA.")
            elif start is None or start < today():
                v.add("rec.calendario.dataInicial", "Data AAAA-MM-DD a partir de hoje.")
        if "vinculo" in body:
            dev = body["vinculo"].get("devedor") if isinstance(body["vinculo"], dict) else None
            if not isinstance(dev, dict) or not isinstance(dev.get("nome"), str) or len(dev["nome"]) > 140:
                v.add("rec.vinculo.devedor.nome", "Nome de até 140 caracteres.")
        txid = _jornada_txid(v, body.get("ativacao")) if "ativacao" in body else None
        v.raise_if_any()
        if "vinculo" in body:
            rec["vinculo"]["devedor"]["nome"] = body["vinculo"]["devedor"]["nome"]
        if "calendario" in body:
            rec["calendario"]["dataInicial"] = body["calendario"]["dataInicial"]
        if txid:
            rec["ativacao"]["dadosJornada"] = {"txid": txid}
        if body.get("status") == "CANCELADA":
            self._end_rec(account, rec, "CANCELADA", {"cancelamento": {
                "solicitante": "USUARIO_RECEBEDOR", "codigo": "SLCR",
                "descricao": "Cancelada pelo usuário recebedor."}})
        return 200, self._rec_view(rec)

    def list_rec(self, account: Account, query: dict[str, str]) -> tuple[int, dict]:
        inicio, fim, page, per_page, params = _period_query(query, "RecConsultaInvalida")
        located = _bool_param(query, "locationPresente", "RecConsultaInvalida")
        rows = []
        for rec in account.recs.values():
            if not inicio <= parse_stamp(rec["_criacao"]) <= fim:
                continue
            dev = rec["vinculo"]["devedor"]
            if query.get("cpf") and dev.get("cpf") != query["cpf"]:
                continue
            if query.get("cnpj") and dev.get("cnpj") != query["cnpj"]:
                continue
            if query.get("status") and rec["status"] != query["status"]:
                continue
            if query.get("convenio") and rec["recebedor"].get("convenio") != query["convenio"]:
                continue
            if located is True:  # the sandbox serves no locrec
                continue
            rows.append(rec)
        for name in ("cpf", "cnpj", "status", "convenio"):
            if query.get(name):
                params[name] = query[name]
        if located is not None:
            params["locationPresente"] = located
        page_rows, params["paginacao"] = _page(rows, page, per_page)
        return 200, {"parametros": params, "recs": [self._rec_view(r, full=True) for r in page_rows]}

    def _rec_view(self, rec: dict, *, full: bool = False) -> dict:
        view = {k: copy.deepcopy(v) for k, v in rec.items() if not k.startswith("_")}
        if full and rec["_solicitacoes"]:
            view["solicitacao"] = [self._solicrec_view(s, payload=False) for s in rec["_solicitacoes"]]
        return view

    def _end_rec(self, account: Account, rec: dict, status: str, encerramento: dict | None) -> None:
        rec["status"] = status
        rec["atualizacao"].append({"status": status, "data": stamp(now())})
        if encerramento:
            rec["encerramento"] = encerramento
        if status in ("CANCELADA", "REJEITADA", "EXPIRADA"):
            for cobr in account.cobrs.values():
                if cobr["idRec"] == rec["idRec"] and cobr["status"] in ("CRIADA", "ATIVA"):
                    self._cobr_status(account, cobr, "CANCELADA", {"cancelamento": {
                        "solicitante": "USUARIO_RECEBEDOR" if status == "CANCELADA" else "PSP_RECEBEDOR",
                        "codigo": "SLCR", "descricao": "Recorrência encerrada."}})
        self._notify_rec(account, rec)

    def _notify_rec(self, account: Account, rec: dict) -> None:
        if account.webhookrec:
            note = {k: copy.deepcopy(rec[k]) for k in ("idRec", "status", "atualizacao", "ativacao",
                                                       "encerramento") if k in rec}
            self.notify("rec", account.webhookrec["webhookUrl"], {"recs": [note]}, account.chave)

    # -- solicrec -------------------------------------------------------------------------

    def post_solicrec(self, account: Account, body: Any) -> tuple[int, dict]:
        v = Violations("SolicRecOperacaoInvalida")
        if not isinstance(body, dict):
            raise ApiError(400, v.kind, "O corpo deve ser um objeto JSON.")
        id_rec = body.get("idRec")
        rec = account.recs.get(id_rec) if isinstance(id_rec, str) else None
        if rec is None:
            raise ApiError(404, "RecNaoEncontrada", "Recorrência não encontrada para o idRec informado.")
        cal = body.get("calendario")
        expires = parse_stamp(cal.get("dataExpiracaoSolicitacao")) if isinstance(cal, dict) else None
        if expires is None:
            v.add("solicrec.calendario.dataExpiracaoSolicitacao", "Instante RFC 3339 obrigatório.")
        elif expires < now():
            v.add("solicrec.calendario.dataExpiracaoSolicitacao", "Anterior à criação da solicitação.")
        dest = body.get("destinatario")
        if not isinstance(dest, dict):
            v.add("solicrec.destinatario", "Objeto destinatario obrigatório.")
        else:
            _text(v, "solicrec.destinatario.conta", dest.get("conta"), 20, required=True)
            _text(v, "solicrec.destinatario.agencia", dest.get("agencia"), 4)
            if not (isinstance(dest.get("ispbParticipante"), str) and re.fullmatch(r"[0-9A-Z]{8}", dest["ispbParticipante"])):
                v.add("solicrec.destinatario.ispbParticipante", "ISPB de 8 caracteres.")
            if ("cpf" in dest) == ("cnpj" in dest):
                v.add("solicrec.destinatario", "cpf ou cnpj (um dos dois).")
            elif "cpf" in dest and not (isinstance(dest["cpf"], str) and CPF.fullmatch(dest["cpf"])):
                v.add("solicrec.destinatario.cpf", "CPF deve ter 11 dígitos.")
            elif "cnpj" in dest and not (isinstance(dest["cnpj"], str) and CNPJ.fullmatch(dest["cnpj"])):
                v.add("solicrec.destinatario.cnpj", "CNPJ deve ter 14 caracteres.")
        if rec["status"] != "CRIADA":
            v.add("solicrec.idRec", "A recorrência não está CRIADA.")
        if any(s["status"] in ("CRIADA", "ENVIADA", "RECEBIDA") for s in rec["_solicitacoes"]):
            v.add("solicrec.idRec", "Existe uma solicitação ativa referente ao mesmo idRec.")
        v.raise_if_any()
        moment = stamp(now())
        sol = {
            "idSolicRec": _ident("SC"),
            "idRec": id_rec,
            "calendario": {"dataExpiracaoSolicitacao": cal["dataExpiracaoSolicitacao"]},
            "destinatario": copy.deepcopy(dest),
            "status": "ENVIADA",
            "atualizacao": [{"status": "CRIADA", "data": moment}, {"status": "ENVIADA", "data": moment}],
            "_rec": rec,
        }
        rec["_solicitacoes"].append(sol)
        rec["ativacao"] = {"tipoJornada": "JORNADA_1"}
        account.solicrecs[sol["idSolicRec"]] = sol
        return 201, self._solicrec_view(sol)

    def get_solicrec(self, account: Account, id_solic: str) -> tuple[int, dict]:
        sol = account.solicrecs.get(id_solic)
        if sol is None:
            raise ApiError(404, "SolicRecNaoEncontrada", "Solicitação de recorrência não encontrada.")
        return 200, self._solicrec_view(sol)

    def patch_solicrec(self, account: Account, id_solic: str, body: Any) -> tuple[int, dict]:
        sol = account.solicrecs.get(id_solic)
        if sol is None:
            raise ApiError(404, "SolicRecNaoEncontrada", "Solicitação de recorrência não encontrada.")
        if not isinstance(body, dict) or body.get("status") != "CANCELADA" or len(body) != 1:
            raise ApiError(400, "SolicRecOperacaoInvalida", "Só se altera o status para CANCELADA.")
        if sol["status"] not in ("CRIADA", "ENVIADA", "RECEBIDA"):
            raise ApiError(400, "SolicRecOperacaoInvalida",
                           "Não é possível cancelar uma solicitação com status diferente de CRIADA, ENVIADA ou RECEBIDA.")
        self._solicrec_status(sol, "CANCELADA")
        return 200, self._solicrec_view(sol)

    def _solicrec_status(self, sol: dict, status: str) -> None:
        sol["status"] = status
        sol["atualizacao"].append({"status": status, "data": stamp(now())})

    def _solicrec_view(self, sol: dict, *, payload: bool = True) -> dict:
        view = {k: copy.deepcopy(v) for k, v in sol.items() if not k.startswith("_")}
        if payload:
            rec = sol["_rec"]
            view["recPayload"] = {
                "idRec": rec["idRec"], "vinculo": copy.deepcopy(rec["vinculo"]),
                "calendario": copy.deepcopy(rec["calendario"]),
                "recebedor": {**{k: rec["recebedor"][k] for k in ("cnpj", "nome")}, "ispbParticipante": ISPB},
                "politicaRetentativa": rec["politicaRetentativa"],
                "atualizacao": copy.deepcopy(rec["atualizacao"]),
                **({"valor": copy.deepcopy(rec["valor"])} if "valor" in rec else {}),
            }
        return view

    # -- the payer's side of a recurrence ------------------------------------------------

    def payer_rec(self, id_rec: str, action: str, *, client_id: str | None = None,
                  pagador: dict | None = None) -> dict:
        """The payer approves, rejects or cancels ``id_rec`` in their bank's app."""
        for account in self.accounts.values():
            if client_id and account.client_id != client_id:
                continue
            rec = account.recs.get(id_rec)
            if rec is not None:
                break
        else:
            raise ApiError(404, "RecNaoEncontrada", f"Nenhuma recorrência {id_rec}.")
        pending = [s for s in rec["_solicitacoes"] if s["status"] in ("CRIADA", "ENVIADA", "RECEBIDA")]
        if action in ("approve", "reject"):
            if rec["status"] != "CRIADA":
                raise ApiError(400, "RecOperacaoInvalida", f"A recorrência está {rec['status']}.")
            if action == "approve":
                dev = rec["vinculo"]["devedor"]
                rec["pagador"] = pagador or {
                    "ispbParticipante": pending[-1]["destinatario"]["ispbParticipante"] if pending else "12345678",
                    **({"cpf": dev["cpf"]} if "cpf" in dev else {"cnpj": dev["cnpj"]})}
                for sol in pending:
                    self._solicrec_status(sol, "ACEITA")
                self._end_rec(account, rec, "APROVADA", None)
            else:
                for sol in pending:
                    self._solicrec_status(sol, "REJEITADA")
                self._end_rec(account, rec, "REJEITADA", {"rejeicao": {
                    "codigo": "AP13", "descricao": "Rejeitada pelo usuário pagador."}})
        elif action == "cancel":
            if rec["status"] != "APROVADA":
                raise ApiError(400, "RecOperacaoInvalida", f"A recorrência está {rec['status']}.")
            self._end_rec(account, rec, "CANCELADA", {"cancelamento": {
                "solicitante": "USUARIO_PAGADOR", "codigo": "SLDB",
                "descricao": "Cancelada pelo usuário pagador."}})
        return self._rec_view(rec, full=True)

    # -- cobr --------------------------------------------------------------------------

    def put_cobr(self, account: Account, txid: str, body: Any) -> tuple[int, dict]:
        kind = "CobROperacaoInvalida"
        if not TXID.fullmatch(txid):
            raise ApiError(400, kind, "O txid deve ter de 26 a 35 caracteres [a-zA-Z0-9].",
                           violacoes=[{"razao": "txid inválido", "propriedade": "txid"}])
        if txid in account.cobrs:
            raise ApiError(400, kind, "O campo cobr.txid encontra-se em uso.")
        return 201, self._create_cobr(account, txid, body)

    def post_cobr(self, account: Account, body: Any) -> tuple[int, dict]:
        return 201, self._create_cobr(account, _alnum(32), body)

    def _create_cobr(self, account: Account, txid: str, body: Any) -> dict:
        v = Violations("CobROperacaoInvalida")
        if not isinstance(body, dict):
            raise ApiError(400, v.kind, "O corpo deve ser um objeto JSON.")
        id_rec = body.get("idRec")
        rec = account.recs.get(id_rec) if isinstance(id_rec, str) else None
        if rec is None:
            v.add("cobr.idRec", "Recorrência inexistente.", id_rec)
        elif rec["status"] != "APROVADA":
            v.add("cobr.idRec", f"A recorrência está {rec['status']} (deve estar APROVADA).")
        cal = body.get("calendario")
        due = parse_date(cal.get("dataDeVencimento")) if isinstance(cal, dict) else None
        current = today()
        if due is None:
            v.add("cobr.calendario.dataDeVencimento", "Data AAAA-MM-DD obrigatória.")
        elif due < current:
            v.add("cobr.calendario.dataDeVencimento", "Anterior à data de criação da cobrança.")
        elif self.cobr_window and not (current + dt.timedelta(days=2) <= due <= current + dt.timedelta(days=10)):
            v.add("cobr.calendario.dataDeVencimento",
                  "A cobrança deve ser enviada de 2 a 10 dias antes do vencimento.")
        valor = body.get("valor")
        amount = None
        if not isinstance(valor, dict):
            v.add("cobr.valor", "Objeto valor obrigatório.")
        else:
            amount = _money_field(v, "cobr.valor.original", valor.get("original"), positive=True)
        if amount is not None and rec is not None and "valor" in rec:
            fixed, minimum = rec["valor"].get("valorRec"), rec["valor"].get("valorMinimoRecebedor")
            if fixed and amount != Decimal(fixed):
                v.add("cobr.valor.original", f"Diferente do valor da recorrência ({fixed}).")
            if minimum and amount < Decimal(minimum):
                v.add("cobr.valor.original", f"Abaixo do valor mínimo da recorrência ({minimum}).")
        if not isinstance(body.get("ajusteDiaUtil"), bool):
            v.add("cobr.ajusteDiaUtil", "true ou false obrigatório.")
        recebedor = body.get("recebedor")
        if not isinstance(recebedor, dict):
            v.add("cobr.recebedor", "Objeto recebedor obrigatório (conta, tipoConta).")
        else:
            _text(v, "cobr.recebedor.conta", recebedor.get("conta"), 20, required=True)
            _text(v, "cobr.recebedor.agencia", recebedor.get("agencia"), 4)
            if recebedor.get("tipoConta") not in ACCOUNT_TYPES:
                v.add("cobr.recebedor.tipoConta", "CORRENTE, POUPANCA ou PAGAMENTO.")
        _text(v, "cobr.infoAdicional", body.get("infoAdicional"), 140)
        devedor = body.get("devedor")
        if devedor is not None:
            if not isinstance(devedor, dict):
                v.add("cobr.devedor", "Deve ser um objeto.")
            else:
                for name, limit in (("email", 512), ("logradouro", 200), ("cidade", 200), ("uf", 2), ("cep", 8)):
                    _text(v, f"cobr.devedor.{name}", devedor.get(name), limit)
        if rec is not None and due is not None:
            cycle = _cycle(rec["calendario"]["periodicidade"], due)
            for other in account.cobrs.values():
                if other["idRec"] == id_rec and other["status"] not in ("REJEITADA", "CANCELADA") and \
                        _cycle(rec["calendario"]["periodicidade"],
                               dt.date.fromisoformat(other["calendario"]["dataDeVencimento"])) == cycle:
                    v.add("cobr.calendario.dataDeVencimento",
                          "Já existe uma CobR desta recorrência no mesmo ciclo.")
                    break
        v.raise_if_any()
        moment = now()
        cobr: dict[str, Any] = {
            "idRec": id_rec,
            "txid": txid,
            "calendario": {"criacao": local_date(moment).isoformat(), "dataDeVencimento": cal["dataDeVencimento"]},
            "valor": {"original": valor["original"]},
            "ajusteDiaUtil": body["ajusteDiaUtil"],
            "recebedor": {**copy.deepcopy(recebedor), "cnpj": account.cnpj, "nome": account.nome[:140]},
            "politicaRetentativa": rec["politicaRetentativa"],
            "status": "ATIVA",
            "atualizacao": [{"status": "CRIADA", "data": stamp(moment)},
                            {"status": "ATIVA", "data": stamp(moment)}],
            "tentativas": [],
            "_pix": [],
            "_retries": 0,
        }
        if devedor:
            cobr["devedor"] = copy.deepcopy(devedor)
        if body.get("infoAdicional"):
            cobr["infoAdicional"] = body["infoAdicional"]
        self._schedule(cobr, due, "AGND")
        account.cobrs[txid] = cobr
        self._notify_cobr(account, cobr)
        return self._cobr_view(cobr, created=True)

    def _schedule(self, cobr: dict, day: dt.date, tipo: str) -> dict:
        moment = stamp(now())
        attempt = {"dataLiquidacao": day.isoformat(), "tipo": tipo,
                   "endToEndId": end_to_end_id(dt.datetime.combine(day, dt.time(0), dt.timezone.utc)),
                   "status": "AGENDADA",
                   "atualizacao": [{"status": "SOLICITADA", "data": moment},
                                   {"status": "AGENDADA", "data": moment}]}
        cobr["tentativas"].append(attempt)
        return attempt

    def _cobr(self, account: Account, txid: str) -> dict:
        cobr = account.cobrs.get(txid)
        if cobr is None:
            raise ApiError(404, "CobRNaoEncontrado", "Cobrança não encontrada para o txid informado.")
        return cobr

    def get_cobr(self, account: Account, txid: str) -> tuple[int, dict]:
        return 200, self._cobr_view(self._cobr(account, txid))

    def patch_cobr(self, account: Account, txid: str, body: Any) -> tuple[int, dict]:
        cobr = self._cobr(account, txid)
        kind = "CobROperacaoInvalida"
        if not isinstance(body, dict) or body.get("status") != "CANCELADA" or len(body) != 1:
            raise ApiError(400, kind, "Só se altera o status para CANCELADA.",
                           violacoes=[{"razao": "status inválido", "propriedade": "cobr.status"}])
        if cobr["status"] not in ("CRIADA", "ATIVA"):
            raise ApiError(400, kind, f"A cobrança está {cobr['status']}.")
        first = dt.date.fromisoformat(cobr["tentativas"][0]["dataLiquidacao"])
        if today() >= first:
            raise ApiError(400, kind, "Não é possível cancelar na data prevista da primeira tentativa "
                                      "de liquidação ou depois.")
        self._cobr_status(account, cobr, "CANCELADA", {"cancelamento": {
            "solicitante": "USUARIO_RECEBEDOR", "codigo": "SLCR", "descricao": "Cancelada pelo recebedor."}})
        return 200, self._cobr_view(cobr, created=True)

    def list_cobr(self, account: Account, query: dict[str, str]) -> tuple[int, dict]:
        inicio, fim, page, per_page, params = _period_query(query, "CobRConsultaInvalida")
        if query.get("idRec") is not None and not ID_REC.fullmatch(query["idRec"]):
            raise ApiError(400, "CobRConsultaInvalida", "idRec deve ter 29 caracteres [a-zA-Z0-9].",
                           violacoes=[{"razao": "idRec inválido", "propriedade": "idRec"}])
        rows = []
        for cobr in account.cobrs.values():
            created = parse_stamp(cobr["atualizacao"][0]["data"])
            if not inicio <= created <= fim:
                continue
            if query.get("idRec") and cobr["idRec"] != query["idRec"]:
                continue
            if query.get("status") and cobr["status"] != query["status"]:
                continue
            rec = account.recs.get(cobr["idRec"]) or {}
            dev = rec.get("vinculo", {}).get("devedor", {})
            if query.get("cpf") and dev.get("cpf") != query["cpf"]:
                continue
            if query.get("cnpj") and dev.get("cnpj") != query["cnpj"]:
                continue
            if query.get("convenio") and rec.get("recebedor", {}).get("convenio") != query["convenio"]:
                continue
            rows.append(cobr)
        for name in ("idRec", "cpf", "cnpj", "status", "convenio"):
            if query.get(name):
                params[name] = query[name]
        page_rows, params["paginacao"] = _page(rows, page, per_page)
        return 200, {"parametros": params, "cobsr": [self._cobr_view(c) for c in page_rows]}

    def post_retentativa(self, account: Account, txid: str, data: str) -> tuple[int, dict]:
        cobr = self._cobr(account, txid)
        kind = "CobROperacaoInvalida"
        day = parse_date(data)
        if day is None:
            raise ApiError(400, kind, "data deve ser AAAA-MM-DD.",
                           violacoes=[{"razao": "data inválida", "propriedade": "data"}])
        if cobr["politicaRetentativa"] != "PERMITE_3R_7D":
            raise ApiError(400, kind, "A política configurada na recorrência não permite retentativa de cobrança.")
        if cobr["status"] != "ATIVA":
            raise ApiError(400, kind, f"A cobrança está {cobr['status']}.")
        if any(t["status"] in ("SOLICITADA", "AGENDADA") for t in cobr["tentativas"]):
            raise ApiError(400, kind, "Existe uma tentativa com status SOLICITADA ou AGENDADA.")
        if day <= today():
            raise ApiError(400, kind, "O parâmetro data não corresponde a uma data futura.")
        due = dt.date.fromisoformat(cobr["calendario"]["dataDeVencimento"])
        if day > due + dt.timedelta(days=7):
            raise ApiError(400, kind, "Retentativas só até 7 dias após o vencimento.")
        if cobr["_retries"] >= 3:
            raise ApiError(400, kind, "Já foram feitas as 3 retentativas permitidas.")
        cobr["_retries"] += 1
        self._schedule(cobr, day, "NTAG")
        self._notify_cobr(account, cobr)
        return 201, self._cobr_view(cobr)

    def settle_cobr(self, day: Any, *, outcome: str = "pay", txid: str | None = None,
                    client_id: str | None = None, codigo: str | None = None) -> dict:
        """A settlement day at the payer's PSP: each AGENDADA attempt on ``day`` (of
        ``txid`` only, if given) is paid or rejected; webhooks follow."""
        settle_day = parse_date(day)
        if settle_day is None:
            raise ApiError(400, "RequisicaoInvalida", "data deve ser AAAA-MM-DD.")
        if outcome not in ("pay", "fail"):
            raise ApiError(400, "RequisicaoInvalida", "outcome deve ser pay ou fail.")
        code = codigo or "AM02"
        if code not in ALL_CODES:
            raise ApiError(400, "RequisicaoInvalida", "codigo de rejeição desconhecido.")
        done = []
        for account in self.accounts.values():
            if client_id and account.client_id != client_id:
                continue
            for cobr in account.cobrs.values():
                if txid and cobr["txid"] != txid or cobr["status"] != "ATIVA":
                    continue
                attempt = next((t for t in cobr["tentativas"] if t["status"] == "AGENDADA"
                                and t["dataLiquidacao"] == settle_day.isoformat()), None)
                if attempt is None:
                    continue
                self._settle(account, cobr, attempt, outcome, code)
                done.append(self._cobr_view(cobr))
        return {"settled": done}

    def _settle(self, account: Account, cobr: dict, attempt: dict, outcome: str, code: str) -> None:
        moment = now()
        if outcome == "pay":
            attempt["status"] = "PAGA"
            attempt["atualizacao"].append({"status": "PAGA", "data": stamp(moment)})
            horario = dt.datetime.combine(dt.date.fromisoformat(attempt["dataLiquidacao"]),
                                          dt.time(6, 0), dt.timezone.utc)
            pix = {"endToEndId": attempt["endToEndId"], "txid": cobr["txid"], "valor": cobr["valor"]["original"],
                   "horario": stamp(horario), "_payer": {}, "_devolucoes": [], "_cobr": True,
                   "componentesValor": {"original": {"valor": cobr["valor"]["original"]}}}
            account.pix[pix["endToEndId"]] = pix
            self.e2e_owner[pix["endToEndId"]] = account.client_id
            cobr["_pix"].append(pix)
            self._cobr_status(account, cobr, "CONCLUIDA", None)
            return
        attempt["status"] = "REJEITADA"
        attempt["atualizacao"].append({"status": "REJEITADA", "data": stamp(moment)})
        attempt["rejeicao"] = {"codigo": code, "descricao": "Tentativa de liquidação rejeitada (simulado)."}
        due = dt.date.fromisoformat(cobr["calendario"]["dataDeVencimento"])
        can_retry = (cobr["politicaRetentativa"] == "PERMITE_3R_7D" and cobr["_retries"] < 3
                     and code not in FATAL_CODES
                     and dt.date.fromisoformat(attempt["dataLiquidacao"]) < due + dt.timedelta(days=7))
        if can_retry:
            self._notify_cobr(account, cobr)
        elif code in FATAL_CODES or cobr["politicaRetentativa"] == "NAO_PERMITE":
            self._cobr_status(account, cobr, "REJEITADA", {"rejeicao": {
                "codigo": code, "descricao": "Cobrança rejeitada na liquidação."}})
        else:
            self._cobr_status(account, cobr, "EXPIRADA", None)

    def _cobr_status(self, account: Account, cobr: dict, status: str, encerramento: dict | None) -> None:
        cobr["status"] = status
        cobr["atualizacao"].append({"status": status, "data": stamp(now())})
        if encerramento:
            cobr["encerramento"] = encerramento
        for attempt in cobr["tentativas"]:
            if status in ("CANCELADA", "EXPIRADA", "REJEITADA") and attempt["status"] in ("SOLICITADA", "AGENDADA"):
                attempt["status"] = "CANCELADA"
                attempt["atualizacao"].append({"status": "CANCELADA", "data": stamp(now())})
        self._notify_cobr(account, cobr)

    def _cobr_view(self, cobr: dict, *, created: bool = False) -> dict:
        view = {k: copy.deepcopy(v) for k, v in cobr.items() if not k.startswith("_")}
        if created:  # CobRGerada carries no history of attempts nor Pix
            for name in ("tentativas", "atualizacao", "encerramento"):
                view.pop(name, None)
        elif cobr["_pix"]:
            view["pix"] = [self._pix_automatico(p) for p in cobr["_pix"]]
        return view

    def _pix_automatico(self, pix: dict) -> dict:
        view = {k: copy.deepcopy(pix[k]) for k in ("endToEndId", "txid", "valor", "horario")}
        if pix["_devolucoes"]:
            view["devolucoes"] = copy.deepcopy(pix["_devolucoes"])
        return view

    def _notify_cobr(self, account: Account, cobr: dict) -> None:
        if account.webhookcobr:
            note = {k: copy.deepcopy(cobr[k]) for k in ("idRec", "txid", "status", "atualizacao", "encerramento",
                                                         "tentativas") if k in cobr}
            if cobr["_pix"]:
                note["pix"] = [self._pix_automatico(p) for p in cobr["_pix"]]
            self.notify("cobr", account.webhookcobr["webhookUrl"], {"cobsr": [note]}, account.chave)

    # -- webhookrec / webhookcobr ----------------------------------------------------------

    def put_webhookrec(self, account: Account, body: Any) -> tuple[int, None]:
        account.webhookrec = {"webhookUrl": _webhook_url(body, "WebhookRecOperacaoInvalida"),
                              "criacao": stamp(now())}
        return 200, None

    def get_webhookrec(self, account: Account) -> tuple[int, dict]:
        if not account.webhookrec:
            raise ApiError(404, "NaoEncontrado", "Nenhum webhook de recorrências.")
        return 200, dict(account.webhookrec)

    def delete_webhookrec(self, account: Account) -> tuple[int, None]:
        if not account.webhookrec:
            raise ApiError(404, "NaoEncontrado", "Nenhum webhook de recorrências.")
        account.webhookrec = None
        return 204, None

    def put_webhookcobr(self, account: Account, body: Any) -> tuple[int, None]:
        account.webhookcobr = {"webhookUrl": _webhook_url(body, "WebhookCobROperacaoInvalida"),
                               "criacao": stamp(now())}
        return 200, None

    def get_webhookcobr(self, account: Account) -> tuple[int, dict]:
        if not account.webhookcobr:
            raise ApiError(404, "NaoEncontrado", "Nenhum webhook de cobranças recorrentes.")
        return 200, dict(account.webhookcobr)

    def delete_webhookcobr(self, account: Account) -> tuple[int, None]:
        if not account.webhookcobr:
            raise ApiError(404, "NaoEncontrado", "Nenhum webhook de cobranças recorrentes.")
        account.webhookcobr = None
        return 204, None


def _jornada_txid(v: Violations, ativacao: Any) -> str | None:
    if ativacao is None:
        return None
    dados = ativacao.get("dadosJornada") if isinstance(ativacao, dict) else None
    txid = dados.get("txid") if isinstance(dados, dict) else None
    if not (isinstance(txid, str) and TXID.fullmatch(txid)):
        v.add("rec.ativacao.dadosJornada.txid", "txid de 26 a 35 caracteres [a-zA-Z0-9].")
        return None
    return txid

