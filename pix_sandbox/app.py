"""The sandbox PSP as a raw ASGI application (no framework: requests stay cheap).

Routes:

* ``POST /oauth/token``   OAuth2 client credentials (HTTP Basic), also at ``/api/oauth/token``;
* ``/api/...``            the API Pix (the yaml's ``servers`` put it under ``/api/``),
                          bearer token + scope per operation, subject to the fault switches;
* ``/_sandbox/...``       the payer and admin side for tests and demos (no auth, never faulted).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl, unquote

from .faults import Faults
from .store import ALL_SCOPES, ApiError, OAuthError, Store, save_file, snapshot
from .webhooks import Deliveries

log = logging.getLogger("pix_sandbox")

MAX_BODY = 256 * 1024
JSON = b"application/json; charset=utf-8"
PROBLEM = b"application/problem+json; charset=utf-8"

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

SEG = r"([^/]+)"
# (regex on the path under /api, {method: (operation, scope)})
API_ROUTES: list[tuple[re.Pattern[str], dict[str, tuple[str, str]]]] = [
    (re.compile(r"/cob"), {"POST": ("post_cob", "cob.write"), "GET": ("list_cob", "cob.read")}),
    (re.compile(r"/cob/" + SEG), {"PUT": ("put_cob", "cob.write"), "PATCH": ("patch_cob", "cob.write"),
                                  "GET": ("get_cob", "cob.read")}),
    (re.compile(r"/cobv"), {"GET": ("list_cobv", "cobv.read")}),
    (re.compile(r"/cobv/" + SEG), {"PUT": ("put_cobv", "cobv.write"),
                                   "PATCH": ("patch_cobv", "cobv.write"),
                                   "GET": ("get_cobv", "cobv.read")}),
    (re.compile(r"/pix"), {"GET": ("list_pix", "pix.read")}),
    (re.compile(r"/pix/" + SEG), {"GET": ("get_pix", "pix.read")}),
    (re.compile(r"/pix/" + SEG + "/devolucao/" + SEG), {"PUT": ("put_devolucao", "pix.write"),
                                                       "GET": ("get_devolucao", "pix.read")}),
    (re.compile(r"/webhook"), {"GET": ("list_webhooks", "webhook.read")}),
    (re.compile(r"/webhook/" + SEG), {"PUT": ("put_webhook", "webhook.write"),
                                      "GET": ("get_webhook", "webhook.read"),
                                      "DELETE": ("delete_webhook", "webhook.write")}),
    (re.compile(r"/webhookrec"), {"PUT": ("put_webhookrec", "webhookrec.write"),
                                  "GET": ("get_webhookrec", "webhookrec.read"),
                                  "DELETE": ("delete_webhookrec", "webhookrec.write")}),
    (re.compile(r"/webhookcobr"), {"PUT": ("put_webhookcobr", "webhookcobr.write"),
                                   "GET": ("get_webhookcobr", "webhookcobr.read"),
                                   "DELETE": ("delete_webhookcobr", "webhookcobr.write")}),
    (re.compile(r"/rec"), {"POST": ("post_rec", "rec.write"), "GET": ("list_rec", "rec.read")}),
    (re.compile(r"/rec/" + SEG), {"GET": ("get_rec", "rec.read"), "PATCH": ("patch_rec", "rec.write")}),
    (re.compile(r"/solicrec"), {"POST": ("post_solicrec", "solicrec.write")}),
    (re.compile(r"/solicrec/" + SEG), {"GET": ("get_solicrec", "solicrec.read"),
                                       "PATCH": ("patch_solicrec", "solicrec.write")}),
    (re.compile(r"/cobr"), {"POST": ("post_cobr", "cobr.write"), "GET": ("list_cobr", "cobr.read")}),
    (re.compile(r"/cobr/" + SEG), {"PUT": ("put_cobr", "cobr.write"), "GET": ("get_cobr", "cobr.read"),
                                   "PATCH": ("patch_cobr", "cobr.write")}),
    (re.compile(r"/cobr/" + SEG + "/retentativa/" + SEG), {"POST": ("post_retentativa", "cobr.write")}),
]


class _Disconnected(Exception):
    pass


def _route(method: str, path: str) -> tuple[str, str, tuple[str, ...]]:
    for pattern, ops in API_ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        found = ops.get(method)
        if found is None:
            raise ApiError(405, "MetodoNaoPermitido", "Método não permitido.",
                           headers=[(b"allow", ", ".join(ops).encode())])
        return found[0], found[1], tuple(unquote(g) for g in match.groups())
    raise ApiError(404, "NaoEncontrado", "Recurso não encontrado.")


def _json_body(body: bytes, kind: str = "RequisicaoInvalida", *, api: bool = False) -> Any:
    if not body:
        raise ApiError(400, kind, "Corpo JSON obrigatório.")
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiError(400, kind, "O corpo não é JSON válido.") from None
    if api:
        where = _null_at(data, "")
        if where is not None:  # no schema of the API Pix is nullable
            raise ApiError(400, kind, "null não é um valor aceito.",
                           violacoes=[{"razao": "valor null", "propriedade": where or "corpo"}])
    return data


def _null_at(value: Any, path: str) -> str | None:
    if value is None:
        return path
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _null_at(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _query(scope: dict[str, Any]) -> dict[str, str]:
    raw = scope.get("query_string") or b""
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _invalid_kind(operation: str) -> str:
    """The ``*OperacaoInvalida`` type of an operation's malformed body."""
    for prefix, kind in (("devolucao", "PixDevolucaoInvalida"), ("webhookrec", "WebhookRecOperacaoInvalida"),
                         ("webhookcobr", "WebhookCobROperacaoInvalida"), ("webhook", "WebhookOperacaoInvalida"),
                         ("retentativa", "CobROperacaoInvalida"), ("solicrec", "SolicRecOperacaoInvalida"),
                         ("cobv", "CobVOperacaoInvalida"), ("cobr", "CobROperacaoInvalida"),
                         ("cob", "CobOperacaoInvalida"), ("rec", "RecOperacaoInvalida")):
        if operation.endswith("_" + prefix):
            return kind
    return "RequisicaoInvalida"


