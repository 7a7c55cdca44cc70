"""Every API operation answers a bad token with 401 ``not_authenticated`` in the API's
error shape, on every method — never a CSRF 403 — while a cookie session's unsafe request
without a CSRF token is still refused.

The operations come from the OpenAPI document, so a new one is covered by itself."""

from __future__ import annotations

import base64
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from agrega.core.models import ApiToken
from agrega.core.roles import assign_role

pytestmark = pytest.mark.django_db

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def secured_operations():
    from agrega.api import api

    for path, item in api.get_openapi_schema()["paths"].items():
        for method, operation in item.items():
            if method.upper() in METHODS and operation.get("security"):
                yield method.upper(), re.sub(r"\{[^}]+\}", "1", path)


def send(client, method, url, authorization=None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return client.generic(method, url, json.dumps({}), content_type="application/json", **headers)


@pytest.fixture
def bad_authorizations(db):
    """Each kind of bad credential: name → Authorization header (None: no header)."""
    users = get_user_model().objects
    admin = users.create_user("auth-admin")
    assign_role(admin, "administrador")
    revoked, revoked_raw = ApiToken.issue(user=admin, name="revogado")
    revoked.revoked_at = timezone.now()
    revoked.save()
    inactive = users.create_user("auth-inativo")
    assign_role(inactive, "administrador")
    inactive_raw = ApiToken.issue(user=inactive, name="inativo")[1]
    inactive.is_active = False
    inactive.save()
    return {
        "missing": None,
        "empty": "",
        "bearer alone": "Bearer",
        "bearer and space": "Bearer ",
        "two words": "Bearer agr_x agr_y",
        "basic": "Basic " + base64.b64encode(b"auth-admin:senha").decode(),
        "other scheme": "Token agr_abc",
        "raw token without scheme": revoked_raw,
        "non-ASCII": "Bearer agr_çãé€",
        "unknown": "Bearer agr_nao-existe",
        "revoked": f"Bearer {revoked_raw}",
        "deactivated user": f"Bearer {inactive_raw}",
    }


def test_every_operation_answers_every_bad_token_with_401(bad_authorizations):
    client = Client(enforce_csrf_checks=True)
    operations = sorted(set(secured_operations()))
    assert len(operations) > 40
    assert {m for m, _ in operations} >= {"GET", "POST", "PATCH", "DELETE"}
    problems = []
    for method, path in operations:
        for kind, authorization in bad_authorizations.items():
            response = send(client, method, path, authorization)
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {}
            if response.status_code != 401 or error.get("code") != "not_authenticated" or not error.get("message"):
                problems.append(f"{kind}: {method} {path} → {response.status_code} {response.content[:120]!r}")
    assert not problems, f"{len(problems)} wrong answers:\n" + "\n".join(problems[:40])


@pytest.fixture
def session(db):
    user = get_user_model().objects.create_user("sessao", password="senha-de-teste-123")
    assign_role(user, "administrador")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_a_session_write_without_csrf_token_is_still_refused(session):
    response = send(session, "POST", "/api/tokens")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert not ApiToken.objects.exists()


def test_every_unsafe_operation_refuses_a_session_without_csrf_token(session):
    problems = []
    writes = [(m, p) for m, p in sorted(set(secured_operations())) if m != "GET"]
    assert len(writes) > 20
    for method, path in writes:
        response = send(session, method, path)
        if response.status_code != 403 or response.json()["error"]["code"] != "csrf_failed":
            problems.append(f"{method} {path} → {response.status_code} {response.content[:120]!r}")
    assert not problems, "\n".join(problems)


def test_a_session_write_with_csrf_token_is_accepted(session):
    session.get("/")  # the page sets the CSRF cookie
    token = session.cookies["csrftoken"].value
    response = session.post("/api/tokens", json.dumps({"name": "do navegador"}),
                            content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    assert session.get("/api/tokens").status_code == 200  # reads need no CSRF token


def test_a_bad_token_is_401_even_beside_a_session(session):
    """A client that sends a token means it: the token alone decides."""
    for method in ("GET", "POST"):
        response = send(session, method, "/api/tokens", "Bearer agr_nao-existe")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


def test_a_good_token_needs_no_csrf_token(db):
    user = get_user_model().objects.create_user("programa")
    assign_role(user, "operador")
    raw = ApiToken.issue(user=user, name="erp")[1]
    response = Client(enforce_csrf_checks=True).post(
        "/api/tokens", json.dumps({"name": "outro"}), content_type="application/json",
        HTTP_AUTHORIZATION=f"bearer {raw}")
    assert response.status_code == 201, response.content
