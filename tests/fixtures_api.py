"""API clients for every test that speaks to /api (a plugin in tests/conftest.py's
``pytest_plugins``, so no directory copies them): ``api`` (an administrator with a real
token), ``anonymous``, ``api_as(role)``; ``ApiClient``, ``error`` and ``field_codes``
are imported as helpers."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agrega.core.models import ApiToken


class ApiClient:
    """Django's test client speaking JSON to /api with ``Authorization: Bearer <raw>``.

    Every response is kept in ``responses`` so a test can inspect all bodies at once.
    """

    def __init__(self, raw_token: str | None):
        self.client = Client()
        self.raw_token = raw_token
        self.responses = []

    def _headers(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.raw_token}"} if self.raw_token else {}

    def _keep(self, response):
        self.responses.append(response)
        return response

    def get(self, path: str, params: dict | None = None):
        return self._keep(self.client.get("/api" + path, params or {}, **self._headers()))

    def post(self, path: str, body: dict | None = None):
        data = json.dumps(body) if body is not None else ""
        return self._keep(
            self.client.post("/api" + path, data, content_type="application/json", **self._headers())
        )

    def patch(self, path: str, body: dict):
        return self._keep(
            self.client.patch("/api" + path, json.dumps(body), content_type="application/json",
                              **self._headers())
        )

    def delete(self, path: str):
        return self._keep(self.client.delete("/api" + path, **self._headers()))

    def walk(self, path: str, params: dict | None = None, limit: int = 2) -> list[dict]:
        """Every item of a paginated list, following ``next_cursor`` to the end."""
        items, cursor, pages = [], None, 0
        while True:
            query = {**(params or {}), "limit": limit}
            if cursor is not None:
                query["cursor"] = cursor
            response = self.get(path, query)
            assert response.status_code == 200, response.content
            body = response.json()
            assert len(body["items"]) <= limit
            items.extend(body["items"])
            cursor = body["next_cursor"]
            pages += 1
            assert pages < 1000
            if cursor is None:
                return items


def error(response, status: int) -> dict:
    """The ``error`` object of a response, after checking its status."""
    assert response.status_code == status, (response.status_code, response.content)
    return response.json()["error"]


def field_codes(response, status: int = 422) -> dict[str, list[str]]:
    """{field: [codes]} of an error response."""
    return {name: [e["code"] for e in errs] for name, errs in error(response, status).get("fields", {}).items()}


@pytest.fixture
def api_user(db):
    from agrega.core.roles import assign_role

    user = get_user_model().objects.create_user("operadora", password="senha-de-teste-123")
    assign_role(user, "administrador")
    return user


@pytest.fixture
def api_token(api_user):
    _, raw = ApiToken.issue(user=api_user, name="testes")
    return raw


@pytest.fixture
def api(api_token):
    return ApiClient(api_token)


@pytest.fixture
def anonymous(db):
    return ApiClient(None)


@pytest.fixture
def api_as(db):
    """``api_as(role)``: an API client for a new user with that role and a real token."""
    from agrega.core.roles import assign_role

    def make(role: str) -> ApiClient:
        user = get_user_model().objects.create_user(f"u-{role.replace(' ', '-')}", password="senha-de-teste-123")
        assign_role(user, role)
        _, raw = ApiToken.issue(user=user, name="testes")
        return ApiClient(raw)

    return make
