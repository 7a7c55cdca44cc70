"""The PSP's state and rules: accounts (usuários recebedores), tokens, cobranças, Pix.

Everything is in memory, keyed by the OAuth client (one client = one usuário recebedor
with its chave Pix), so tests that use their own account never see each other. The
rules are those of the API Pix 2.9.0 description sections: txid ``[a-zA-Z0-9]{26,35}``,
status ATIVA → CONCLUIDA / REMOVIDA_PELO_USUARIO_RECEBEDOR / REMOVIDA_PELO_PSP, a PATCH
only on an ATIVA charge, ``revisao`` incremented by each change, errors as RFC 7807
problems whose ``type`` is ``https://pix.bcb.gov.br/api/v2/error/<TipoErro>``.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import os
import pickle
import re
import secrets
import string
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo

# the banking calendar (weekends, national holidays, Carnaval, Sexta-feira Santa, Corpus
# Christi): Agrega's, one place for both (plain Python)
from agrega.core.feriados import business_days_between, is_business_day, next_business_day  # noqa: F401

from . import brcode

ERROR_TYPE = "https://pix.bcb.gov.br/api/v2/error/"
TXID = re.compile(r"[a-zA-Z0-9]{26,35}")
E2EID = re.compile(r"[a-zA-Z0-9]{32}")
DEVOLUCAO_ID = re.compile(r"[a-zA-Z0-9]{1,35}")
MONEY = re.compile(r"\d{1,10}\.\d{2}")
CPF = re.compile(r"\d{11}")
CNPJ = re.compile(r"[0-9A-Z]{14}")
ISPB = "99999008"  # the sandbox PSP's own ISPB (received Pix name the payer's PSP)
PAYER_ISPB = "12345678"

ALL_SCOPES = (
    "cob.write cob.read cobv.write cobv.read cobr.write cobr.read rec.write rec.read "
    "solicrec.write solicrec.read pix.write pix.read webhook.write webhook.read "
    "webhookrec.write webhookrec.read webhookcobr.write webhookcobr.read "
    "payloadlocation.write payloadlocation.read"
).split()

TITLES = {
    "RequisicaoInvalida": "Requisição inválida.",
    "AcessoNegado": "Acesso negado.",
    "NaoEncontrado": "Não encontrado.",
    "ErroInternoDoServidor": "Erro interno do servidor.",
    "ServicoIndisponivel": "Serviço indisponível.",
    "IndisponibilidadePorTempoEsgotado": "Tempo esgotado.",
    "CobNaoEncontrado": "Cobrança não encontrada.",
    "CobOperacaoInvalida": "Cobrança inválida.",
    "CobConsultaInvalida": "Consulta inválida.",
    "CobVNaoEncontrada": "Cobrança não encontrada.",
    "CobVOperacaoInvalida": "Cobrança inválida.",
    "CobVConsultaInvalida": "Consulta inválida.",
    "PixNaoEncontrado": "Pix não encontrado.",
    "PixDevolucaoNaoEncontrada": "Devolução não encontrada.",
    "PixConsultaInvalida": "Consulta inválida.",
    "PixDevolucaoInvalida": "Devolução inválida.",
    "WebhookOperacaoInvalida": "Webhook inválido.",
    "WebhookNaoEncontrado": "Webhook não encontrado.",
    "WebhookRecOperacaoInvalida": "Webhook inválido.",
    "WebhookCobROperacaoInvalida": "Webhook inválido.",
    "RecNaoEncontrada": "Recorrência não encontrada.",
    "RecOperacaoInvalida": "Recorrência inválida.",
    "RecConsultaInvalida": "Consulta inválida.",
    "SolicRecNaoEncontrada": "Solicitação de recorrência não encontrada.",
    "SolicRecOperacaoInvalida": "Solicitação de recorrência inválida.",
    "CobRNaoEncontrado": "Cobrança não encontrada.",
    "CobROperacaoInvalida": "Cobrança inválida.",
    "CobRConsultaInvalida": "Consulta inválida.",
    "NaoAutorizado": "Não autorizado.",
    "MuitasRequisicoes": "Muitas requisições.",
    "MetodoNaoPermitido": "Método não permitido.",
}


class ApiError(Exception):
    """An RFC 7807 problem, as the API Pix describes it (``type``/``title``/``status``/
    ``detail``/``violacoes``)."""

    def __init__(self, status: int, kind: str, detail: str = "", *,
                 violacoes: list[dict[str, str]] | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(detail or kind)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.violacoes = violacoes or []
        self.headers = headers or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": ERROR_TYPE + self.kind,
            "title": TITLES.get(self.kind, self.kind),
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.violacoes:
            body["violacoes"] = self.violacoes
        body["correlationId"] = uuid.uuid4().hex
        return body


BRT = ZoneInfo("America/Sao_Paulo")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def today() -> dt.date:
    """The PSP's business date: Brasília's calendar (due dates, windows, juros)."""
    return dt.datetime.now(BRT).date()


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(BRT).date()


def stamp(moment: dt.datetime) -> str:
    """RFC 3339 with milliseconds and ``Z`` (what the examples of the yaml show)."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def parse_stamp(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment


