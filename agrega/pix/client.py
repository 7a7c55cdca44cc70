"""The one client of the standard API Pix (Banco Central, v2.9.0) that Agrega uses.

OAuth2 client credentials (token cached until shortly before it expires, fetched again
on a 401), mutual TLS from the account's decrypted certificate (an ``ssl`` context: the
PEM is written to a private temporary file only for ``load_cert_chain`` and removed at
once), retries with backoff on 5xx, 429 (``Retry-After`` honoured) and transport errors
for the reads and for the writes that name an id Agrega chose (PUT/PATCH: repeating one
is the same request). The API Pix has no such variant for three writes — ``POST /rec``,
``POST /solicrec``, ``POST /cobr/{txid}/retentativa/{data}`` — and repeating one whose
request may have reached the PSP could create a second recurrence: these are sent again
only when the PSP surely did not act (a 429, a 401 before a fresh token, a connection
that was never made); a lost answer or a 5xx after sending raises a ``PixError`` with
``unknown`` set (code ``pix_outcome_unknown``), and the caller finds out what happened
by reading the PSP (recurrence.py, automatico.py). Outbound calls go through the egress
policy (core/egress.py).

A PSP that deviates from the standard gets a small ``Adapter`` subclass (``ADAPTERS``),
never a fork of this client."""

from __future__ import annotations

import os
import random
import socket
import ssl
import tempfile
import threading
import time
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from agrega.core import egress

RETRY_STATUS = {429, 500, 502, 503, 504}
# transport errors raised before any byte of the request left: safe to send again
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class PixError(Exception):
    """A failed call: ``status`` (0 for transport), the PSP's ``problem`` (RFC 7807) if any."""

    def __init__(self, message: str, *, status: int = 0, problem: dict | None = None, code: str = "pix_error",
                 unknown: bool = False):
        super().__init__(message)
        self.status, self.problem, self.code, self.unknown = status, problem or {}, code, unknown

    @property
    def permanent(self) -> bool:
        """The PSP answered and refused: the same request would be refused again."""
        return self.status in (400, 403, 404, 409, 422)

    @property
    def tls_failure(self) -> bool:
        """The TLS handshake failed: nothing changes until the account does."""
        return self.code in TLS_CODES


TLS_SERVER_UNTRUSTED = "pix_tls_server_untrusted"
TLS_CLIENT_REFUSED = "pix_tls_client_refused"
TLS_CODES = {TLS_SERVER_UNTRUSTED, TLS_CLIENT_REFUSED}
# OpenSSL's names of the alerts a server sends when it refuses the client's certificate
# (missing, unknown CA, expired, …) — what a PSP requiring mTLS answers
CLIENT_CERT_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "SSLV3_ALERT_CERTIFICATE_EXPIRED", "SSLV3_ALERT_CERTIFICATE_REVOKED",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE", "TLSV1_ALERT_ACCESS_DENIED", "SSLV3_ALERT_HANDSHAKE_FAILURE",
    "TLSV1_ALERT_DECRYPT_ERROR",
}
SERVER_UNTRUSTED_MESSAGE = ("O certificado do servidor do PSP não é confiável ({detail}). Se o PSP usa uma CA "
                            "própria (comum em homologação), informe o “CA do PSP” (PEM) na conta.")
CLIENT_REFUSED_MESSAGE = ("O PSP recusou a conexão TLS: o certificado do cliente está ausente ou não foi emitido "
                          "pelo PSP{detail}. Envie na conta o certificado (PKCS#12, ou PEM e chave) que o PSP "
                          "emitiu para ela.")
TLS_FAILURE_REMEMBERED = 15 * 60  # seconds a client answers a TLS failure without a new handshake


class Adapter:
    """The standard API Pix. Override only what a PSP does differently."""

    name = "padrao"
    label = "Padrão Banco Central"

    def token_url(self, base_url: str, configured: str) -> str:
        return configured or base_url.rstrip("/") + "/oauth/token"

    def token_request(self, client_id: str, client_secret: str, scopes: list[str] | None) -> dict:
        data = {"grant_type": "client_credentials"}
        if scopes:
            data["scope"] = " ".join(scopes)
        return {"data": data, "auth": (client_id, client_secret)}


ADAPTERS: dict[str, type[Adapter]] = {Adapter.name: Adapter}


def adapter_choices() -> list[tuple[str, str]]:
    return [(name, cls.label) for name, cls in ADAPTERS.items()]


def ssl_context(cert_pem: str = "", key_pem: str = "", password: str | None = None,
                ca_pem: str = "") -> ssl.SSLContext:
    """A client context presenting the account's certificate (mTLS) and trusting, besides
    the system's CAs, the PSP's own CA when the account names one (homologation
    environments often sign their servers with it)."""
    ctx = ssl.create_default_context()
    if ca_pem:
        ctx.load_verify_locations(cadata=ca_pem)
    if not (cert_pem and key_pem):
        return ctx
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = os.path.join(folder, "c.pem"), os.path.join(folder, "k.pem")
        for path, data in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(data)
        ctx.load_cert_chain(cert_path, key_path, password=password)
    return ctx


