"""pt-BR error pages in the app's layout, with DEBUG off (issue 20, item 7): 404 and 403
inside the normal layout (menu, role), 400 and 500 standalone — rendered without context
processors or the database, so they show even when those are what failed."""

from __future__ import annotations

import pytest
from django.db import connections
from django.urls import include, path



def _boom(request):
    raise RuntimeError("falha de teste")


urlpatterns = [path("teste-erro-500/", _boom), path("", include("agrega.urls"))]


@pytest.fixture
def as_role(client_as, settings):
    settings.DEBUG = False

    def make(role):
        return client_as(role, f"err-{role.replace(' ', '-')}", raise_request_exception=False)

    return make


def test_404_is_portuguese_in_the_layout(as_role):
    response = as_role("operador").get("/contratos/999999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Página não encontrada" in html and 'lang="pt-BR"' in html
    assert 'aria-label="Menu principal"' in html and "Operador" in html  # the layout, with the menu
    assert "Not Found" not in html


def test_404_for_an_unknown_address(as_role):
    response = as_role("operador").get("/nao-existe/")
    assert response.status_code == 404 and "Página não encontrada" in response.content.decode()
    assert "/nao-existe/" in response.content.decode()


def test_403_is_portuguese_in_the_layout(as_role):
    response = as_role("somente leitura").get("/configuracoes/usuarios/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "Acesso negado" in html and "Somente leitura" in html and 'aria-label="Menu principal"' in html
    assert "403 Forbidden" not in html


@pytest.mark.urls(__name__)
def test_500_is_portuguese_and_needs_no_database(as_role):
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from django.views.defaults import server_error

    client = as_role("operador")
    response = client.get("/teste-erro-500/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Erro interno" in html and 'lang="pt-BR"' in html and "bootstrap.min.css" in html
    assert "Server Error" not in html

    # rendered without a user, a session or a query: it shows even when the database is down
    with CaptureQueriesContext(connections["default"]) as queries:
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500 and "Erro interno" in response.content.decode()
    assert not queries.captured_queries


def test_400_is_portuguese(as_role):
    # a control character in a page's filter (core.middleware.InputLimitsMiddleware)
    response = as_role("operador").get("/clientes/", {"q": "Maria\x00"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Pedido inválido" in html and 'lang="pt-BR"' in html and "Nada foi alterado" in html
    assert "Bad Request" not in html