def parse_date(text: Any) -> dt.date | None:
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _alnum(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def end_to_end_id(moment: dt.datetime, ispb: str = PAYER_ISPB, prefix: str = "E") -> str:
    """``E`` + ISPB (8) + ``yyyyMMddHHmm`` (12) + 11 alphanumerics = 32 characters."""
    return prefix + ispb + moment.astimezone(dt.timezone.utc).strftime("%Y%m%d%H%M") + _alnum(11)


class Violations:
    """Collects ``violacoes`` of one request; ``raise_if_any`` turns them into a 400."""

    def __init__(self, kind: str):
        self.kind = kind
        self.items: list[dict[str, str]] = []

    def add(self, prop: str, reason: str, value: Any = None) -> None:
        item = {"razao": reason, "propriedade": prop}
        if value is not None and not isinstance(value, (dict, list)):
            item["valor"] = str(value)[:200]
        self.items.append(item)

    def raise_if_any(self, detail: str = "A requisição não respeita o schema.") -> None:
        if self.items:
            raise ApiError(400, self.kind, detail, violacoes=self.items)


def _money_field(v: Violations, prop: str, value: Any, *, positive: bool = False) -> Decimal | None:
    if not isinstance(value, str) or not MONEY.fullmatch(value):
        v.add(prop, "Valor monetário no formato 0.00 obrigatório.", value)
        return None
    amount = Decimal(value)
    if positive and amount <= 0:
        v.add(prop, "O valor deve ser maior que zero.", value)
        return None
    return amount


def _text(v: Violations, prop: str, value: Any, limit: int, *, required: bool = False) -> None:
    if value is None:
        if required:
            v.add(prop, "Campo obrigatório.")
        return
    if not isinstance(value, str):
        v.add(prop, "Deve ser texto.")
    elif len(value) > limit:
        v.add(prop, f"No máximo {limit} caracteres.")


def check_person(v: Violations, prop: str, person: Any, *, required: bool,
                 address: bool = True) -> None:
    """A devedor/pagador: ``nome`` plus exactly one of ``cpf`` (11 digits) / ``cnpj``."""
    if person is None:
        if required:
            v.add(prop, "Campo obrigatório.")
        return
    if not isinstance(person, dict):
        v.add(prop, "Deve ser um objeto.")
        return
    has_cpf, has_cnpj = "cpf" in person, "cnpj" in person
    if has_cpf == has_cnpj:
        v.add(prop, "Informe cpf ou cnpj (um dos dois).")
    elif has_cpf and not (isinstance(person["cpf"], str) and CPF.fullmatch(person["cpf"])):
        v.add(prop + ".cpf", "CPF deve ter 11 dígitos.", person["cpf"])
    elif has_cnpj and not (isinstance(person["cnpj"], str) and CNPJ.fullmatch(person["cnpj"])):
        v.add(prop + ".cnpj", "CNPJ deve ter 14 caracteres [0-9A-Z].", person["cnpj"])
    _text(v, prop + ".nome", person.get("nome"), 200, required=True)
    if address:
        for name, limit in (("logradouro", 200), ("cidade", 200), ("uf", 2), ("cep", 8),
                            ("email", 512)):
            _text(v, f"{prop}.{name}", person.get(name), limit)


def check_info(v: Violations, body: dict[str, Any]) -> None:
    _text(v, "solicitacaoPagador", body.get("solicitacaoPagador"), 140)
    info = body.get("infoAdicionais")
    if info is None:
        return
    if not isinstance(info, list) or len(info) > 50:
        v.add("infoAdicionais", "Lista de no máximo 50 itens.")
        return
    for i, item in enumerate(info):
        if not isinstance(item, dict):
            v.add(f"infoAdicionais[{i}]", "Deve ser um objeto.")
            continue
        _text(v, f"infoAdicionais[{i}].nome", item.get("nome"), 50, required=True)
        _text(v, f"infoAdicionais[{i}].valor", item.get("valor"), 200, required=True)


@dataclass
class Account:
    """One usuário recebedor: its OAuth client, chave Pix, identity and data."""

    client_id: str
    client_secret: str
    chave: str
    scopes: set[str] = field(default_factory=lambda: set(ALL_SCOPES))
    nome: str = "Provedor Sandbox Ltda"
    cnpj: str = "12345678000195"
    cidade: str = "São Paulo"
    uf: str = "SP"
    cep: str = "01310100"
    logradouro: str = "Avenida Paulista, 1000"
    charges: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (kind, txid)
    revisions: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    pix: dict[str, dict[str, Any]] = field(default_factory=dict)  # e2eid -> Pix
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)  # chave -> webhook
    webhookrec: dict[str, Any] | None = None
    webhookcobr: dict[str, Any] | None = None
    recs: dict[str, dict[str, Any]] = field(default_factory=dict)
    solicrecs: dict[str, dict[str, Any]] = field(default_factory=dict)
    cobrs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "chave": self.chave, "nome": self.nome,
                "cnpj": self.cnpj, "scopes": sorted(self.scopes)}

    def recebedor(self) -> dict[str, Any]:
        return {"cnpj": self.cnpj, "nome": self.nome, "logradouro": self.logradouro,
                "cidade": self.cidade, "uf": self.uf, "cep": self.cep}


@dataclass
class Token:
    client_id: str
    scopes: set[str]
    expires_at: float


Notify = Callable[[str, str, dict[str, Any], str], None]  # kind, url, payload, chave


