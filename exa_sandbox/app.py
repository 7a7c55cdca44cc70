"""The sandbox as a raw ASGI application (no framework: every request stays cheap).

Three groups of routes:

* ``/v1/...``        the EXA partner API as documented in docs/connectors/exa.md;
                     subject to the fault switches;
* ``/_sandbox/...``  admin endpoints for tests and demos (no auth, never faulted);
* ``/``              a small pt-BR HTML page listing partners and their users.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections import Counter
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs, unquote

from .faults import GATEWAY_TIMEOUT, Faults
from .store import ApiError, Partner, Store, save_snapshot

log = logging.getLogger("exa_sandbox")

MAX_BODY = 64 * 1024
JSON_TYPE = b"application/json; charset=utf-8"

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class _Disconnected(Exception):
    pass


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "Recurso não encontrado.")


def _parse_json(body: bytes) -> Any:
    if not body:
        raise ApiError(400, "invalid_json", "Corpo JSON obrigatório.")
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_json", "Corpo não é JSON válido.") from None


def _query(scope: dict[str, Any]) -> dict[str, str]:
    raw = scope.get("query_string") or b""
    if not raw:
        return {}
    return {k: v[-1] for k, v in parse_qs(raw.decode("latin-1")).items()}


def _bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def route_api(method: str, parts: list[str]) -> tuple[str, str, str]:
    """``/v1/...`` path parts → (operation, prefix, external_id); 404/405 otherwise.

    ``prefix`` is "" for the token call, ``external_id`` "" outside a user's path.
    """
    n = len(parts)
    prefix = external_id = ""
    if n == 3 and parts[1] == "auth" and parts[2] == "token":
        ops = {"POST": "auth_token"}
    elif n >= 4 and parts[1] == "partners" and parts[2] and parts[3] in ("users", "packages"):
        prefix = parts[2]
        if n == 4:
            ops = {"GET": "list_packages"} if parts[3] == "packages" else {
                "GET": "list_users", "POST": "create_user"}
        elif parts[3] != "users" or not parts[4]:
            raise _not_found()
        elif n == 5:
            external_id = parts[4]
            ops = {"GET": "get_user", "PATCH": "update_user", "DELETE": "delete_user"}
        elif n == 6 and parts[5] in ("block", "unblock"):
            external_id = parts[4]
            ops = {"POST": parts[5] + "_user"}
        else:
            raise _not_found()
    else:
        raise _not_found()
    operation = ops.get(method)
    if operation is None:
        raise ApiError(
            405, "method_not_allowed", "Método não permitido.",
            headers=[(b"allow", ", ".join(ops).encode())],
        )
    return operation, prefix, external_id


class SandboxApp:
    def __init__(
        self,
        store: Store | None = None,
        faults: Faults | None = None,
        *,
        data_path: str | None = None,
        save_interval: float = 1.0,
    ):
        self.store = store or Store()
        self.faults = faults or Faults()
        self.data_path = data_path
        self.save_interval = save_interval
        self.requests: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()
        self._stop_saving: asyncio.Event | None = None
        self._saver: asyncio.Task | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # -- HTTP ------------------------------------------------------------------------

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive)
        except _Disconnected:
            return
        except ApiError as exc:
            await self._send_json(send, exc.status, exc.body(), exc.headers)
            return
        parts = _path_parts(scope)
        headers: list[tuple[bytes, bytes]] = []
        try:
            if parts[0] == "v1":
                result = await self._api(scope, parts, body, receive)
                if result is None:  # the client went away while we hung
                    return
                status, payload = result
            elif parts[0] == "_sandbox":
                status, payload = self._admin(scope["method"], parts, scope, body)
            elif parts == [""] and scope["method"] in ("GET", "HEAD"):
                page = self._html_page(_query(scope)).encode()
                await self._send(send, 200, page, b"text/html; charset=utf-8", [])
                return
            else:
                raise _not_found()
        except ApiError as exc:
            status, payload, headers = exc.status, exc.body(), exc.headers
        await self._send_json(send, status, payload, headers)

    async def _api(
        self, scope: dict[str, Any], parts: list[str], body: bytes, receive: Receive
    ) -> tuple[int, Any] | None:
        operation, prefix, external_id = route_api(scope["method"], parts)
        self.requests[operation] += 1
        faults = self.faults
        lost = False
        if faults.active:
            key = prefix or self._client_partner(body)
            if faults.applies_to(key):
                delay = faults.latency()
                if delay:
                    await asyncio.sleep(delay)
                fate = faults.decide(key)
                if fate == "timeout":
                    if await _hang(receive, faults.settings.hang_seconds):
                        return None
                    raise ApiError(504, *GATEWAY_TIMEOUT)
                if fate == "lost_response":
                    lost = True
                elif fate is not None:
                    raise fate
                if faults.settings.refuse_emails:
                    try:
                        data = json.loads(body) if body else None
                    except ValueError:
                        data = None
                    refused = faults.refusal(operation, data)
                    if refused is not None:
                        raise refused
        try:
            result: tuple[int, Any] | ApiError = self._apply(
                operation, scope, prefix, external_id, body
            )
        except ApiError as exc:
            result = exc
        if lost and await _hang(receive, faults.settings.hang_seconds):
            return None  # applied, and the client gave up waiting for the answer
        if isinstance(result, ApiError):
            raise result
        return result

    def _client_partner(self, body: bytes) -> str:
        """The partner a token request belongs to (for faults scoped by prefix)."""
        try:
            client_id = json.loads(body).get("client_id")
            return self.store.by_client_id.get(client_id, "")
        except (ValueError, AttributeError, TypeError):
            return ""

    def _apply(
        self,
        operation: str,
        scope: dict[str, Any],
        prefix: str,
        external_id: str,
        body: bytes,
    ) -> tuple[int, Any]:
        store = self.store
        if operation == "auth_token":
            data = _parse_json(body)
            if not isinstance(data, dict):
                raise ApiError(400, "invalid_json", "O corpo deve ser um objeto JSON.")
            return 200, store.issue_token(data.get("client_id"), data.get("client_secret"))
        partner: Partner = store.authorize(_bearer(scope), prefix)
        if operation == "get_user":
            return 200, store.get_user(partner, external_id)
        if operation == "create_user":
            return 201, store.create_user(partner, _parse_json(body))
        if operation == "update_user":
            return 200, store.update_user(partner, external_id, _parse_json(body))
        if operation == "block_user":
            return 200, store.set_status(partner, external_id, "blocked")
        if operation == "unblock_user":
            return 200, store.set_status(partner, external_id, "active")
        if operation == "delete_user":
            store.delete_user(partner, external_id)
            return 204, None
        if operation == "list_users":
            query = _query(scope)
            return 200, store.list_users(partner, query.get("cursor"), query.get("limit"))
        # list_packages
        return 200, {"packages": list(partner.packages.values())}

    # -- admin -----------------------------------------------------------------------

    def _admin(
        self, method: str, parts: list[str], scope: dict[str, Any], body: bytes
    ) -> tuple[int, Any]:
        store, faults = self.store, self.faults
        route = tuple(parts[1:])
        if route == ("health",) and method == "GET":
            return 200, {"ok": True}
        if route == ("partners",):
            if method == "POST":
                data = _parse_json(body)
                if not isinstance(data, dict):
                    raise ApiError(400, "invalid_json", "O corpo deve ser um objeto JSON.")
                partner = store.upsert_partner(
                    data.get("prefix"), data.get("client_id"), data.get("client_secret"),
                    data.get("packages"),
                )
                return 200, _partner_json(partner)
            if method == "GET":
                return 200, {"partners": [_partner_json(p) for p in store.partners.values()]}
        if len(route) == 3 and route[0] == "partners" and route[2] == "users" and method == "GET":
            return 200, {"users": store.partner(route[1]).ordered_users()}
        if route == ("faults",):
            if method == "POST":
                data = _parse_json(body)
                if not isinstance(data, dict):
                    raise ApiError(400, "invalid_json", "O corpo deve ser um objeto JSON.")
                faults.update(data)
                return 200, faults.as_dict()
            if method == "DELETE":
                faults.clear()
                return 200, faults.as_dict()
            if method == "GET":
                return 200, faults.as_dict()
        if route == ("tokens", "expire") and method == "POST":
            data = _parse_json(body) if body else {}
            prefix = data.get("prefix") if isinstance(data, dict) else None
            return 200, {"expired": store.expire_tokens(prefix)}
        if route == ("reset",) and method == "POST":
            store.reset()
            faults.clear()
            faults.reset_counters()
            self.requests.clear()
            self.responses.clear()
            return 200, {"ok": True}
        if route == ("stats",) and method == "GET":
            return 200, {
                "requests_total": sum(self.requests.values()),
                "requests": dict(self.requests),
                "responses": {str(k): v for k, v in sorted(self.responses.items())},
                "faults_injected": dict(faults.injected),
                "duplicates_refused": dict(store.duplicates),
                "users": store.user_counts(),
            }
        raise _not_found()

    # -- HTML listing ----------------------------------------------------------------

    def _html_page(self, query: dict[str, str]) -> str:
        try:
            refresh = max(0, int(query.get("refresh", "5")))
        except ValueError:
            refresh = 5
        only = query.get("prefix")
        limit = 500
        esc = html.escape
        out = [
            "<!doctype html><html lang='pt-BR'><head><meta charset='utf-8'>",
            "<title>Sandbox EXA</title>",
            f"<meta http-equiv='refresh' content='{refresh}'>" if refresh else "",
            "<style>body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}"
            "table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
            "td,th{border:1px solid #ccc;padding:.25rem .5rem;font-size:.9rem;text-align:left}"
            "th{background:#f2f2f2}.active{color:#137333;font-weight:600}"
            ".blocked{color:#b3261e;font-weight:600}small{color:#666}</style></head><body>",
            "<h1>Sandbox EXA</h1>",
            "<p><small>Plataforma de testes que imita a API da EXA. "
            + (f"Atualiza a cada {refresh} s." if refresh else "Atualização automática desligada.")
            + "</small></p>",
        ]
        partners = [p for p in self.store.partners.values() if only in (None, p.prefix)]
        if not partners:
            out.append("<p>Nenhum parceiro cadastrado.</p>")
        for partner in partners:
            users = partner.ordered_users()
            blocked = sum(1 for u in users if u["status"] == "blocked")
            out.append(
                f"<h2>Parceiro <code>{esc(partner.prefix)}</code></h2>"
                f"<p>{len(users)} usuário(s): {len(users) - blocked} ativo(s), "
                f"{blocked} bloqueado(s). Pacotes: "
                + ", ".join(
                    f"{esc(p['name'])} (<code>{esc(p['code'])}</code>)"
                    for p in partner.packages.values()
                )
                + "</p>"
            )
            if not users:
                continue
            shown = users[::-1][:limit]
            if len(users) > limit:
                out.append(f"<p><small>Mostrando os {limit} mais recentes.</small></p>")
            out.append(
                "<table><tr><th>ID externo</th><th>Nome</th><th>E-mail</th><th>Telefone</th>"
                "<th>CPF/CNPJ</th><th>Pacote</th><th>Situação</th><th>Atualizado em</th></tr>"
            )
            for u in shown:
                package = partner.packages.get(u["package_code"])
                package_name = package["name"] if package else u["package_code"]
                label = "Ativo" if u["status"] == "active" else "Bloqueado"
                out.append(
                    f"<tr><td><code>{esc(u['external_id'])}</code></td><td>{esc(u['name'])}</td>"
                    f"<td>{esc(u['email'])}</td><td>{esc(u['phone'])}</td>"
                    f"<td>{esc(u['document'])}</td><td>{esc(package_name)}</td>"
                    f"<td class='{u['status']}'>{label}</td><td>{esc(u['updated_at'])}</td></tr>"
                )
            out.append("</table>")
        out.append("</body></html>")
        return "".join(out)

    # -- responses -------------------------------------------------------------------

    async def _send_json(
        self, send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]]
    ) -> None:
        if status == 204:
            await self._send(send, 204, b"", None, headers)
            return
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        await self._send(send, status, body, JSON_TYPE, headers)

    async def _send(
        self,
        send: Send,
        status: int,
        body: bytes,
        content_type: bytes | None,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.responses[status] += 1
        out = [(b"content-length", str(len(body)).encode())]
        if content_type:
            out.append((b"content-type", content_type))
        out.extend(headers)
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})

    # -- lifespan and persistence ----------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.data_path:
                    self._stop_saving = asyncio.Event()
                    self._saver = asyncio.create_task(self._save_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._saver is not None and self._stop_saving is not None:
                    self._stop_saving.set()
                    await self._saver
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _save_loop(self) -> None:
        """Save at most once per ``save_interval`` when something changed, and at stop."""
        assert self._stop_saving is not None and self.data_path
        saved = None  # always write once, so the file exists from the start
        stopping = False
        while not stopping:
            if saved is not None:
                try:
                    await asyncio.wait_for(self._stop_saving.wait(), self.save_interval)
                except asyncio.TimeoutError:
                    pass
            stopping = self._stop_saving.is_set()
            version = self.store.version
            if version == saved:
                continue
            try:
                await asyncio.to_thread(save_snapshot, self.store.snapshot(), self.data_path)
            except Exception:  # keep serving; try again on the next tick
                log.exception("could not save the sandbox state to %s", self.data_path)
                saved = -1
            else:
                saved = version


def _path_parts(scope: dict[str, Any]) -> list[str]:
    """Path segments, each percent-decoded on its own (so ``a%2Fb`` stays one segment)."""
    raw = scope.get("raw_path")
    if raw is None:
        parts = scope["path"].split("/")[1:]
    else:
        text = raw.decode("latin-1")
        parts = [unquote(p) for p in text.split("/")[1:]] if "%" in text else text.split("/")[1:]
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > MAX_BODY:
                raise ApiError(413, "payload_too_large", "Corpo da requisição grande demais.")
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _hang(receive: Receive, seconds: float) -> bool:
    """Keep the client waiting; True when it gave up (disconnected) meanwhile."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), seconds)
    except asyncio.TimeoutError:
        return False
    return True


def _partner_json(partner: Partner) -> dict[str, Any]:
    return {
        "prefix": partner.prefix,
        "client_id": partner.client_id,
        "packages": list(partner.packages.values()),
        "users": len(partner.users),
    }