@dataclass
class _Token:
    value: str
    expires_at: float
    scopes: list[str]


_TOKENS: dict[tuple, _Token] = {}
_TOKENS_LOCK = threading.Lock()
_HTTP_LOCK = threading.Lock()


@dataclass
class PixClient:
    base_url: str
    client_id: str
    client_secret: str
    token_url: str = ""
    cert_pem: str = ""
    key_pem: str = ""
    ca_pem: str = ""  # the PSP's own CA (public), trusted besides the system's
    adapter: Adapter = field(default_factory=Adapter)
    timeout: float = 10.0
    retries: int = 4
    backoff: float = 0.2
    # every (method, path, json body, response) pair, for the conformance tests
    on_exchange: Callable[[httpx.Request, httpx.Response], None] | None = None
    _http: httpx.Client | None = None
    # a TLS handshake failure and when it happened: answered again without a handshake
    _tls_failed: tuple[PixError, float] | None = None
    # every client's exchanges also go here when set (the tests' conformance check)
    observer: typing.ClassVar[Callable[[httpx.Request, httpx.Response], None] | None] = None

    @classmethod
    def for_account(cls, account, **kwargs) -> "PixClient":
        secrets = account.secrets
        return cls(base_url=account.base_url, client_id=account.client_id,
                   client_secret=secrets.get("client_secret", ""), token_url=account.token_url,
                   cert_pem=secrets.get("cert_pem", ""), key_pem=secrets.get("key_pem", ""),
                   ca_pem=account.psp_ca_pem or "", adapter=ADAPTERS.get(account.adapter, Adapter)(),
                   timeout=account.timeout_seconds, **kwargs)

    # -- plumbing -----------------------------------------------------------------------
    def http(self) -> httpx.Client:
        if self._http is None:
            with _HTTP_LOCK:  # a shared client may be first used by two threads at once
                if self._http is None:
                    verify: Any = True
                    if (self.cert_pem and self.key_pem) or self.ca_pem:
                        verify = self._ssl_context()
                    # always hooked: a long-lived (shared) client must see an observer set later
                    self._http = httpx.Client(transport=egress.EgressTransport(verify=verify), trust_env=False,
                                              timeout=self.timeout, event_hooks={"response": [self._hook]})
        return self._http

    def _ssl_context(self, *, tls12: bool = False) -> ssl.SSLContext:
        ctx = ssl_context(self.cert_pem if self.key_pem else "", self.key_pem if self.cert_pem else "",
                          ca_pem=self.ca_pem)
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def _tls_failure(self, exc: httpx.TransportError, url: str) -> PixError | None:
        """The PSP's TLS refusal behind a transport error, if it is one: the server's
        certificate not trusted, or ours refused (a TLS alert; or, when the server just
        closed the connection, a TLS 1.2 handshake with the same certificate that fails —
        there the client certificate is part of the handshake). None: a network error."""
        seen: set[int] = set()
        error: BaseException | None = exc
        saw_ssl = False  # a TLS error without a telling reason (e.g. EOF inside the handshake)
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            inner = [error, *(a for a in getattr(error, "args", ()) if isinstance(a, BaseException))]
            for e in inner:
                if isinstance(e, ssl.SSLCertVerificationError):
                    detail = e.verify_message or e.reason or "verificação falhou"
                    return PixError(SERVER_UNTRUSTED_MESSAGE.format(detail=detail), code=TLS_SERVER_UNTRUSTED)
                if isinstance(e, ssl.SSLError) and (e.reason or "") in CLIENT_CERT_ALERTS:
                    return PixError(CLIENT_REFUSED_MESSAGE.format(detail=f" (alerta TLS {e.reason})"),
                                    code=TLS_CLIENT_REFUSED)
                saw_ssl = saw_ssl or isinstance(e, ssl.SSLError)
            error = error.__cause__ or error.__context__
        target = httpx.URL(url)
        if target.scheme != "https" or not (saw_ssl or isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError))):
            return None
        # twice: a server that drops one handshake under load is not refusing our certificate
        if self._probe(target.host, target.port or 443) and self._probe(target.host, target.port or 443):
            return PixError(CLIENT_REFUSED_MESSAGE.format(detail=""), code=TLS_CLIENT_REFUSED)
        return None

    def _probe(self, host: str, port: int) -> bool:
        """True when a TLS 1.2 handshake with the account's certificate is refused."""
        try:
            address = str(egress.checked_addresses(host, port)[0])
            with socket.create_connection((address, port), timeout=self.timeout) as raw:
                with self._ssl_context(tls12=True).wrap_socket(raw, server_hostname=host):
                    return False  # the handshake passed: not a refusal of the certificate
        except ssl.SSLCertVerificationError:
            return False
        except ssl.SSLError as exc:
            return isinstance(exc, ssl.SSLEOFError) or (exc.reason or "") in CLIENT_CERT_ALERTS
        except (OSError, egress.EgressRefused):
            return False

    def _hook(self, response: httpx.Response) -> None:
        if self.on_exchange is None and PixClient.observer is None:
            return
        response.read()
        for observe in (self.on_exchange, PixClient.observer):
            if observe is not None:
                observe(response.request, response)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _key(self) -> tuple:
        return (self.adapter.token_url(self.base_url, self.token_url), self.client_id, self.client_secret)

    def token(self, *, fresh: bool = False) -> _Token:
        """The cached bearer token, fetched when missing or within 30 s of expiring."""
        key = self._key()
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
        if cached and not fresh and cached.expires_at - 30 > time.monotonic():
            return cached
        req = self.adapter.token_request(self.client_id, self.client_secret, None)
        response = self._send("POST", key[0], authenticated=False, **req)
        if response.status_code != 200:
            raise PixError(f"O PSP recusou as credenciais (HTTP {response.status_code}).",
                           status=response.status_code, code="pix_auth_refused")
        try:
            body = response.json()
            token = _Token(body["access_token"], time.monotonic() + float(body.get("expires_in", 300)),
                           str(body.get("scope", "")).split())
        except (ValueError, KeyError, TypeError):
            raise PixError("Resposta de token inválida do PSP.", status=response.status_code,
                           code="pix_auth_invalid") from None
        with _TOKENS_LOCK:
            _TOKENS[key] = token
        return token

    def _send(self, method: str, url: str, *, authenticated: bool = True, idempotent: bool = True,
              **kwargs) -> httpx.Response:
        """Send, retrying what is safe to repeat. ``idempotent=False`` (a POST that
        creates): repeated only on a 429, a 401 (then with a fresh token) or a connection
        never made; a lost answer raises ``PixError(unknown=True)`` and a 5xx is returned
        as it came (``call`` raises it as unknown too). A refused TLS handshake is never
        retried (permanent until the account changes)."""
        if self._tls_failed is not None:
            failed, at = self._tls_failed
            if time.monotonic() - at < TLS_FAILURE_REMEMBERED:
                raise PixError(str(failed), code=failed.code)  # no handshake again: it would fail the same
            self._tls_failed = None
        attempt = 0
        refreshed = False
        while True:
            headers = dict(kwargs.pop("headers", {}) or {})
            if authenticated:
                headers["Authorization"] = f"Bearer {self.token(fresh=refreshed and attempt == 0).value}"
            try:
                response = self.http().request(method, url, headers=headers, **kwargs)
            except egress.EgressRefused as exc:
                raise PixError(str(exc), code="egress_refused") from exc
            except httpx.TransportError as exc:
                failure = self._tls_failure(exc, url)
                if failure is not None:  # permanent until the account changes: never retried
                    self._tls_failed = (failure, time.monotonic())
                    raise failure from exc
                if not idempotent and not isinstance(exc, NOT_SENT):
                    raise PixError(f"O PSP não respondeu ({exc.__class__.__name__}); o pedido pode ter "
                                   "sido registrado e será verificado no PSP.", code="pix_outcome_unknown",
                                   unknown=True) from exc
                if attempt >= self.retries:
                    raise PixError(f"PSP inacessível: {exc.__class__.__name__}.", code="pix_unreachable") from exc
                self._sleep(attempt, None)
                attempt += 1
                continue
            if response.status_code == 400 and b"ssl certificate" in response.content[:2000].lower():
                # a reverse proxy (nginx: "No required SSL certificate was sent") refusing ours
                failure = PixError(CLIENT_REFUSED_MESSAGE.format(detail=" (HTTP 400)"), status=400,
                                   code=TLS_CLIENT_REFUSED)
                self._tls_failed = (failure, time.monotonic())
                raise failure
            if response.status_code == 401 and authenticated and not refreshed:
                refreshed, attempt = True, 0  # expired or revoked token: fetch a new one, once
                with _TOKENS_LOCK:
                    _TOKENS.pop(self._key(), None)
                continue
            if response.status_code in RETRY_STATUS and attempt < self.retries and (
                    idempotent or response.status_code == 429):
                self._sleep(attempt, response.headers.get("Retry-After"))
                attempt += 1
                continue
            return response

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2 ** attempt) * (0.5 + random.random())
        if retry_after:
            try:
                delay = max(delay, min(float(retry_after), 30.0))
            except ValueError:
                pass
        time.sleep(delay)

    def call(self, method: str, path: str, *, json: dict | None = None, params: dict | None = None,
             ok: tuple[int, ...] = (200, 201), idempotent: bool = True) -> dict:
        response = self._send(method, self.base_url.rstrip("/") + path, json=json, params=params,
                              idempotent=idempotent)
        if not idempotent and response.status_code >= 500:
            raise PixError(f"O PSP respondeu HTTP {response.status_code}; o pedido pode ter sido registrado "
                           "e será verificado no PSP.", status=response.status_code,
                           code="pix_outcome_unknown", unknown=True)
        if response.status_code not in ok:
            problem = {}
            try:
                problem = response.json()
            except ValueError:
                pass
            detail = problem.get("detail") or problem.get("title") or response.reason_phrase
            raise PixError(f"PSP respondeu HTTP {response.status_code}: {detail}"[:480],
                           status=response.status_code, problem=problem)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise PixError("Resposta inválida do PSP (não é JSON).", status=response.status_code) from None

    # -- the API Pix --------------------------------------------------------------------
    def cobv_put(self, txid: str, body: dict) -> dict:
        return self.call("PUT", f"/cobv/{txid}", json=body)

    def cobv_patch(self, txid: str, body: dict) -> dict:
        return self.call("PATCH", f"/cobv/{txid}", json=body)

    def cobv_get(self, txid: str) -> dict:
        return self.call("GET", f"/cobv/{txid}")

    def pix_get(self, e2eid: str) -> dict:
        return self.call("GET", f"/pix/{e2eid}")

    def pix_list(self, inicio: str, fim: str, page: int = 0, per_page: int = 100) -> dict:
        return self.call("GET", "/pix", params={"inicio": inicio, "fim": fim, "paginacao.paginaAtual": page,
                                                "paginacao.itensPorPagina": per_page})

    def devolucao_put(self, e2eid: str, refund_id: str, body: dict) -> dict:
        return self.call("PUT", f"/pix/{e2eid}/devolucao/{refund_id}", json=body)

    def devolucao_get(self, e2eid: str, refund_id: str) -> dict:
        return self.call("GET", f"/pix/{e2eid}/devolucao/{refund_id}")

    def webhook_put(self, chave: str, url: str) -> dict:
        return self.call("PUT", f"/webhook/{chave}", json={"webhookUrl": url}, ok=(200, 201, 204))

    def webhookrec_put(self, url: str) -> dict:
        return self.call("PUT", "/webhookrec", json={"webhookUrl": url}, ok=(200, 201, 204))

    def webhookcobr_put(self, url: str) -> dict:
        return self.call("PUT", "/webhookcobr", json={"webhookUrl": url}, ok=(200, 201, 204))

    def rec_post(self, body: dict) -> dict:
        return self.call("POST", "/rec", json=body, idempotent=False)

    def rec_list(self, inicio: str, fim: str, page: int = 0, per_page: int = 100, **filters) -> dict:
        """``GET /rec?inicio&fim`` (creation time) with the yaml's filters (cpf, cnpj, status, convenio)."""
        return self.call("GET", "/rec", params={"inicio": inicio, "fim": fim, "paginacao.paginaAtual": page,
                                                "paginacao.itensPorPagina": per_page, **filters})

    def rec_get(self, id_rec: str) -> dict:
        return self.call("GET", f"/rec/{id_rec}")

    def rec_patch(self, id_rec: str, body: dict) -> dict:
        return self.call("PATCH", f"/rec/{id_rec}", json=body)

    def solicrec_post(self, body: dict) -> dict:
        return self.call("POST", "/solicrec", json=body, idempotent=False)

    def solicrec_get(self, id_solic: str) -> dict:
        return self.call("GET", f"/solicrec/{id_solic}")

    def cobr_put(self, txid: str, body: dict) -> dict:
        return self.call("PUT", f"/cobr/{txid}", json=body)

    def cobr_patch(self, txid: str, body: dict) -> dict:
        return self.call("PATCH", f"/cobr/{txid}", json=body)

    def cobr_get(self, txid: str) -> dict:
        return self.call("GET", f"/cobr/{txid}")

    def cobr_list(self, inicio: str, fim: str, page: int = 0, per_page: int = 100, **filters) -> dict:
        """``GET /cobr?inicio&fim`` (creation time) with the yaml's filters (idRec, cpf, cnpj, status, convenio)."""
        return self.call("GET", "/cobr", params={"inicio": inicio, "fim": fim, "paginacao.paginaAtual": page,
                                                 "paginacao.itensPorPagina": per_page, **filters})

    def retentativa_post(self, txid: str, data: str) -> dict:
        return self.call("POST", f"/cobr/{txid}/retentativa/{data}", idempotent=False)
