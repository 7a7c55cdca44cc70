"""The short middleware chain of token API requests (agrega/core/handlers.py, decision 0015).

The WSGI application the web serves (``agrega.wsgi.application``) is driven here as a
server drives it, with WSGI environs: a token request with no cookie must get from the
short chain exactly what the full chain answers (status, every header, the bytes), and
every other request — a browser's session above all, with its CSRF check — must still
take the full chain.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signals
from django.db import close_old_connections
from django.test import Client

from agrega.core.br import make_cpf
from agrega.core.handlers import is_token_api_request
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from agrega.wsgi import application

pytestmark = pytest.mark.django_db

# What serves a browser session and nothing else: the only middleware a token request skips.
BROWSER_ONLY = {
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
}
ANONYMOUS = "agrega.core.handlers.AnonymousUntilAuthenticatedMiddleware"


def environ(method: str, path: str, *, query: str = "", body: bytes = b"", headers: dict | None = None,
            host: str = "testserver") -> dict:
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
           "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
           "HTTP_HOST": host, "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(body),
           "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(), "wsgi.multithread": False,
           "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0)}
    if body:
        env["CONTENT_TYPE"] = "application/json"
        env["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def call(app, env: dict) -> tuple[str, list[tuple[str, str]], bytes]:
    """What a WSGI server sends back: the status line, the headers in order, the body.

    The handlers close the database connection at the start and end of a request; inside
    a test's transaction they must not (Django's test client disconnects the same
    receivers around each of its requests, and connects them again after)."""
    started = []
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        chunks = app(env, lambda status, headers, exc_info=None: started.append((status, headers)))
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    status, headers = started[0]
    return status, list(headers), body


# Django's HTML error pages (a path under /api/ that no route serves) carry a new CSRF
# token in a cookie (expiring a year from that second) and in the page, different on
# every answer of either chain.
CSRF_VALUES = re.compile(rb'(csrftoken=|"X-CSRFToken": "|expires=)[^;"]+')


def without_csrf_values(answer: tuple) -> tuple:
    status, headers, body = answer
    return (status, [(name, CSRF_VALUES.sub(rb"\1-", value.encode()).decode()) for name, value in headers],
            CSRF_VALUES.sub(rb"\1-", body))


def both_chains(make_env) -> tuple[tuple, tuple]:
    """The same request through the short chain and the full one (a fresh environ each)."""
    return (without_csrf_values(call(application.token_api, make_env())),
            without_csrf_values(call(application.full, make_env())))


@pytest.fixture
def token_of(db):
    def make(role: str) -> str:
        user = get_user_model().objects.create_user(f"chain-{role}", password="senha-de-teste-123")
        assign_role(user, role)
        return ApiToken.issue(user=user, name="testes")[1]

    return make


@pytest.fixture
def data(api):
    """Two customers and two contracts made through the API."""
    ids = []
    for n, name in ((1, "Ana Souza"), (2, "Bia Lima")):
        customer = api.post("/customers", {"name": name, "document": make_cpf(880000 + n),
                                          "mobile_phone": "(11) 98888-000" + str(n)}).json()
        ids.append(api.post("/contracts", {"customer_id": customer["id"], "description": "Casa"}).json()["id"])
    return ids


def test_the_short_chain_is_the_full_one_without_what_serves_a_browser_session():
    kept = [name for name in settings.MIDDLEWARE if name not in BROWSER_ONLY]
    assert [name for name in settings.API_TOKEN_MIDDLEWARE if name != ANONYMOUS] == kept
    # request.user exists from where AuthenticationMiddleware would have set it
    assert settings.API_TOKEN_MIDDLEWARE.index(ANONYMOUS) <= settings.API_TOKEN_MIDDLEWARE.index(
        "agrega.core.uploads.UploadLimitMiddleware")


@pytest.mark.parametrize(("path", "headers", "short"), [
    ("/api/contracts", {"Authorization": "Bearer agr_x"}, True),
    ("/api/contracts", {"Authorization": "bearer agr_x"}, True),
    ("/api/contracts", {"Authorization": "Bearer agr_x", "Cookie": "sessionid=abc"}, False),
    ("/api/contracts", {"Authorization": "Bearer agr_x", "Cookie": ""}, False),
    ("/api/contracts", {}, False),
    ("/api/contracts", {"Authorization": "Basic YTpi"}, False),
    ("/api/docs", {"Authorization": "Bearer agr_x"}, False),
    ("/contratos/", {"Authorization": "Bearer agr_x"}, False),
    ("/apix/contracts", {"Authorization": "Bearer agr_x"}, False),
])
def test_which_requests_take_the_short_chain(path, headers, short):
    assert is_token_api_request(environ("GET", path, headers=headers)) is short


def test_the_application_sends_token_requests_to_the_short_chain_and_the_rest_to_the_full(
        monkeypatch, api_token, data):
    served = []

    def recording(name, handler):
        def serve(env, start_response):
            served.append(name)
            return handler(env, start_response)
        return serve

    monkeypatch.setattr(application, "token_api", recording("short", application.token_api))
    monkeypatch.setattr(application, "full", recording("full", application.full))
    bearer = {"Authorization": f"Bearer {api_token}"}
    assert call(application, environ("GET", "/api/contracts", headers=bearer))[0] == "200 OK"
    assert call(application, environ("GET", "/api/contracts", headers={**bearer, "Cookie": "x=1"}))[0] == "200 OK"
    assert call(application, environ("GET", "/api/contracts"))[0].startswith("401")
    assert served == ["short", "full", "full"]


@pytest.mark.parametrize("request_of", [
    lambda ids: ("GET", "/api/contracts", "limit=1", b""),
    lambda ids: ("GET", "/api/contracts", f"cursor={ids[0]}&limit=50", b""),
    lambda ids: ("GET", f"/api/contracts/{ids[1]}", "", b""),
    lambda ids: ("GET", "/api/customers", "q=ana", b""),
    lambda ids: ("GET", "/api/customers", "q=" + make_cpf(880002), b""),
    lambda ids: ("GET", "/api/contracts/999999", "", b""),  # 404 in the API's shape
    lambda ids: ("GET", "/api/contracts", "limt=5", b""),  # 422 unknown_parameter
    lambda ids: ("GET", "/api/contracts/0", "", b""),  # 422 on the path
    lambda ids: ("GET", "/api/nada", "", b""),  # no such route
    lambda ids: ("GET", "/api/contracts/", "", b""),  # the slash: APPEND_SLASH's business
    lambda ids: ("DELETE", f"/api/contracts/{ids[0]}/activate", "", b""),  # 405
    lambda ids: ("POST", "/api/customers", "", b'{"name": '),  # 400 malformed JSON
    lambda ids: ("POST", "/api/customers", "", json.dumps({"name": "Só nome"}).encode()),  # 422
    lambda ids: ("POST", "/api/payments/webhook", "", b"{}"),  # a public route, with a token
], ids=["list", "list-cursor", "detail", "search-name", "search-cpf", "404", "unknown-param", "bad-id",
        "no-route", "slash", "405", "400", "422", "public"])
def test_a_token_request_gets_the_same_answer_from_both_chains(api_token, data, request_of):
    method, path, query, body = request_of(data)
    headers = {"Authorization": f"Bearer {api_token}"}
    short, full = both_chains(lambda: environ(method, path, query=query, body=body, headers=headers))
    assert short == full


def test_the_answer_keeps_every_security_header_and_sets_no_cookie(api_token, data):
    status, headers, _ = call(application, environ("GET", f"/api/contracts/{data[0]}",
                                                   headers={"Authorization": f"Bearer {api_token}"}))
    names = {name.lower(): value for name, value in headers}
    assert status == "200 OK"
    assert names["x-frame-options"] == "DENY"
    assert names["x-content-type-options"] == "nosniff"
    assert names["referrer-policy"] == "same-origin"
    assert names["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in names["content-security-policy"]
    assert "permissions-policy" in names and "content-length" in names
    assert "set-cookie" not in names and "vary" not in names


@pytest.mark.parametrize("token", ["wrong", "revoked", "viewer-writes"])
def test_refusals_are_the_same_on_both_chains(token_of, token):
    raw = token_of("somente leitura" if token == "viewer-writes" else "administrador")
    if token == "wrong":
        raw = "agr_nao-existe"
    if token == "revoked":
        ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    method, body = ("POST", json.dumps({"name": "Cliente", "document": make_cpf(880009)}).encode()) \
        if token == "viewer-writes" else ("GET", b"")
    short, full = both_chains(lambda: environ(method, "/api/customers", body=body,
                                              headers={"Authorization": f"Bearer {raw}"}))
    assert short == full
    code = json.loads(short[2])["error"]["code"]
    assert (short[0][:3], code) == (("403", "forbidden") if token == "viewer-writes" else ("401", "not_authenticated"))


def test_a_host_not_allowed_is_refused_on_both_chains(api_token):
    short, full = both_chains(lambda: environ("GET", "/api/contracts", host="evil.example.com",
                                              headers={"Authorization": f"Bearer {api_token}"}))
    assert short[0].startswith("400") and short == full


def test_a_body_over_the_limit_is_413_on_both_chains(api_token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = json.dumps({"name": "x" * 5_000}).encode()
    short, full = both_chains(lambda: environ("POST", "/api/customers", body=body,
                                              headers={"Authorization": f"Bearer {api_token}"}))
    assert short[0].startswith("413") and short == full


def test_idempotency_keys_hold_on_the_short_chain(api_token):
    body = json.dumps({"name": "Cliente Idempotente", "document": make_cpf(880010)}).encode()
    headers = {"Authorization": f"Bearer {api_token}", "Idempotency-Key": "chain-1"}
    first = call(application, environ("POST", "/api/customers", body=body, headers=headers))
    again = call(application, environ("POST", "/api/customers", body=body, headers=headers))
    assert first[0].startswith("201") and again[0].startswith("201")
    assert again[2] == first[2] and ("Idempotent-Replayed", "true") in again[1]


def session_cookie(role_user) -> str:
    client = Client()
    client.force_login(role_user("chain-sessao", "administrador"))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_a_browser_session_keeps_its_csrf_check(role_user):
    cookie = session_cookie(role_user)
    body = json.dumps({"name": "Cliente Sessão", "document": make_cpf(880011)}).encode()
    assert call(application, environ("GET", "/api/customers", headers={"Cookie": cookie}))[0] == "200 OK"
    status, _, answer = call(application, environ("POST", "/api/customers", body=body, headers={"Cookie": cookie}))
    assert status.startswith("403") and json.loads(answer)["error"]["code"] == "csrf_failed"


def test_a_token_beside_a_session_cookie_takes_the_full_chain_and_the_token_decides(role_user, api_token):
    cookie = session_cookie(role_user)
    body = json.dumps({"name": "Cliente Token", "document": make_cpf(880012)}).encode()
    env = environ("POST", "/api/customers", body=body, headers={"Cookie": cookie,
                                                                "Authorization": f"Bearer {api_token}"})
    assert not is_token_api_request(env)
    assert call(application, env)[0].startswith("201")
    env = environ("POST", "/api/customers", body=body, headers={"Cookie": cookie, "Authorization": "Bearer errado"})
    assert call(application, env)[0].startswith("401")
