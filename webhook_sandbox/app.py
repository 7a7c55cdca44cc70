"""The receiving platform as a raw ASGI application.

* ``POST /hooks/{account}``  where Agrega sends an account's events (its integration's
                             URL); signature checked, then the fault switches, then applied;
* ``/_sandbox/...``          admin endpoints for tests and demos (no auth, never faulted).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from exa_sandbox.app import JSON_TYPE, _hang, _parse_json, _path_parts, _read_body
from exa_sandbox.faults import GATEWAY_TIMEOUT, Faults
from exa_sandbox.store import ApiError

from .store import OPERATIONS, Store, verify


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "Recurso não encontrado.")


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


class WebhookApp:
    def __init__(self, store: Store | None = None, faults: Faults | None = None):
        self.store = store or Store()
        self.faults = faults or Faults()
        self.requests: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        try:
            body = await _read_body(receive)
        except ApiError as exc:
            await self._send(send, exc.status, exc.body(), exc.headers)
            return
        except Exception:  # the client went away
            return
        parts = _path_parts(scope)
        headers: list[tuple[bytes, bytes]] = []
        try:
            if len(parts) == 2 and parts[0] == "hooks" and parts[1]:
                if scope["method"] != "POST":
                    raise ApiError(405, "method_not_allowed", "Método não permitido.",
                                   headers=[(b"allow", b"POST")])
                result = await self._event(scope, parts[1], body, receive)
                if result is None:
                    return  # the client gave up while we hung
                status, payload = result
            elif parts and parts[0] == "_sandbox":
                status, payload = self._admin(scope["method"], parts[1:], body)
            else:
                raise _not_found()
        except ApiError as exc:
            status, payload, headers = exc.status, exc.body(), exc.headers
        await self._send(send, status, payload, headers)

    async def _event(self, scope, name: str, body: bytes, receive) -> tuple[int, Any] | None:
        account = self.store.account(name)
        if not verify(account.secrets, _header(scope, b"agrega-signature"), body):
            self.requests["refused_signature"] += 1
            raise ApiError(401, "invalid_signature", "Assinatura inválida ou expirada.")
        event = _parse_json(body)
        operation = OPERATIONS.get(event.get("type") if isinstance(event, dict) else None, "invalid")
        self.requests[operation] += 1
        faults, lost = self.faults, False
        if faults.applies_to(name):
            delay = faults.latency()
            if delay:
                await asyncio.sleep(delay)
            fate = faults.decide(name)
            if fate == "timeout":
                if await _hang(receive, faults.settings.hang_seconds):
                    return None
                raise ApiError(504, *GATEWAY_TIMEOUT)
            if fate == "lost_response":
                lost = True
            elif fate is not None:
                raise fate
            refused = faults.refusal(operation, event.get("data") if isinstance(event, dict) else None)
            if refused is not None:
                raise refused
        try:
            result: tuple[int, Any] | ApiError = self.store.apply(account, event)
        except ApiError as exc:
            result = exc
        if lost and await _hang(receive, faults.settings.hang_seconds):
            return None
        if isinstance(result, ApiError):
            raise result
        return result

    def _admin(self, method: str, route: list[str], body: bytes) -> tuple[int, Any]:
        store, faults = self.store, self.faults
        route_t = tuple(route)
        if route_t == ("health",) and method == "GET":
            return 200, {"ok": True}
        if route_t == ("accounts",) and method == "POST":
            data = _parse_json(body)
            if not isinstance(data, dict):
                raise ApiError(400, "invalid_json", "O corpo deve ser um objeto JSON.")
            account = store.upsert_account(data.get("account"), data.get("secrets"), data.get("packages"))
            return 200, {"account": account.name, "packages": account.packages}
        if len(route_t) == 3 and route_t[0] == "accounts" and route_t[2] == "users" and method == "GET":
            return 200, {"users": store.account(route_t[1]).ordered_users()}
        if route_t == ("faults",):
            if method == "POST":
                data = _parse_json(body)
                if not isinstance(data, dict):
                    raise ApiError(400, "invalid_json", "O corpo deve ser um objeto JSON.")
                faults.update(data)
            elif method == "DELETE":
                faults.clear()
            return 200, faults.as_dict()
        if route_t == ("reset",) and method == "POST":
            store.reset()
            faults.clear()
            faults.reset_counters()
            self.requests.clear()
            self.responses.clear()
            return 200, {"ok": True}
        if route_t == ("stats",) and method == "GET":
            return 200, {
                "requests_total": sum(self.requests.values()),
                "requests": dict(self.requests),
                "responses": {str(k): v for k, v in sorted(self.responses.items())},
                "faults_injected": dict(faults.injected),
                "duplicates_refused": dict(store.duplicates),
                "replays": store.replays,
                "events": dict(store.events),
            }
        raise _not_found()

    async def _send(self, send, status: int, payload: Any, headers) -> None:
        self.responses[status] += 1
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        out = [(b"content-length", str(len(body)).encode()), (b"content-type", JSON_TYPE), *headers]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})
