"""EXA connector: Agrega's data objects in, EXA's JSON out, and every outcome mapped.

What this module owns (and nothing else in Agrega knows):

* the JSON field names of EXA users and packages (``_user_body``, ``_remote_user``);
* the token cache: one token per connector, fetched under a lock, refreshed before it
  expires, and fetched again once when EXA answers 401 to a call;
* the meaning of every answer as an ``ErrorKind`` with a stable code and a Portuguese
  message (``_failure``), documented in docs/connectors/exa.md;
* one redacted ``CallRecord`` per HTTP call, the token call included.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from typing import Any, Callable

import httpx

from agrega.core import egress

from ..base import (
    CallRecord,
    CallRecorder,
    Capability,
    ConnectorError,
    CredentialField,
    ErrorKind,
    IntegrationConfig,
    Package,
    RemoteStatus,
    RemoteUser,
    RemoteUserPage,
    UserSpec,
    declared,
)
from ..pacing import shared_pacer
from .client import ExaClient, Exchange
from .rules import EXA_DATA_RULES

log = logging.getLogger(__name__)

MAX_PAGE = 1000  # EXA's largest page
REDACTED = "***"
_SECRET_MARKERS = ("secret", "token", "password", "authorization")

# EXA's field names → the names of UserSpec / RemoteUser, and their pt-BR labels.
_WIRE_FIELDS = {
    "external_id": "external_id",
    "name": "name",
    "email": "email",
    "phone": "phone",
    "document": "document",
    "package_code": "package_code",
    "status": "status",
}
_FIELD_LABELS = {
    "external_id": "identificador externo",
    "name": "nome",
    "email": "e-mail",
    "phone": "telefone",
    "document": "CPF/CNPJ",
    "package_code": "pacote",
    "status": "situação",
}

_MESSAGES = {
    "missing_credentials": "Credenciais da EXA não configuradas (Client ID e Client secret).",
    "platform_unreachable": (
        "Não foi possível conectar à plataforma EXA. Verifique a URL da integração e a rede."
    ),
    "egress_refused": (
        "A URL da integração EXA aponta para um destino não permitido pela política de saída "
        "(endereço local, privado ou reservado). Corrija a URL ou inclua o destino em AGREGA_EGRESS_ALLOW."
    ),
    "invalid_url": "A URL da integração EXA é inválida.",
    "timeout_unknown_outcome": (
        "A plataforma EXA não respondeu a tempo; a operação pode ter sido aplicada. "
        "O usuário será consultado na EXA antes de nova tentativa."
    ),
    "timeout": "A plataforma EXA não respondeu a tempo.",
    "platform_unavailable": "A plataforma EXA está indisponível no momento.",
    "platform_error": "A plataforma EXA respondeu com um erro interno (HTTP {status}).",
    "rate_limited": (
        "A plataforma EXA limitou o número de requisições; nova tentativa em {retry_after:g} s."
    ),
    "invalid_credentials": "A plataforma EXA recusou as credenciais (Client ID / Client secret).",
    "forbidden": "As credenciais não dão acesso ao prefixo “{prefix}” na plataforma EXA.",
    "prefix_mismatch": (
        "As credenciais pertencem ao prefixo “{other}” na EXA, não a “{prefix}”. "
        "Confira o campo Seu prefixo."
    ),
    "user_not_found": "Usuário não encontrado na plataforma EXA.",
    "not_found": "Recurso não encontrado na plataforma EXA (HTTP 404). Confira a URL.",
    "duplicate_email": "A plataforma EXA recusou: e-mail já cadastrado para outro usuário.",
    "duplicate_external_id": (
        "A plataforma EXA recusou: já existe um usuário com este identificador externo."
    ),
    "conflict": "A plataforma EXA recusou a operação por conflito com outros dados.",
    "package_not_found": "A plataforma EXA recusou: o pacote informado não existe neste prefixo.",
    "invalid_fields": "A plataforma EXA recusou os dados: {labels}.",
    "invalid_request": "A plataforma EXA recusou a requisição ({wire_code}).",
    "payload_too_large": "A plataforma EXA recusou os dados: grandes demais (HTTP 413).",
    "unexpected_response": "Resposta inesperada da plataforma EXA (HTTP {status}).",
}


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if any(m in str(k).lower() for m in _SECRET_MARKERS) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _platform_error(payload: Any) -> tuple[str, dict[str, Any]]:
    """EXA's ``{"error": {"code", "message", "fields"?}}`` → (code, fields)."""
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = payload["error"]
        fields = error.get("fields")
        return str(error.get("code") or ""), fields if isinstance(fields, dict) else {}
    return "", {}