class SandboxApp:
    def __init__(self, store: Store | None = None, faults: Faults | None = None, *,
                 deliveries: Deliveries | None = None, data_path: str | None = None,
                 save_interval: float = 1.0):
        self.data_path = data_path
        self.save_interval = save_interval
        self._saver: asyncio.Task | None = None
        self.store = store or Store()
        self.faults = faults or Faults()
        self.deliveries = deliveries or Deliveries(self.faults)
        self.store.notify = self.deliveries.enqueue
        self.requests: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if self.data_path:
                        self._saver = asyncio.create_task(self._save_loop())
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self._saver is not None:
                        self._saver.cancel()
                        await self._save()
                    self.deliveries.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _save_loop(self) -> None:
        """``--data``: save about every second while requests keep coming."""
        seen = -1
        while True:
            await asyncio.sleep(self.save_interval)
            count = sum(self.responses.values())
            if count != seen:
                seen = count
                await self._save()

    async def _save(self) -> None:
        if self.data_path:
            with self.store.lock:
                data = snapshot(self.store)
            await asyncio.to_thread(save_file, data, self.data_path)

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive)
        except _Disconnected:
            return
        except ApiError as exc:
            await self._send(send, exc.status, exc.body(), exc.headers, PROBLEM)
            return
        path = scope["path"]
        method = scope["method"]
        try:
            if path in ("/oauth/token", "/api/oauth/token"):
                if method != "POST":
                    raise ApiError(405, "MetodoNaoPermitido", "Use POST.", headers=[(b"allow", b"POST")])
                await self._token(scope, body, send)
                return
            if path.startswith("/api/"):
                await self._api(scope, path[4:], body, send)
                return
            if path.startswith("/_sandbox/"):
                status, payload = await self._admin(method, path[len("/_sandbox"):], scope, body)
                await self._send(send, status, payload, [], JSON)
                return
            raise ApiError(404, "NaoEncontrado", "Recurso não encontrado.")
        except ApiError as exc:
            await self._send(send, exc.status, exc.body(), exc.headers, PROBLEM)

    # -- OAuth -------------------------------------------------------------------------

    async def _token(self, scope: dict[str, Any], body: bytes, send: Send) -> None:
        self.requests["token"] += 1
        form = dict(parse_qsl(body.decode("latin-1"))) if body else {}
        try:
            key = form.get("client_id") or ""
            fate = await self._faults(key)
            payload = self.store.issue_token(_header(scope, b"authorization"), form)
        except OAuthError as exc:
            headers = [(b"www-authenticate", b'Basic realm="pix"')] if exc.status == 401 else []
            await self._send(send, exc.status, {"error": exc.error, "error_description": exc.description},
                             headers, JSON)
            return
        if fate == "lost_response":
            await self._drop(send)
            return
        await self._send(send, 200, payload, [(b"cache-control", b"no-store")], JSON)

    async def _faults(self, client_id: str) -> str | None:
        faults = self.faults
        if not faults.applies_to(client_id):
            return None
        delay = faults.latency()
        if delay:
            await asyncio.sleep(delay)
        fate = faults.decide(client_id)
        if isinstance(fate, ApiError):
            raise fate
        return fate

    # -- the API Pix ---------------------------------------------------------------------

    async def _api(self, scope: dict[str, Any], path: str, body: bytes, send: Send) -> None:
        method = scope["method"]
        operation, needed, args = _route(method, path)
        self.requests[operation] += 1
        auth = _header(scope, b"authorization") or ""
        scheme, _, token = auth.partition(" ")
        account = self.store.authenticate(token.strip() if scheme.lower() == "bearer" else None, needed)
        fate = await self._faults(account.client_id)
        try:
            try:
                status, payload = self._apply(operation, account, args, _query(scope), body)
            except ApiError:
                raise
            except Exception:  # a sandbox bug must still answer as the API Pix would
                log.exception("erro interno em %s", operation)
                raise ApiError(500, "ErroInternoDoServidor", "Erro interno do sandbox.") from None
        except ApiError as exc:
            if fate == "lost_response":
                await self._drop(send)
                return
            raise
        if fate == "lost_response":
            await self._drop(send)
            return
        await self._send(send, status, payload, [], JSON)

    def _apply(self, op: str, account, args: tuple[str, ...], query: dict[str, str],
               raw: bytes) -> tuple[int, Any]:
        s = self.store
        with s.lock:
            if op in ("put_cob", "put_cobv"):
                return s.put_charge(account, op[4:], args[0], _json_body(raw, _invalid_kind(op), api=True))
            if op == "post_cob":
                return s.post_cob(account, _json_body(raw, _invalid_kind(op), api=True))
            if op in ("patch_cob", "patch_cobv"):
                return 200, s.patch_charge(account, op[6:], args[0], _json_body(raw, _invalid_kind(op), api=True))
            if op in ("get_cob", "get_cobv"):
                return 200, s.get_charge(account, op[4:], args[0], query.get("revisao"))
            if op in ("list_cob", "list_cobv"):
                return 200, s.list_charges(account, op[5:], query)
            if op == "get_pix":
                return 200, s.get_pix(account, args[0])
            if op == "list_pix":
                return 200, s.list_pix(account, query)
            if op == "put_devolucao":
                return 201, s.put_devolucao(account, args[0], args[1], _json_body(raw, _invalid_kind(op), api=True))
            if op == "get_devolucao":
                return 200, s.get_devolucao(account, args[0], args[1])
            if op == "put_webhook":
                s.put_webhook(account, args[0], _json_body(raw, _invalid_kind(op), api=True))
                return 200, None
            if op == "get_webhook":
                return 200, s.get_webhook(account, args[0])
            if op == "delete_webhook":
                s.delete_webhook(account, args[0])
                return 204, None
            if op == "list_webhooks":
                return 200, s.list_webhooks(account, query)
            handler = getattr(s, op, None)
            if handler is None:
                raise ApiError(404, "NaoEncontrado", "Operação não implementada pelo sandbox.")
            kwargs: dict[str, Any] = {}
            if op.split("_")[0] in ("put", "post", "patch") and op != "post_retentativa":
                kwargs["body"] = _json_body(raw, _invalid_kind(op), api=True)
            if op.startswith("list_"):
                kwargs["query"] = query
            return handler(account, *args, **kwargs)

    # -- admin and payer -----------------------------------------------------------------

    async def _admin(self, method: str, path: str, scope: dict[str, Any],
                     raw: bytes) -> tuple[int, Any]:
        s = self.store
        data = _json_body(raw) if raw else {}
        if not isinstance(data, dict):
            raise ApiError(400, "RequisicaoInvalida", "O corpo deve ser um objeto JSON.")
        if (method, path) == ("GET", "/health"):
            return 200, {"ok": True}
        if (method, path) == ("POST", "/accounts"):
            for name in ("client_id", "client_secret"):
                if not isinstance(data.get(name), str) or not data[name]:
                    raise ApiError(400, "RequisicaoInvalida", f"{name} obrigatório.")
            scopes = data.get("scopes")
            if isinstance(scopes, str):
                scopes = data["scopes"] = scopes.split()
            if scopes is not None and (not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes)
                                       or set(scopes) - set(ALL_SCOPES)):
                raise ApiError(400, "RequisicaoInvalida",
                               "scopes: lista de escopos da API Pix (" + " ".join(ALL_SCOPES) + ").")
            with s.lock:
                account = s.upsert_account(data["client_id"], data["client_secret"], data.get("chave"),
                                           **{k: data.get(k) for k in ("nome", "cnpj", "cidade", "uf", "cep",
                                                                       "logradouro", "scopes")})
            return 200, account.public()
        if (method, path) == ("GET", "/accounts"):
            return 200, {"accounts": [a.public() for a in s.accounts.values()]}
        if (method, path) == ("POST", "/pay"):
            with s.lock:
                pix = s.pay(str(data.get("txid") or ""), amount=data.get("amount"), at=data.get("at"),
                            client_id=data.get("client_id"), info_pagador=data.get("infoPagador"),
                            pagador=data.get("pagador"))
            return 201, pix
        if (method, path) == ("POST", "/remove"):
            with s.lock:
                return 200, s.remove_by_psp(str(data.get("txid") or ""), data.get("client_id"))
        if method == "POST" and re.fullmatch(r"/rec/[^/]+/(approve|reject|cancel)", path):
            _, _, id_rec, action = path.split("/")
            with s.lock:
                return 200, s.payer_rec(unquote(id_rec), action, client_id=data.get("client_id"),
                                        pagador=data.get("pagador"))
        if (method, path) == ("POST", "/cobr/settle"):
            with s.lock:
                return 200, s.settle_cobr(data.get("data"), outcome=data.get("outcome", "pay"),
                                          txid=data.get("txid"), client_id=data.get("client_id"),
                                          codigo=data.get("codigo"))
        if path == "/settings" and method in ("GET", "POST"):
            if "cobr_window" in data:
                if not isinstance(data["cobr_window"], bool):
                    raise ApiError(400, "RequisicaoInvalida", "cobr_window: true ou false.")
                s.cobr_window = data["cobr_window"]
            return 200, {"cobr_window": s.cobr_window}
        if path == "/faults":
            if method == "GET":
                return 200, self.faults.as_dict()
            if method == "POST":
                self.faults.update(data)
                return 200, self.faults.as_dict()
            if method == "DELETE":
                self.faults.clear()
                return 200, self.faults.as_dict()
        if (method, path) == ("POST", "/tokens/expire"):
            return 200, {"expired": s.expire_tokens(data.get("client_id"))}
        if (method, path) == ("GET", "/webhooks"):
            query = _query(scope)
            rows = list(self.deliveries.log)
            if query.get("chave"):
                rows = [r for r in rows if r["chave"] == query["chave"]]
            return 200, {"deliveries": rows, "pending": self.deliveries.pending(),
                         "counts": dict(self.deliveries.counts)}
        if (method, path) == ("POST", "/webhooks/wait"):
            timeout = data.get("timeout", 10)
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout <= 600:
                raise ApiError(400, "RequisicaoInvalida", "timeout: 0..600 segundos.")
            idle = await asyncio.to_thread(self.deliveries.wait_idle, float(timeout))
            return 200, {"idle": idle, "pending": self.deliveries.pending()}
        if (method, path) == ("POST", "/webhooks/clear"):
            self.deliveries.clear()
            return 200, {"ok": True}
        if (method, path) == ("GET", "/stats"):
            return 200, {"requests": dict(self.requests), "responses": {str(k): v for k, v in self.responses.items()},
                         "faults_injected": dict(self.faults.injected),
                         "webhooks": dict(self.deliveries.counts)}
        raise ApiError(404, "NaoEncontrado", "Rota de administração desconhecida.")

    # -- transport -----------------------------------------------------------------------

    async def _send(self, send: Send, status: int, payload: Any,
                    headers: list[tuple[bytes, bytes]], content_type: bytes) -> None:
        self.responses[status] += 1
        if payload is None:
            data = b""
            all_headers = [(b"content-length", b"0"), *headers]
        else:
            data = json.dumps(payload, ensure_ascii=False).encode()
            all_headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode()),
                           *headers]
        await send({"type": "http.response.start", "status": status, "headers": all_headers})
        await send({"type": "http.response.body", "body": data})

    async def _drop(self, send: Send) -> None:
        """The action was applied; the answer is lost: promise a body, send none, close."""
        self.responses[0] += 1
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", JSON), (b"content-length", b"64")]})
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except RuntimeError:
            pass  # uvicorn refuses the short body and closes the connection: what we want


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "RequisicaoInvalida", "Corpo grande demais.")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
