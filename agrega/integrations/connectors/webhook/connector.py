"""The "Webhook genérico" connector: Agrega's data objects in, signed events out.

What it owns (and nothing else in Agrega knows): the event types and their JSON, the
signature (``signing.py``), the meaning of every answer as an ``ErrorKind`` with the
codes of ``ErrorCode``, and one redacted ``CallRecord`` per POST.

A platform that only receives events cannot be asked what it holds, so this connector
does not declare ``lookup_by_external_id`` nor ``list_users``: ``get_user`` answers None
without a call, and every write carries the whole state it wants the platform to hold
(applying an event twice changes nothing), so a lost answer is settled by sending the
state again — with the same event id when the intent is the same.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any
from urllib.parse import urlparse

import httpx

from agrega.core import egress

from ..base import (
    CallRecord,
    CallRecorder,
    Capability,
    ConnectorError,
    CredentialField,
    DataRules,
    ErrorCode,
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
from . import signing

log = logging.getLogger(__name__)

USER_AGENT = "Agrega-Webhook/1.0"
_LABELS = {"external_id": "identificador externo", "name": "nome", "email": "e-mail",
           "phone": "telefone", "document": "CPF/CNPJ", "package_code": "pacote", "status": "situação"}

_MESSAGES = {
    ErrorCode.MISSING_CREDENTIALS: "Segredo de assinatura do webhook não configurado.",
    ErrorCode.PLATFORM_UNREACHABLE: "Não foi possível conectar à URL do webhook. Verifique a URL e a rede.",
    ErrorCode.EGRESS_REFUSED: (
        "A URL do webhook aponta para um destino não permitido pela política de saída "
        "(endereço local, privado ou reservado). Corrija a URL ou inclua o destino em AGREGA_EGRESS_ALLOW."),
    ErrorCode.INVALID_URL: "A URL do webhook é inválida.",
    ErrorCode.TIMEOUT_UNKNOWN_OUTCOME: (
        "A plataforma não respondeu ao evento a tempo; ele pode ter sido aplicado. "
        "O mesmo estado será enviado de novo."),
    ErrorCode.TIMEOUT: "A plataforma não respondeu a tempo.",
    ErrorCode.PLATFORM_UNAVAILABLE: "A plataforma está indisponível no momento (HTTP 503).",
    ErrorCode.PLATFORM_ERROR: "A plataforma respondeu com um erro interno (HTTP {status}).",
    ErrorCode.RATE_LIMITED: "A plataforma limitou o número de eventos; nova tentativa em {retry_after:g} s.",
    ErrorCode.INVALID_CREDENTIALS: "A plataforma recusou a assinatura do evento (confira o segredo de assinatura).",
    ErrorCode.USER_NOT_FOUND: "A plataforma não conhece este usuário.",
    "not_found": "A URL do webhook não existe na plataforma (HTTP 404). Confira a URL.",
    ErrorCode.DUPLICATE_EMAIL: "A plataforma recusou: e-mail já cadastrado para outro usuário.",
    "conflict": "A plataforma recusou o evento por conflito com outros dados (HTTP 409).",
    ErrorCode.PACKAGE_NOT_FOUND: "A plataforma recusou: o pacote informado não existe.",
    ErrorCode.INVALID_FIELDS: "A plataforma recusou os dados: {labels}.",
    "invalid_request": "A plataforma recusou o evento (HTTP {status}).",
    ErrorCode.PAYLOAD_TOO_LARGE: "A plataforma recusou os dados: grandes demais (HTTP 413).",
    "unexpected_response": "Resposta inesperada da plataforma (HTTP {status}).",
    ErrorCode.NOT_SUPPORTED: "O webhook genérico não consulta a plataforma: {what} não está disponível.",
}


def parse_packages(text: str) -> list[Package]:
    """The catalogue typed in the integration: ``CÓDIGO=Nome`` separated by ``;`` or lines."""
    packages = []
    for item in text.replace("\n", ";").split(";"):
        code, _, name = item.strip().partition("=")
        if code.strip():
            packages.append(Package(code=code.strip(), name=name.strip() or code.strip()))
    return packages


def _retry_after(value: str | None) -> float:
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 1.0


def _wire_error(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The optional ``{"error": {"code", "fields"}}`` body of a refusal."""
    try:
        payload = response.json()
    except ValueError:
        return "", {}
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return "", {}
    fields = error.get("fields")
    return str(error.get("code") or ""), fields if isinstance(fields, dict) else {}