def _retry_after(headers: httpx.Headers) -> float:
    value = headers.get("retry-after")
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 1.0


def _user_body(spec: UserSpec, *, create: bool) -> dict[str, Any]:
    spec = EXA_DATA_RULES.to_platform(spec)  # an IDN e-mail domain in punycode
    body: dict[str, Any] = {
        "name": spec.name,
        "email": spec.email,
        "phone": spec.phone,
        "document": spec.document,
        "package_code": spec.package_code,
    }
    if create:
        body = {"external_id": spec.external_id, **body, "status": spec.status.value}
    return body


def _remote_user(payload: Any) -> RemoteUser:
    try:
        return EXA_DATA_RULES.from_platform(RemoteUser(
            external_id=str(payload["external_id"]),
            remote_id=str(payload["id"]),
            name=payload["name"],
            email=payload["email"],
            phone=payload["phone"],
            document=payload["document"],
            package_code=payload["package_code"],
            status=RemoteStatus(payload["status"]),
        ))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ConnectorError(
            ErrorKind.TRANSIENT, "unexpected_response",
            _MESSAGES["unexpected_response"].format(status=200),
        ) from None


def _summary(exchange: Exchange) -> dict[str, Any]:
    """A short, secret-free picture of the answer for the timeline."""
    if exchange.error is not None:
        return {"error": type(exchange.error).__name__}
    payload = exchange.payload
    if not exchange.ok:
        code, fields = _platform_error(payload)
        summary: dict[str, Any] = {"error": code or f"http_{exchange.status_code}"}
        if fields:
            summary["fields"] = sorted(fields)
        return summary
    if not isinstance(payload, dict):
        return {}
    if exchange.operation == "auth_token":
        return {k: payload[k] for k in ("token_type", "expires_in", "prefix") if k in payload}
    if exchange.operation == "list_users":
        users = payload.get("users")
        return {
            "count": len(users) if isinstance(users, list) else 0,
            "next_cursor": payload.get("next_cursor"),
        }
    if exchange.operation == "list_packages":
        packages = payload.get("packages")
        return {"count": len(packages) if isinstance(packages, list) else 0}
    return {k: payload[k] for k in ("id", "status", "package_code") if k in payload}