class CoreStore:
    """All state of the sandbox PSP. Calls come from the event loop (API) only; the
    webhook thread receives finished payloads, never touches this object."""

    def __init__(self, *, token_ttl: int = 3600, public_host: str = "pix.sandbox.local"):
        self.token_ttl = token_ttl
        self.public_host = public_host
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}
        self.e2e_owner: dict[str, str] = {}  # e2eid -> client_id
        self.loc_seq = 0
        self.notify: Notify = lambda kind, url, payload, chave: None
        self.lock = threading.RLock()
        # a cobr must be sent 2 to 10 days before its due date (Pix Automático rules);
        # ``--no-cobr-window`` / ``POST /_sandbox/settings`` turn the check off
        self.cobr_window = True

    # -- accounts and tokens -----------------------------------------------------------

    def upsert_account(self, client_id: str, client_secret: str, chave: str | None = None,
                       **extra: Any) -> Account:
        account = self.accounts.get(client_id)
        if account is None:
            account = Account(client_id, client_secret, chave or str(uuid.uuid4()))
            self.accounts[client_id] = account
        account.client_secret = client_secret
        if chave:
            account.chave = chave
        for name in ("nome", "cnpj", "cidade", "uf", "cep", "logradouro"):
            if extra.get(name):
                setattr(account, name, extra[name])
        if extra.get("scopes") is not None:
            account.scopes = set(extra["scopes"])
        return account

    def issue_token(self, authorization: str | None, form: dict[str, str]) -> dict[str, Any]:
        """``POST /oauth/token``: client credentials in HTTP Basic (or the form)."""
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            client_id, _, client_secret = decoded.partition(":")
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "Use grant_type=client_credentials.")
        account = self.accounts.get(client_id or "")
        if account is None or not secrets.compare_digest(
                (client_secret or "").encode(), account.client_secret.encode()):
            raise OAuthError(401, "invalid_client", "Credenciais do cliente inválidas.")
        asked = set((form.get("scope") or "").split())
        if asked - account.scopes:
            raise OAuthError(400, "invalid_scope",
                             "Escopos não concedidos: " + " ".join(sorted(asked - account.scopes)))
        granted = asked or set(account.scopes)
        token = secrets.token_urlsafe(32)
        self.tokens[token] = Token(account.client_id, granted, time.time() + self.token_ttl)
        if len(self.tokens) > 100_000:
            self._drop_expired_tokens()
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl,
                "scope": " ".join(sorted(granted))}

    def _drop_expired_tokens(self) -> None:
        at = time.time()
        for key in [k for k, t in self.tokens.items() if t.expires_at <= at]:
            del self.tokens[key]

    def authenticate(self, token: str | None, scope: str) -> Account:
        record = self.tokens.get(token or "")
        if record is None or record.expires_at <= time.time():
            raise ApiError(401, "NaoAutorizado", "Token de acesso ausente, inválido ou expirado.",
                           headers=[(b"www-authenticate", b'Bearer error="invalid_token"')])
        if scope not in record.scopes:
            raise ApiError(403, "AcessoNegado", f"O token não tem o escopo {scope}.")
        return self.accounts[record.client_id]

    def expire_tokens(self, client_id: str | None = None) -> int:
        count = 0
        for token in self.tokens.values():
            if client_id in (None, token.client_id) and token.expires_at > 0:
                token.expires_at = 0
                count += 1
        return count

    # -- locations -----------------------------------------------------------------------

    def new_location(self, kind: str, txid: str) -> dict[str, Any]:
        self.loc_seq += 1
        return {
            "id": self.loc_seq,
            "location": f"{self.public_host}/qr/v2/{kind}/{uuid.uuid4().hex}",
            "tipoCob": kind,
            "criacao": stamp(now()),
            "txid": txid,
        }

    # -- cob and cobv --------------------------------------------------------------------

    def put_charge(self, account: Account, kind: str, txid: str, body: Any) -> tuple[int, dict]:
        """``PUT /cob/{txid}`` and ``PUT /cobv/{txid}``: create, or replace an ATIVA one."""
        label = "CobV" if kind == "cobv" else "Cob"
        error = label + "OperacaoInvalida"
        if not TXID.fullmatch(txid):
            raise ApiError(400, error, "O txid deve ter de 26 a 35 caracteres [a-zA-Z0-9].",
                           violacoes=[{"razao": "txid inválido", "propriedade": "txid",
                                       "valor": txid[:100]}])
        existing = account.charges.get((kind, txid))
        if existing is not None and existing["status"] != "ATIVA":
            raise ApiError(400, error, "A cobrança já existe e não está ATIVA.")
        clean = self._check_charge(account, kind, body, creating=True)
        charge = self._build_charge(account, kind, txid, clean, existing)
        return 201, self.charge_view(charge)  # the yaml documents only 201, also for a re-PUT

    def post_cob(self, account: Account, body: Any) -> tuple[int, dict]:
        """``POST /cob``: the PSP chooses the txid."""
        clean = self._check_charge(account, "cob", body, creating=True)
        txid = uuid.uuid4().hex
        charge = self._build_charge(account, "cob", txid, clean, None)
        return 201, self.charge_view(charge)

    def patch_charge(self, account: Account, kind: str, txid: str, body: Any) -> dict:
        label = "CobV" if kind == "cobv" else "Cob"
        charge = account.charges.get((kind, txid))
        if charge is None:
            raise ApiError(404, label + ("NaoEncontrada" if kind == "cobv" else "NaoEncontrado"),
                           "Cobrança não encontrada para o txid informado.")
        error = label + "OperacaoInvalida"
        if not isinstance(body, dict):
            raise ApiError(400, error, "O corpo deve ser um objeto JSON.")
        if charge["status"] != "ATIVA":
            raise ApiError(400, error, "A cobrança não está ATIVA.")
        if "status" in body:
            if body["status"] != "REMOVIDA_PELO_USUARIO_RECEBEDOR":
                raise ApiError(400, error, "status só pode ser REMOVIDA_PELO_USUARIO_RECEBEDOR.",
                               violacoes=[{"razao": "status inválido", "propriedade": "status"}])
            if len(body) > 1:
                raise ApiError(400, error, "Não se remove uma cobrança junto com outras alterações.")
            self._revise(account, charge, {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"})
            return self.charge_view(charge)
        clean = self._check_charge(account, kind, body, creating=False)
        merged: dict[str, Any] = {}
        for key, value in clean.items():
            if isinstance(value, dict) and isinstance(charge.get(key), dict) and key != "devedor":
                merged[key] = {**charge[key], **value}
            else:
                merged[key] = value
        if "valor" in merged:
            merged["valor"] = self._check_valor(Violations(error), kind, merged["valor"],
                                                merged.get("calendario", charge["calendario"]))
        self._revise(account, charge, merged)
        return self.charge_view(charge)

    def get_charge(self, account: Account, kind: str, txid: str,
                   revisao: str | None = None) -> dict:
        label = "CobV" if kind == "cobv" else "Cob"
        charge = account.charges.get((kind, txid))
        if charge is None:
            raise ApiError(404, label + ("NaoEncontrada" if kind == "cobv" else "NaoEncontrado"),
                           "Cobrança não encontrada para o txid informado.")
        if revisao is not None:
            history = account.revisions.get((kind, txid), [])
            try:
                wanted = int(revisao)
            except ValueError:
                wanted = -1
            for old in history:
                if old["revisao"] == wanted:
                    return self.charge_view(old, full=True)
            if wanted != charge["revisao"]:
                raise ApiError(404, label + ("NaoEncontrada" if kind == "cobv" else "NaoEncontrado"),
                               "Revisão inexistente para a cobrança.")
        return self.charge_view(charge, full=True)

    def list_charges(self, account: Account, kind: str, query: dict[str, str]) -> dict:
        error = ("CobV" if kind == "cobv" else "Cob") + "ConsultaInvalida"
        inicio, fim, page, per_page, params = _period_query(query, error)
        cpf, cnpj = query.get("cpf"), query.get("cnpj")
        status = query.get("status")
        located = _bool_param(query, "locationPresente", error)
        if kind == "cobv" and query.get("loteCobVId") is not None:
            v = Violations(error)
            _int_param(v, query, "loteCobVId", 0, -2**31, 2**31 - 1)
            v.raise_if_any("Os parâmetros da consulta não respeitam o schema.")
        rows = []
        for (k, _), charge in account.charges.items():
            if k != kind:
                continue
            created = parse_stamp(charge["calendario"]["criacao"])
            if not (inicio <= created <= fim):
                continue
            devedor = charge.get("devedor") or {}
            if cpf and devedor.get("cpf") != cpf or cnpj and devedor.get("cnpj") != cnpj:
                continue
            if status and charge["status"] != status:
                continue
            if located is not None and located != bool(charge.get("loc")):
                continue
            rows.append(charge)
        rows.sort(key=lambda c: c["calendario"]["criacao"])
        for name in ("cpf", "cnpj", "status"):
            if query.get(name):
                params[name] = query[name]
        if located is not None:
            params["locationPresente"] = located
        page_rows, params["paginacao"] = _page(rows, page, per_page)
        return {"parametros": params, "cobs": [self.charge_view(c, full=True) for c in page_rows]}

    def _check_charge(self, account: Account, kind: str, body: Any, *, creating: bool) -> dict:
        label = "CobV" if kind == "cobv" else "Cob"
        v = Violations(label + "OperacaoInvalida")
        if not isinstance(body, dict):
            raise ApiError(400, v.kind, "O corpo deve ser um objeto JSON.")
        clean: dict[str, Any] = {}
        calendario = body.get("calendario")
        if calendario is not None or (creating and kind == "cobv"):
            if not isinstance(calendario, dict):
                v.add("calendario", "Objeto calendario obrigatório.")
            elif kind == "cobv":
                due = parse_date(calendario.get("dataDeVencimento"))
                if due is None:
                    v.add("calendario.dataDeVencimento", "Data AAAA-MM-DD obrigatória.",
                          calendario.get("dataDeVencimento"))
                elif creating and due < today() - dt.timedelta(days=3650):
                    v.add("calendario.dataDeVencimento", "Data de vencimento muito antiga.")
                after = calendario.get("validadeAposVencimento", 30)
                if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= 2**31 - 1:
                    v.add("calendario.validadeAposVencimento", "Inteiro >= 0.", after)
                clean["calendario"] = {"dataDeVencimento": calendario.get("dataDeVencimento"),
                                       "validadeAposVencimento": after}
            else:
                expiracao = calendario.get("expiracao", 86400)
                if isinstance(expiracao, bool) or not isinstance(expiracao, int) or not 0 < expiracao <= 2**31 - 1:
                    v.add("calendario.expiracao", "Inteiro maior que zero.", expiracao)
                clean["calendario"] = {"expiracao": expiracao}
        if "devedor" in body or (creating and kind == "cobv"):
            check_person(v, "devedor", body.get("devedor"), required=True)
            clean["devedor"] = body.get("devedor")
        if "valor" in body or creating:
            valor = body.get("valor")
            if not isinstance(valor, dict):
                v.add("valor", "Objeto valor obrigatório.")
            else:
                clean["valor"] = self._check_valor(v, kind, valor, clean.get("calendario"),
                                                   partial=not creating)
        if "chave" in body or creating:
            chave = body.get("chave")
            if not isinstance(chave, str) or not chave or len(chave) > 77:
                v.add("chave", "Chave Pix obrigatória (até 77 caracteres).", chave)
            elif chave != account.chave:
                v.add("chave", "A chave não pertence a este usuário recebedor.", chave)
            clean["chave"] = chave
        check_info(v, body)
        for name in ("solicitacaoPagador", "infoAdicionais"):
            if name in body:
                clean[name] = body[name]
        loc = body.get("loc")
        if loc is not None:
            if not isinstance(loc, dict) or isinstance(loc.get("id"), bool) or not isinstance(loc.get("id"), int):
                v.add("loc.id", "Identificador da location obrigatório.")
            else:
                v.add("loc.id", "Location inexistente (use a location gerada pelo PSP).", loc.get("id"))
        v.raise_if_any()
        return clean

    def _check_valor(self, v: Violations, kind: str, valor: dict[str, Any],
                     calendario: dict[str, Any] | None, *, partial: bool = False) -> dict:
        clean: dict[str, Any] = {}
        if "original" in valor or not partial:
            original = _money_field(v, "valor.original", valor.get("original"), positive=True)
            clean["original"] = valor.get("original")
        else:
            original = None
        if kind == "cob":
            if "modalidadeAlteracao" in valor:
                mod = valor["modalidadeAlteracao"]
                if mod not in (0, 1) or isinstance(mod, bool):
                    v.add("valor.modalidadeAlteracao", "0 ou 1.", mod)
                clean["modalidadeAlteracao"] = mod
            for extra in set(valor) - {"original", "modalidadeAlteracao", "retirada"}:
                v.add("valor." + extra, "Campo não aceito numa cobrança imediata.")
            v.raise_if_any()
            return clean
        for name, top in (("multa", 2), ("juros", 8), ("abatimento", 2)):
            item = valor.get(name)
            if item is None:
                continue
            if not isinstance(item, dict):
                v.add("valor." + name, "Deve ser um objeto.")
                continue
            mod = item.get("modalidade")
            if isinstance(mod, bool) or not isinstance(mod, int) or not 1 <= mod <= top:
                v.add(f"valor.{name}.modalidade", f"Inteiro de 1 a {top}.", mod)
            perc = _money_field(v, f"valor.{name}.valorPerc", item.get("valorPerc"))
            if name == "abatimento" and perc is not None and original is not None and (
                    (mod == 1 and perc >= original) or (mod == 2 and perc >= 100)):
                v.add("valor.abatimento", "Abatimento maior ou igual ao valor da cobrança.")
            clean[name] = {"modalidade": mod, "valorPerc": item.get("valorPerc")}
        desconto = valor.get("desconto")
        if desconto is not None:
            if not isinstance(desconto, dict):
                v.add("valor.desconto", "Deve ser um objeto.")
            else:
                mod = desconto.get("modalidade")
                fixed = desconto.get("descontoDataFixa")
                if isinstance(mod, bool) or not isinstance(mod, int) or not 1 <= mod <= 6:
                    v.add("valor.desconto.modalidade", "Inteiro de 1 a 6.", mod)
                elif mod in (1, 2):
                    if "valorPerc" in desconto:
                        v.add("valor.desconto.valorPerc", "Não se usa com modalidade 1 ou 2.")
                    if not isinstance(fixed, list) or not fixed or len(fixed) > 3:
                        v.add("valor.desconto.descontoDataFixa", "De 1 a 3 datas fixas.")
                    else:
                        due = parse_date((calendario or {}).get("dataDeVencimento"))
                        for i, item in enumerate(fixed):
                            if not isinstance(item, dict):
                                v.add(f"valor.desconto.descontoDataFixa[{i}]", "Deve ser um objeto.")
                                continue
                            day = parse_date(item.get("data"))
                            if day is None:
                                v.add(f"valor.desconto.descontoDataFixa[{i}].data", "Data AAAA-MM-DD.")
                            elif due and day > due:
                                v.add(f"valor.desconto.descontoDataFixa[{i}].data",
                                      "Data posterior ao vencimento.")
                            perc = _money_field(v, f"valor.desconto.descontoDataFixa[{i}].valorPerc",
                                                item.get("valorPerc"))
                            if perc is not None and original is not None and (
                                    (mod == 1 and perc >= original) or (mod == 2 and perc >= 100)):
                                v.add(f"valor.desconto.descontoDataFixa[{i}].valorPerc",
                                      "Desconto maior ou igual ao valor da cobrança.")
                else:
                    if fixed is not None:
                        v.add("valor.desconto.descontoDataFixa", "Não se usa com modalidade 3 a 6.")
                    _money_field(v, "valor.desconto.valorPerc", desconto.get("valorPerc"))
                clean["desconto"] = {k: desconto[k] for k in ("modalidade", "descontoDataFixa", "valorPerc")
                                     if k in desconto}
        v.raise_if_any()
        return clean

    def _build_charge(self, account: Account, kind: str, txid: str, clean: dict,
                      existing: dict | None) -> dict:
        created = existing["calendario"]["criacao"] if existing else stamp(now())
        calendario = {"criacao": created, **clean.get("calendario", {})}
        if kind == "cob":
            calendario.setdefault("expiracao", 86400)
        loc = existing["loc"] if existing else self.new_location(kind, txid)
        charge: dict[str, Any] = {
            "calendario": calendario,
            "txid": txid,
            "revisao": existing["revisao"] + 1 if existing else 0,
            "loc": loc,
            "location": loc["location"],
            "status": "ATIVA",
            "valor": clean["valor"],
            "chave": clean["chave"],
        }
        if kind == "cobv":  # CobVGerada names the recebedor; a cob has none
            charge["recebedor"] = account.recebedor()
        if clean.get("devedor"):
            charge["devedor"] = clean["devedor"]
        for name in ("solicitacaoPagador", "infoAdicionais"):
            if name in clean:
                charge[name] = clean[name]
        charge["_kind"] = kind
        charge["_pix"] = existing["_pix"] if existing else []
        self._emit_brcode(account, charge)
        key = (kind, txid)
        if existing is not None:
            account.revisions.setdefault(key, []).append(copy.deepcopy(existing))
        account.charges[key] = charge
        return charge

    def _emit_brcode(self, account: Account, charge: dict) -> None:
        charge["pixCopiaECola"] = brcode.dynamic_payload(
            location=charge["loc"]["location"], merchant_name=account.nome,
            merchant_city=account.cidade,
            amount=charge["valor"].get("original") if charge["_kind"] == "cob" else None,
        )

    def _revise(self, account: Account, charge: dict, changes: dict) -> None:
        key = (charge["_kind"], charge["txid"])
        account.revisions.setdefault(key, []).append(copy.deepcopy(charge))
        for name, value in changes.items():
            if name == "calendario":
                charge["calendario"] = {**charge["calendario"], **value}
            else:
                charge[name] = value
        charge["revisao"] += 1
        if "valor" in changes:
            self._emit_brcode(account, charge)

    def charge_view(self, charge: dict, *, full: bool = False) -> dict:
        """The charge as the API shows it. Shallow: views are serialized at once, in the
        same step of the event loop, before anything can change the charge."""
        view = {k: v for k, v in charge.items() if not k.startswith("_")}
        if view["status"] != "ATIVA":
            view.pop("pixCopiaECola", None)
        if full and charge["_pix"]:
            view["pix"] = [self._pix_view(p) for p in charge["_pix"]]
        return view

    def find_charge(self, txid: str, client_id: str | None = None) -> tuple[Account, dict]:
        for account in self.accounts.values():
            if client_id and account.client_id != client_id:
                continue
            for kind in ("cobv", "cob"):
                charge = account.charges.get((kind, txid))
                if charge is not None:
                    return account, charge
        raise ApiError(404, "NaoEncontrado", f"Nenhuma cobrança com txid {txid}.")

    # -- the payer: paying a charge ---------------------------------------------------

    def amount_due(self, charge: dict, day: dt.date) -> tuple[Decimal, dict[str, Any]]:
        """What a payer's app charges on ``day``, and the ``componentesValor``, by the
        rules of the yaml (CobVValor, CobDataDeVencimento) — docs/pix-sandbox.md:

        * a due date on a non-business day moves to the next business day, and so do the
          dates of multa, juros and desconto that refer to it;
        * ``abatimento`` always; ``multa`` once, paid after the (moved) due date; ``juros``
          per day after it (calendar or business days per the modalidade; a month is 30
          calendar / 21 business days, a year 360 / 252); ``desconto`` until its dates
          (modalidades 1, 2: the first ``descontoDataFixa`` not yet past) or per day paid
          ahead of the due date (3–6);
        * each part is rounded to the cent (half up); the total is at least 0.01."""
        valor = charge["valor"]
        original = Decimal(valor["original"])
        parts: dict[str, Any] = {"original": {"valor": money(original)}}
        total = original
        if charge["_kind"] != "cobv":
            return total, parts
        due = parse_date(charge["calendario"]["dataDeVencimento"])
        assert due is not None
        moved_due = next_business_day(due)
        cents = Decimal("0.01")

        def part(name: str, value: Decimal) -> Decimal:
            value = value.quantize(cents, rounding=ROUND_HALF_UP)
            if value > 0:
                parts[name] = {"valor": money(value)}
            return value

        abat = valor.get("abatimento")
        if abat:
            total -= part("abatimento", Decimal(abat["valorPerc"]) if abat["modalidade"] == 1 else
                          original * Decimal(abat["valorPerc"]) / 100)
        if day > moved_due:
            multa = valor.get("multa")
            if multa:
                total += part("multa", Decimal(multa["valorPerc"]) if multa["modalidade"] == 1 else
                              original * Decimal(multa["valorPerc"]) / 100)
            juros = valor.get("juros")
            if juros:
                mod, rate = juros["modalidade"], Decimal(juros["valorPerc"])
                days = Decimal(business_days_between(moved_due, day) if mod >= 5 else (day - moved_due).days)
                per_day = {1: rate, 2: original * rate / 100, 3: original * rate / 100 / 30,
                           4: original * rate / 100 / 360, 5: rate, 6: original * rate / 100,
                           7: original * rate / 100 / 21, 8: original * rate / 100 / 252}[mod]
                total += part("juros", per_day * days)
        else:
            desconto = valor.get("desconto")
            mod = (desconto or {}).get("modalidade")
            if mod in (1, 2):
                for item in sorted(desconto.get("descontoDataFixa", []), key=lambda i: i["data"]):
                    if day <= next_business_day(dt.date.fromisoformat(item["data"])):
                        perc = Decimal(item["valorPerc"])
                        total -= part("desconto", perc if mod == 1 else original * perc / 100)
                        break
            elif mod in (3, 4, 5, 6):
                rate = Decimal(desconto["valorPerc"])
                ahead = business_days_between(day, moved_due) if mod in (4, 6) else (moved_due - day).days
                per_day = rate if mod in (3, 4) else original * rate / 100
                total -= part("desconto", per_day * Decimal(max(ahead, 0)))
        total = max(total, cents)
        return Decimal(money(total)), parts

    def last_payable_day(self, charge: dict) -> dt.date:
        """The last day a cobv can be paid: the (moved) due date plus
        ``validadeAposVencimento`` calendar days, moved to a business day (the yaml's
        examples A–G of CobDataDeVencimento)."""
        due = parse_date(charge["calendario"]["dataDeVencimento"])
        assert due is not None
        return next_business_day(next_business_day(due) + dt.timedelta(
            days=int(charge["calendario"].get("validadeAposVencimento", 30))))

    def pay(self, txid: str, *, amount: str | None = None, at: str | None = None,
            client_id: str | None = None, info_pagador: str | None = None,
            pagador: dict | None = None) -> dict:
        """The payer pays the charge ``txid``: a Pix is settled, the charge CONCLUIDA, the
        webhook (if any) notified. ``amount`` defaults to what is due at ``at``."""
        account, charge = self.find_charge(txid, client_id)
        if charge["status"] != "ATIVA":
            raise ApiError(400, "CobOperacaoInvalida", f"A cobrança está {charge['status']}.")
        moment = parse_stamp(at) if at else now()
        if moment is None:
            raise ApiError(400, "RequisicaoInvalida", "at deve ser um instante RFC 3339.")
        if charge["_kind"] == "cob":
            created = parse_stamp(charge["calendario"]["criacao"])
            if moment > created + dt.timedelta(seconds=charge["calendario"]["expiracao"]):
                raise ApiError(400, "CobOperacaoInvalida", "Cobrança expirada (calendario.expiracao).")
        due, parts = self.amount_due(charge, local_date(moment))
        if charge["_kind"] == "cobv":
            if local_date(moment) > self.last_payable_day(charge):
                raise ApiError(400, "CobVOperacaoInvalida", "Cobrança vencida além da validade.")
        if amount is not None:
            if not isinstance(amount, str) or not MONEY.fullmatch(amount) or Decimal(amount) <= 0:
                raise ApiError(400, "RequisicaoInvalida", "amount deve ser 0.00 e maior que zero.")
            paid = Decimal(amount)
            if paid != due:
                parts = {"original": {"valor": money(paid)}}
        else:
            paid = due
        e2eid = end_to_end_id(moment)
        pix = {
            "endToEndId": e2eid,
            "txid": txid,
            "valor": money(paid),
            "componentesValor": parts,
            "chave": charge["chave"],
            "horario": stamp(moment),
            "_payer": pagador or {"cpf": "12345678909", "nome": "Pagador Sandbox"},
            "_devolucoes": [],
        }
        if info_pagador:
            pix["infoPagador"] = info_pagador[:140]
        account.pix[e2eid] = pix
        self.e2e_owner[e2eid] = account.client_id
        charge["_pix"].append(pix)
        account.revisions.setdefault((charge["_kind"], txid), []).append(copy.deepcopy(charge))
        charge["status"] = "CONCLUIDA"
        self._notify_pix(account, pix)
        return self._pix_view(pix)

    def _notify_pix(self, account: Account, pix: dict) -> None:
        hook = account.webhooks.get(pix["chave"])
        if hook is not None and pix.get("txid"):
            self.notify("pix", hook["webhookUrl"], {"pix": [self._pix_view(pix)]}, pix["chave"])

    def _pix_view(self, pix: dict) -> dict:
        view = {k: copy.deepcopy(v) for k, v in pix.items() if not k.startswith("_")}
        if pix["_devolucoes"]:
            view["devolucoes"] = copy.deepcopy(pix["_devolucoes"])
        return view

    def remove_by_psp(self, txid: str, client_id: str | None = None) -> dict:
        account, charge = self.find_charge(txid, client_id)
        if charge["status"] != "ATIVA":
            raise ApiError(400, "CobOperacaoInvalida", f"A cobrança está {charge['status']}.")
        self._revise(account, charge, {"status": "REMOVIDA_PELO_PSP"})
        return self.charge_view(charge, full=True)

    # -- pix and devolução ---------------------------------------------------------------

    def get_pix(self, account: Account, e2eid: str) -> dict:
        pix = account.pix.get(e2eid)
        if pix is None:
            raise ApiError(404, "PixNaoEncontrado", "Pix não encontrado para o e2eid informado.")
        return self._pix_view(pix)

    def list_pix(self, account: Account, query: dict[str, str]) -> dict:
        inicio, fim, page, per_page, params = _period_query(query, "PixConsultaInvalida")
        txid = query.get("txid")
        if txid is not None and not TXID.fullmatch(txid):
            raise ApiError(400, "PixConsultaInvalida", "txid deve ter de 26 a 35 caracteres [a-zA-Z0-9].",
                           violacoes=[{"razao": "txid inválido", "propriedade": "txid"}])
        present = _bool_param(query, "txIdPresente", "PixConsultaInvalida")
        refunded = _bool_param(query, "devolucaoPresente", "PixConsultaInvalida")
        cpf, cnpj = query.get("cpf"), query.get("cnpj")
        rows = []
        for pix in account.pix.values():
            moment = parse_stamp(pix["horario"])
            if not (inicio <= moment <= fim):
                continue
            if txid and pix.get("txid") != txid:
                continue
            if present is not None and present != bool(pix.get("txid")):
                continue
            if refunded is not None and refunded != bool(pix["_devolucoes"]):
                continue
            payer = pix["_payer"]
            if cpf and payer.get("cpf") != cpf or cnpj and payer.get("cnpj") != cnpj:
                continue
            rows.append(pix)
        rows.sort(key=lambda p: (p["horario"], p["endToEndId"]))
        for name in ("txid", "cpf", "cnpj"):
            if query.get(name):
                params[name] = query[name]
        if present is not None:
            params["txIdPresente"] = present
        if refunded is not None:
            params["devolucaoPresente"] = refunded
        page_rows, params["paginacao"] = _page(rows, page, per_page)
        return {"parametros": params, "pix": [self._pix_view(p) for p in page_rows]}

    def put_devolucao(self, account: Account, e2eid: str, dev_id: str, body: Any) -> dict:
        pix = account.pix.get(e2eid)
        if pix is None:
            raise ApiError(404, "PixNaoEncontrado", "Pix não encontrado para o e2eid informado.")
        v = Violations("PixDevolucaoInvalida")
        if not DEVOLUCAO_ID.fullmatch(dev_id):
            v.add("id", "id deve ter de 1 a 35 caracteres [a-zA-Z0-9].", dev_id[:100])
        if not isinstance(body, dict):
            raise ApiError(400, v.kind, "O corpo deve ser um objeto JSON.")
        amount = _money_field(v, "valor", body.get("valor"), positive=True)
        natureza = body.get("natureza", "ORIGINAL")
        if natureza not in ("ORIGINAL", "RETIRADA"):
            v.add("natureza", "ORIGINAL ou RETIRADA.", natureza)
        _text(v, "descricao", body.get("descricao"), 140)
        v.raise_if_any()
        if any(d["id"] == dev_id for d in pix["_devolucoes"]):
            raise ApiError(400, v.kind, "id de devolução já usado para este Pix.")
        done = sum((Decimal(d["valor"]) for d in pix["_devolucoes"]
                    if d["status"] != "NAO_REALIZADO"), Decimal(0))
        if amount is not None and done + amount > Decimal(pix["valor"]):
            raise ApiError(400, v.kind, "A devolução excede o valor do Pix.")
        moment = now()
        devolucao = {
            "id": dev_id,
            "rtrId": end_to_end_id(moment, ISPB, "D"),
            "valor": money(amount),  # type: ignore[arg-type]
            "natureza": natureza,
            "horario": {"solicitacao": stamp(moment), "liquidacao": stamp(moment)},
            "status": "DEVOLVIDO",
        }
        if body.get("descricao"):
            devolucao["descricao"] = body["descricao"]
        pix["_devolucoes"].append(devolucao)
        self._notify_pix(account, pix)
        return copy.deepcopy(devolucao)

    def get_devolucao(self, account: Account, e2eid: str, dev_id: str) -> dict:
        pix = account.pix.get(e2eid)
        for devolucao in (pix or {}).get("_devolucoes", []):
            if devolucao["id"] == dev_id:
                return copy.deepcopy(devolucao)
        raise ApiError(404, "PixDevolucaoNaoEncontrada", "Devolução não encontrada.")

    # -- webhooks ------------------------------------------------------------------------

    def put_webhook(self, account: Account, chave: str, body: Any) -> None:
        url = _webhook_url(body, "WebhookOperacaoInvalida")
        if chave != account.chave:
            raise ApiError(400, "WebhookOperacaoInvalida",
                           "A chave não pertence a este usuário recebedor.",
                           violacoes=[{"razao": "chave de outro recebedor", "propriedade": "chave"}])
        account.webhooks[chave] = {"webhookUrl": url, "chave": chave, "criacao": stamp(now())}

    def get_webhook(self, account: Account, chave: str) -> dict:
        hook = account.webhooks.get(chave)
        if hook is None:
            raise ApiError(404, "WebhookNaoEncontrado", "Nenhum webhook para esta chave.")
        return {"webhookUrl": hook["webhookUrl"], "chave": chave, "cnpj": account.cnpj,
                "criacao": hook["criacao"]}

    def delete_webhook(self, account: Account, chave: str) -> None:
        if account.webhooks.pop(chave, None) is None:
            raise ApiError(404, "WebhookNaoEncontrado", "Nenhum webhook para esta chave.")

    def list_webhooks(self, account: Account, query: dict[str, str]) -> dict:
        inicio, fim, page, per_page, params = _period_query(query, "WebhookConsultaInvalida",
                                                            required=False)
        rows = [self.get_webhook(account, c) for c in account.webhooks]
        rows = [r for r in rows if inicio <= parse_stamp(r["criacao"]) <= fim]
        page_rows, params["paginacao"] = _page(rows, page, per_page)
        return {"parametros": params, "webhooks": page_rows}


class OAuthError(Exception):
    """An RFC 6749 token-endpoint error (``{"error": ..., "error_description": ...}``)."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _webhook_url(body: Any, kind: str) -> str:
    if not isinstance(body, dict):
        raise ApiError(400, kind, "O corpo deve ser um objeto JSON.")
    url = body.get("webhookUrl")
    if not isinstance(url, str) or not re.match(r"https?://[^\s/]+", url) or len(url) > 2048:
        raise ApiError(400, kind, "webhookUrl deve ser uma URL http(s).",
                       violacoes=[{"razao": "URL inválida", "propriedade": "webhookUrl"}])
    return url


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_FAR = dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)


def _period_query(query: dict[str, str], kind: str, *, required: bool = True):
    """``inicio``/``fim`` (RFC 3339) and ``paginacao.*`` of a list call, checked as the
    description says (``fim`` not before ``inicio``; page >= 0; 1..1000 items)."""
    v = Violations(kind)
    params: dict[str, Any] = {}
    bounds = []
    for name, default in (("inicio", _EPOCH), ("fim", _FAR)):
        raw = query.get(name)
        moment = parse_stamp(raw)
        if moment is None:
            if raw is not None or required:
                v.add(name, "Instante RFC 3339 obrigatório.", raw)
            moment = default
        else:
            params[name] = raw
        bounds.append(moment)
    if not required:
        params.setdefault("inicio", stamp(bounds[0]))
        params.setdefault("fim", stamp(bounds[1]))
    inicio, fim = bounds
    if fim < inicio:
        v.add("fim", "fim anterior a inicio.")
    page = _int_param(v, query, "paginacao.paginaAtual", 0, 0, 2**31 - 1)
    per_page = _int_param(v, query, "paginacao.itensPorPagina", 100, 1, 1000)
    if query.get("cpf") and query.get("cnpj"):
        v.add("cpf", "cpf e cnpj não podem ser usados juntos.")
    if query.get("cpf") is not None and not CPF.fullmatch(query["cpf"]):
        v.add("cpf", "CPF deve ter 11 dígitos.")
    if query.get("cnpj") is not None and not CNPJ.fullmatch(query["cnpj"]):
        v.add("cnpj", "CNPJ deve ter 14 caracteres [0-9A-Z].")
    v.raise_if_any("Os parâmetros da consulta não respeitam o schema.")
    return inicio, fim, page, per_page, params


def _int_param(v: Violations, query: dict[str, str], name: str, default: int, low: int,
               high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        v.add(name, "Deve ser um inteiro.", raw)
        return default
    if not low <= value <= high:
        v.add(name, f"Deve estar entre {low} e {high}.", raw)
        return default
    return value


def _bool_param(query: dict[str, str], name: str, kind: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw in ("true", "false"):
        return raw == "true"
    raise ApiError(400, kind, f"{name} deve ser true ou false.",
                   violacoes=[{"razao": "booleano inválido", "propriedade": name}])


def _page(rows: list, page: int, per_page: int) -> tuple[list, dict[str, int]]:
    total = len(rows)
    pages = max(1, -(-total // per_page))
    start = page * per_page
    return rows[start:start + per_page], {
        "paginaAtual": page, "itensPorPagina": per_page,
        "quantidadeDePaginas": pages, "quantidadeTotalDeItens": total,
    }


SNAPSHOT_VERSION = 1


def snapshot(store: "CoreStore") -> bytes:
    """The state worth keeping across restarts (accounts and all they hold; not tokens).
    Pickle keeps the references between objects (a solicrec and its rec); the file is
    the sandbox's own, written by ``save_file`` — never load one from elsewhere."""
    return pickle.dumps({"version": SNAPSHOT_VERSION, "accounts": store.accounts,
                         "e2e_owner": store.e2e_owner, "loc_seq": store.loc_seq,
                         "cobr_window": store.cobr_window}, protocol=pickle.HIGHEST_PROTOCOL)


def save_file(data: bytes, path: str) -> None:
    """Write atomically: a temporary file in the same directory, then a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pix-sandbox-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def load_file(store: "CoreStore", path: str) -> bool:
    """Restore ``path`` into ``store``; False when the file does not exist yet."""
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh)  # noqa: S301 - our own file (see snapshot)
    except FileNotFoundError:
        return False
    if data.get("version") != SNAPSHOT_VERSION:
        raise ApiError(400, "RequisicaoInvalida", f"Versão de arquivo desconhecida em {path}.")
    store.accounts = data["accounts"]
    store.e2e_owner = data["e2e_owner"]
    store.loc_seq = data["loc_seq"]
    store.cobr_window = data["cobr_window"]
    return True


from .automatico import AutomaticoMixin  # noqa: E402 - the mixin imports this module's helpers


class Store(AutomaticoMixin, CoreStore):
    """The sandbox PSP's whole state: cob/cobv/pix/webhook (``CoreStore``) and Pix
    Automático (``AutomaticoMixin``)."""
