"""Every page, asked with integers that are no ids (huge, negative, letters, Unicode
digits) and text with control characters in its query string or in its path, answers
without a server error: a 404, a 400, or the page with the filter refused. The pages come
from the URL configuration, so a new list or filter is covered without touching this."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from agrega.core.roles import assign_role

SKIP_PREFIXES = ("admin/", "api/", "static/", "healthz", "readyz", "metrics", "__", "logout")
HUGE = "99999999999999999999"
# every query parameter a page reads as an id, a cursor or a filter, plus generic ones
PARAMS = ("cursor", "antes", "page", "contract", "customer", "product", "produto", "sales_plan", "plano",
          "integration", "sva_integration_id", "status", "access_status", "situacao", "period", "overdue",
          "q", "kind", "field", "from", "to", "role", "platform", "active", "action", "diferenca")
BAD_INTEGERS = (HUGE, "-1", "abc", "²", "1.5", "0")


def page_routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if not route.startswith(SKIP_PREFIXES):
                    yield route

    return sorted(set(walk(get_resolver().url_patterns)))


def urls_for(route: str, value: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?\w+>", value, route).lstrip("^").rstrip("$")


@pytest.fixture
def admin(db):
    user = get_user_model().objects.create_user("paginas-admin")
    assign_role(user, "administrador")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_pages_refuse_bad_integers_without_a_server_error(admin):
    routes = page_routes()
    assert len(routes) > 20
    failures = []
    for route in routes:
        for bad in BAD_INTEGERS:
            # in the path (an <int:pk> of 20 digits) and in every query parameter at once
            url = urls_for(route, HUGE if "<" in route else "")
            response = admin.get(url, {name: bad for name in PARAMS})
            if response.status_code >= 500:
                failures.append((url, bad, response.status_code))
    assert failures == []


def test_pages_refuse_control_characters_in_the_query(admin):
    failures = []
    for route in page_routes():
        if "<" in route:
            continue
        # NUL, ESC, an encoded lone surrogate, a byte that is no UTF-8
        for bad in ("a%00b", "%1B%5B31m", "%ED%A0%80", "%FF"):
            response = admin.get(f"{urls_for(route, '')}?q={bad}&status={bad}&cursor={bad}")
            if response.status_code >= 500:
                failures.append((route, repr(bad), response.status_code))
    assert failures == []


def test_a_bad_filter_is_a_friendly_answer(admin):
    page = admin.get("/financeiro/titulos/", {"contract": HUGE})
    assert page.status_code in (200, 404)
    assert admin.get("/contratos/", {"q": "a\x00b"}).status_code == 400