@declared
class ExaConnector:
    """The EXA platform behind Agrega's ``Connector`` interface. Thread-safe."""

    platform = "exa"
    label = "EXA"
    data_rules = EXA_DATA_RULES
    credential_fields = (
        CredentialField("client_id", "Client ID", secret=False),
        CredentialField("client_secret", "Client secret", secret=True),
    )
    needs_prefix = True  # every EXA call names the partner's prefix
    # EXA keys accounts by e-mail (unique per partner): one account per customer. Its
    # PATCH changes ``package_code`` in place; it looks users up by external id, lists
    # them page by page, blocks without deleting and publishes its catalogue
    # (docs/connectors/exa.md).
    capabilities = frozenset({
        Capability.ONE_ACCOUNT_PER_CUSTOMER, Capability.CHANGE_PACKAGE_IN_PLACE,
        Capability.LOOKUP_BY_EXTERNAL_ID, Capability.LIST_USERS, Capability.BLOCK_WITHOUT_DELETE,
        Capability.PACKAGE_CATALOGUE,
    })
    sandbox = "agrega.integrations.connectors.exa.testing"

    def __init__(
        self,
        config: IntegrationConfig,
        *,
        recorder: CallRecorder | None = None,
        http_client: httpx.Client | None = None,
        max_connections: int = 64,
    ):
        self.config = config
        self.prefix = config.prefix
        self._client_id = config.credentials.get("client_id", "")
        self._client_secret = config.credentials.get("client_secret", "")
        self._recorder = recorder
        self._api = ExaClient(
            config.base_url,
            timeout=config.timeout_seconds,
            http_client=http_client,
            max_connections=max_connections,
            pacer=shared_pacer(("exa", config.base_url, config.prefix), config.rate_limit_rps),
        )
        self._token_lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (token, refresh at, monotonic)

    def __repr__(self) -> str:
        return f"<ExaConnector {self.config.base_url} prefix={self.prefix!r}>"

    # -- Connector interface -------------------------------------------------------

    def check_credentials(self) -> None:
        self._access_token(force=True)
        self._ok(self._authorized(lambda t: self._api.list_packages(self.prefix, t)))

    def list_packages(self) -> list[Package]:
        payload = self._ok(self._authorized(lambda t: self._api.list_packages(self.prefix, t)))
        try:
            return [
                Package(code=p["code"], name=p.get("name") or p["code"],
                        description=p.get("description") or "")
                for p in payload["packages"]
            ]
        except (KeyError, TypeError, AttributeError):
            raise self._unexpected(200) from None

    def create_user(self, spec: UserSpec) -> RemoteUser:
        body = _user_body(spec, create=True)
        exchange = self._authorized(lambda t: self._api.create_user(self.prefix, t, body))
        return _remote_user(self._ok(exchange))

    def get_user(self, external_id: str) -> RemoteUser | None:
        exchange = self._authorized(lambda t: self._api.get_user(self.prefix, t, external_id))
        if self._is_missing_user(exchange):
            return None
        return _remote_user(self._ok(exchange))

    def list_users(self, cursor: str | None = None, limit: int = 500) -> RemoteUserPage:
        size = max(1, min(int(limit), MAX_PAGE))
        payload = self._ok(
            self._authorized(lambda t: self._api.list_users(self.prefix, t, cursor, size))
        )
        try:
            users = [_remote_user(u) for u in payload["users"]]
            next_cursor = payload.get("next_cursor") or None
        except (KeyError, TypeError, AttributeError):
            raise self._unexpected(200) from None
        return RemoteUserPage(users=users, next_cursor=next_cursor)

    def update_user(self, spec: UserSpec) -> RemoteUser:
        body = _user_body(spec, create=False)
        exchange = self._authorized(
            lambda t: self._api.update_user(self.prefix, t, spec.external_id, body)
        )
        return _remote_user(self._ok(exchange))

    def block_user(self, external_id: str) -> RemoteUser:
        exchange = self._authorized(lambda t: self._api.block_user(self.prefix, t, external_id))
        return _remote_user(self._ok(exchange))

    def unblock_user(self, external_id: str) -> RemoteUser:
        exchange = self._authorized(lambda t: self._api.unblock_user(self.prefix, t, external_id))
        return _remote_user(self._ok(exchange))

    def delete_user(self, external_id: str) -> None:
        exchange = self._authorized(lambda t: self._api.delete_user(self.prefix, t, external_id))
        if self._is_missing_user(exchange):
            return  # already gone: deleting is idempotent
        self._ok(exchange)

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> "ExaConnector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- token cache ---------------------------------------------------------------

    def _access_token(self, *, stale: str | None = None, force: bool = False) -> str:
        """A valid token; a new one when forced or when ``stale`` was just refused."""
        cached = self._token
        if not force and cached and cached[0] != stale and time.monotonic() < cached[1]:
            return cached[0]
        with self._token_lock:
            cached = self._token
            if not force and cached and cached[0] != stale and time.monotonic() < cached[1]:
                return cached[0]  # another thread refreshed it meanwhile
            if not self._client_id or not self._client_secret:
                raise self._error(ErrorKind.AUTH, "missing_credentials")
            exchange = self._record(
                self._api.request_token(self._client_id, self._client_secret)
            )
            payload = self._ok(exchange)
            token = payload.get("access_token") if isinstance(payload, dict) else None
            if not isinstance(token, str) or not token:
                raise self._unexpected(exchange.status_code)
            other = payload.get("prefix")
            if isinstance(other, str) and other and other != self.prefix:
                raise self._error(ErrorKind.AUTH, "prefix_mismatch", other=other)
            expires_in = payload.get("expires_in")
            lifetime = float(expires_in) if isinstance(expires_in, (int, float)) else 300.0
            lifetime -= min(60.0, lifetime * 0.1)  # refresh a little before EXA expires it
            self._token = (token, time.monotonic() + lifetime)
            return token

    def _authorized(self, send: Callable[[str], Exchange]) -> Exchange:
        """Send with the cached token; on 401 fetch a new token once and resend."""
        token = self._access_token()
        exchange = self._record(send(token))
        if exchange.status_code == 401:
            exchange = self._record(send(self._access_token(stale=token)))
        return exchange

    # -- outcomes ------------------------------------------------------------------

    def _record(self, exchange: Exchange) -> Exchange:
        if self._recorder is None:
            return exchange
        failure = None if exchange.ok else self._failure(exchange)
        response = _summary(exchange)
        if failure is not None:  # the operator's words for the failure, next to its code
            response["message"] = failure.message
        record = CallRecord(
            operation=exchange.operation,
            method=exchange.method,
            path=exchange.path,
            status_code=exchange.status_code,
            duration_ms=round(exchange.duration_ms, 2),
            request=_redact(exchange.request),
            response=response,
            error_code=failure.code if failure else "",
            external_id=exchange.external_id,
        )
        try:
            self._recorder(record)
        except Exception:  # a broken timeline must not break the platform call
            log.exception("EXA call recorder failed")
        return exchange

    def _ok(self, exchange: Exchange) -> Any:
        """The decoded payload of a successful exchange; the mapped error otherwise."""
        if not exchange.ok:
            raise self._failure(exchange)
        return exchange.payload

    @staticmethod
    def _is_missing_user(exchange: Exchange) -> bool:
        return exchange.status_code == 404 and _platform_error(exchange.payload)[0] in (
            "user_not_found",
        )

    def _failure(self, exchange: Exchange) -> ConnectorError:
        """Map one exchange that did not succeed to a ConnectorError (see the docs)."""
        error = exchange.error
        if error is not None:
            if isinstance(error, egress.EgressRefused):
                return self._error(ErrorKind.CONFIG, "egress_refused")
            if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
                return self._error(ErrorKind.TRANSIENT, "platform_unreachable")
            if isinstance(error, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
                return self._error(ErrorKind.TRANSIENT, "invalid_url")
            if exchange.mutates:  # the request may have reached EXA and been applied
                return self._error(ErrorKind.UNKNOWN_OUTCOME, "timeout_unknown_outcome")
            return self._error(ErrorKind.TRANSIENT, "timeout")

        status = exchange.status_code or 0
        code, wire_fields = _platform_error(exchange.payload)
        if status >= 500:
            if status == 503:
                return self._error(ErrorKind.TRANSIENT, "platform_unavailable", status=status)
            return self._error(ErrorKind.TRANSIENT, "platform_error", status=status)
        if status == 429:
            retry_after = _retry_after(exchange.headers)
            return self._error(
                ErrorKind.RATE_LIMITED, "rate_limited", status=status, retry_after=retry_after
            )
        if status == 401:
            return self._error(ErrorKind.AUTH, "invalid_credentials", status=status)
        if status == 403:
            return self._error(ErrorKind.AUTH, "forbidden", status=status)
        if status == 404:
            found = code if code == "user_not_found" else "not_found"
            return self._error(ErrorKind.NOT_FOUND, found, status=status)
        if status == 409:
            found = code if code in ("duplicate_email", "duplicate_external_id") else "conflict"
            return self._error(
                ErrorKind.CONFLICT, found, status=status, fields=self._fields(wire_fields)
            )
        if status == 413:  # the same body is refused again: only other data can pass
            return self._error(ErrorKind.INVALID, "payload_too_large", status=status)
        if status in (400, 422):
            fields = self._fields(wire_fields)
            if code == "package_not_found":
                fields.setdefault("package_code", "Pacote não existe na plataforma EXA.")
                return self._error(ErrorKind.INVALID, code, status=status, fields=fields)
            if fields:
                labels = ", ".join(_FIELD_LABELS.get(f, f) for f in fields)
                return self._error(
                    ErrorKind.INVALID, "invalid_fields", status=status, fields=fields,
                    labels=labels,
                )
            return self._error(
                ErrorKind.INVALID, "invalid_request", status=status, wire_code=code or status
            )
        return self._unexpected(status)

    @staticmethod
    def _fields(wire_fields: dict[str, Any]) -> dict[str, str]:
        """EXA's field errors → UserSpec field names with Portuguese text."""
        fields = {}
        for wire_name in wire_fields:
            name = _WIRE_FIELDS.get(wire_name, wire_name)
            label = _FIELD_LABELS.get(name, name)
            fields[name] = f"{label[:1].upper()}{label[1:]} recusado pela plataforma EXA."
        return fields

    def _error(
        self,
        kind: ErrorKind,
        code: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        fields: dict[str, str] | None = None,
        **context: Any,
    ) -> ConnectorError:
        message = _MESSAGES[code].format(
            status=status, retry_after=retry_after or 0, prefix=self.prefix, **context
        )
        return ConnectorError(
            kind, code, message, status_code=status, retry_after=retry_after, fields=fields
        )

    def _unexpected(self, status: int | None) -> ConnectorError:
        return self._error(ErrorKind.TRANSIENT, "unexpected_response", status=status)