@declared
class WebhookConnector:
    """Any platform that receives HTTPS events, behind Agrega's ``Connector``. Thread-safe."""

    platform = "webhook"
    label = "Webhook genérico"
    credential_fields = (
        CredentialField("signing_secret", "Segredo de assinatura", secret=True,
                        help="Compartilhado com a plataforma; assina cada evento (HMAC-SHA256)."),
        CredentialField("previous_signing_secret", "Segredo anterior (rotação)", secret=True, required=False,
                        help="Durante a troca do segredo, os eventos são assinados com os dois."),
        CredentialField("packages", "Pacotes (CÓDIGO=Nome; …)", secret=False, required=False,
                        help="O catálogo da plataforma, que o webhook não consulta."),
    )
    needs_prefix = False  # the URL names the account; a prefix, when given, goes in "account"
    capabilities = frozenset({Capability.CHANGE_PACKAGE_IN_PLACE, Capability.BLOCK_WITHOUT_DELETE})
    data_rules = DataRules()  # the platform states none: Agrega's own rules (core.br) apply
    sandbox = "agrega.integrations.connectors.webhook.testing"

    def __init__(self, config: IntegrationConfig, *, recorder: CallRecorder | None = None,
                 http_client: httpx.Client | None = None):
        self.config = config
        self.url = config.base_url
        self.account = config.prefix
        credentials = config.credentials
        self._secrets = [s for s in (credentials.get("signing_secret", ""),
                                     credentials.get("previous_signing_secret", "")) if s]
        self._packages = parse_packages(credentials.get("packages", "") or "")
        self._recorder = recorder
        self._path = urlparse(self.url).path or "/"
        self._owns_http = http_client is None
        self.http = http_client or egress.client(
            timeout=httpx.Timeout(config.timeout_seconds),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        self._pacer = shared_pacer(("webhook", config.base_url, config.prefix), config.rate_limit_rps)

    def __repr__(self) -> str:
        return f"<WebhookConnector {self.url}>"

    # -- Connector interface ---------------------------------------------------------

    def check_credentials(self) -> None:
        """A signed ``ping``: 2xx proves the URL answers and the platform checks our signature."""
        self._send("check_credentials", "ping", {}, mutates=False)

    def list_packages(self) -> list[Package]:
        return list(self._packages)

    def create_user(self, spec: UserSpec) -> RemoteUser:
        self._send("create_user", "sva_user.created", _state(spec), external_id=spec.external_id)
        return _remote(spec)

    def get_user(self, external_id: str) -> RemoteUser | None:
        """None: the platform cannot be asked (no ``lookup_by_external_id``). The caller
        then sends the whole state again, which is safe: see the module's docstring."""
        return None

    def list_users(self, cursor: str | None = None, limit: int = 500) -> RemoteUserPage:
        raise self._error(ErrorKind.CONFIG, ErrorCode.NOT_SUPPORTED, what="a lista de usuários")

    def update_user(self, spec: UserSpec) -> RemoteUser:
        self._send("update_user", "sva_user.updated", _state(spec), external_id=spec.external_id)
        return _remote(spec)

    def block_user(self, external_id: str) -> RemoteUser:
        return self._status("block_user", "sva_user.blocked", external_id, RemoteStatus.BLOCKED)

    def unblock_user(self, external_id: str) -> RemoteUser:
        return self._status("unblock_user", "sva_user.unblocked", external_id, RemoteStatus.ACTIVE)

    def delete_user(self, external_id: str) -> None:
        try:
            self._send("delete_user", "sva_user.deleted", {"external_id": external_id},
                       external_id=external_id)
        except ConnectorError as exc:
            if exc.code != ErrorCode.USER_NOT_FOUND:
                raise  # already gone: deleting is idempotent

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    # -- plumbing --------------------------------------------------------------------

    def _status(self, operation: str, kind: str, external_id: str, status: RemoteStatus) -> RemoteUser:
        """Block / unblock: the event carries the status only; the answer has no user
        data, so the ``RemoteUser`` carries only the id and the status (base.settled)."""
        self._send(operation, kind, {"external_id": external_id, "status": status.value},
                   external_id=external_id)
        return RemoteUser(external_id=external_id, remote_id=external_id, name="", email="", phone="",
                          document="", package_code="", status=status)

    def _send(self, operation: str, kind: str, data: dict[str, Any], *, mutates: bool = True,
              external_id: str = "") -> httpx.Response:
        if not self._secrets:
            raise self._error(ErrorKind.AUTH, ErrorCode.MISSING_CREDENTIALS)
        event = {"id": signing.event_id(self.account, kind, data), "type": kind,
                 "account": self.account, "data": data}
        timestamp = int(time.time())
        event["created"] = timestamp
        body = signing.canonical(event)
        headers = {signing.HEADER: signing.header(self._secrets, timestamp, body),
                   "Agrega-Event-Id": event["id"], "Agrega-Event-Type": kind}
        if self._pacer is not None:
            self._pacer.acquire()
        started = time.perf_counter()
        response = error = None
        try:
            response = self.http.post(self.url, content=body, headers=headers)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            error = exc
        duration = (time.perf_counter() - started) * 1000.0
        failure = self._failure(operation, mutates, response, error)
        if response is not None and response.status_code == 429 and self._pacer is not None:
            self._pacer.hold(min(_retry_after(response.headers.get("retry-after")), 10.0))
        self._record(operation, event, response, failure, duration, external_id)
        if failure is not None:
            raise failure
        return response

    def _failure(self, operation: str, mutates: bool, response: httpx.Response | None,
                 error: Exception | None) -> ConnectorError | None:
        if error is not None:
            if isinstance(error, egress.EgressRefused):
                return self._error(ErrorKind.CONFIG, ErrorCode.EGRESS_REFUSED)
            if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
                return self._error(ErrorKind.TRANSIENT, ErrorCode.PLATFORM_UNREACHABLE)
            if isinstance(error, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
                return self._error(ErrorKind.TRANSIENT, ErrorCode.INVALID_URL)
            if mutates:
                return self._error(ErrorKind.UNKNOWN_OUTCOME, ErrorCode.TIMEOUT_UNKNOWN_OUTCOME)
            return self._error(ErrorKind.TRANSIENT, ErrorCode.TIMEOUT)
        assert response is not None
        status = response.status_code
        if 200 <= status < 300:
            return None
        code, wire_fields = _wire_error(response)
        if status == 503:
            return self._error(ErrorKind.TRANSIENT, ErrorCode.PLATFORM_UNAVAILABLE, status=status)
        if status >= 500:
            return self._error(ErrorKind.TRANSIENT, ErrorCode.PLATFORM_ERROR, status=status)
        if status == 429:
            return self._error(ErrorKind.RATE_LIMITED, ErrorCode.RATE_LIMITED, status=status,
                               retry_after=_retry_after(response.headers.get("retry-after")))
        if status in (401, 403):
            return self._error(ErrorKind.AUTH, ErrorCode.INVALID_CREDENTIALS, status=status)
        fields = {name: f"{_LABELS.get(name, name).capitalize()} recusado pela plataforma."
                  for name in wire_fields}
        if status == 404:
            if code == ErrorCode.USER_NOT_FOUND:
                return self._error(ErrorKind.NOT_FOUND, ErrorCode.USER_NOT_FOUND, status=status)
            return self._error(ErrorKind.NOT_FOUND, "not_found", status=status)
        if status == 409:
            found = code if code in (ErrorCode.DUPLICATE_EMAIL, ErrorCode.DUPLICATE_EXTERNAL_ID) else "conflict"
            if found == ErrorCode.DUPLICATE_EXTERNAL_ID:
                found = "conflict"  # our events are upserts: the platform has no reason to say it
            return self._error(ErrorKind.CONFLICT, found, status=status, fields=fields)
        if status == 413:
            return self._error(ErrorKind.INVALID, ErrorCode.PAYLOAD_TOO_LARGE, status=status)
        if status in (400, 422):
            if code == ErrorCode.PACKAGE_NOT_FOUND:
                fields.setdefault("package_code", "Pacote não existe na plataforma.")
                return self._error(ErrorKind.INVALID, code, status=status, fields=fields)
            if fields:
                return self._error(ErrorKind.INVALID, ErrorCode.INVALID_FIELDS, status=status, fields=fields,
                                   labels=", ".join(_LABELS.get(f, f) for f in fields))
            return self._error(ErrorKind.INVALID, "invalid_request", status=status)
        return self._error(ErrorKind.TRANSIENT, "unexpected_response", status=status)

    def _record(self, operation: str, event: dict, response: httpx.Response | None,
                failure: ConnectorError | None, duration: float, external_id: str) -> None:
        if self._recorder is None:
            return
        summary: dict[str, Any] = {"event_id": event["id"]}
        if failure is None and "status" in event["data"]:
            summary["status"] = event["data"]["status"]  # the state the platform confirmed
        if failure is not None:
            summary["message"] = failure.message
        record = CallRecord(
            operation=operation, method="POST", path=self._path,
            status_code=response.status_code if response is not None else None,
            duration_ms=round(duration, 2), request={"type": event["type"], **event["data"]},
            response=summary, error_code=failure.code if failure else "", external_id=external_id,
            at=time.time(),
        )
        try:
            self._recorder(record)
        except Exception:  # a broken timeline must not break the platform call
            log.exception("webhook call recorder failed")

    def _error(self, kind: ErrorKind, code: str, *, status: int | None = None,
               retry_after: float | None = None, fields: dict[str, str] | None = None,
               **context: Any) -> ConnectorError:
        template = _MESSAGES.get(code, "A plataforma recusou o evento ({code}).")
        message = template.format(status=status, retry_after=retry_after or 0, code=code, **context)
        return ConnectorError(kind, code, message, status_code=status, retry_after=retry_after, fields=fields)


def _state(spec: UserSpec) -> dict[str, Any]:
    return {"external_id": spec.external_id, "name": spec.name, "email": spec.email, "phone": spec.phone,
            "document": spec.document, "package_code": spec.package_code, "status": spec.status.value}


def _remote(spec: UserSpec) -> RemoteUser:
    return RemoteUser(external_id=spec.external_id, remote_id=spec.external_id, name=spec.name,
                      email=spec.email, phone=spec.phone, document=spec.document,
                      package_code=spec.package_code, status=spec.status)
