"""Configurações > Usuários: the filters are UserFilterSet's (core/users_filtersets.py), so
the page, the API and the CLI answer the same filter with the same users; an unknown role
is a 422 in the API, a Portuguese message on the page and exit 2 in the CLI."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError
from django.test import Client

from agrega.core.services import user_deactivate
from tests.cli.helpers import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(role_user, api_user):
    """The API's administrador (operadora) and four more; one operador is deactivated."""
    made = {name: role_user(name, role) for name, role in (
        ("joana", "operador"), ("pedro", "operador"), ("lia", "somente leitura"), ("chefe", "administrador"))}
    made["joana"].first_name, made["joana"].last_name = "Joana", "Silva"
    made["joana"].save()
    user_deactivate(actor=made["chefe"], user_id=made["pedro"].pk)
    return made


@pytest.fixture
def page(users):
    client = Client(raise_request_exception=False)
    client.force_login(users["chefe"])
    return client


def page_ids(page, params: dict) -> list[int]:
    response = page.get("/configuracoes/usuarios/", params)
    assert response.status_code == 200, response.content[:300]
    return sorted({int(pk) for pk in re.findall(r'href="/configuracoes/usuarios/(\d+)/"', response.content.decode())})


def api_ids(api, params: dict) -> list[int]:
    response = api.get("/users", params)
    assert response.status_code == 200, response.content[:300]
    return sorted(u["id"] for u in response.json()["items"])


def cli_ids(*args) -> list[int]:
    result = run("user", "list", *args, "--json")
    assert result.code == 0, result.err
    return sorted(u["id"] for u in result.json)


def ids(**lookup) -> list[int]:
    return sorted(get_user_model().objects.filter(**lookup).values_list("pk", flat=True))


@pytest.mark.parametrize("params, cli, expected", [
    ({"role": "operador"}, ["--role", "operador"], {"username__in": ["joana", "pedro"]}),
    ({"role": "admin"}, ["--role", "admin"], {"username__in": ["chefe", "operadora"]}),
    ({"role": "somente leitura", "q": "LIA"}, ["--role", "leitura", "--search", "LIA"], {"username": "lia"}),
    ({"q": "silva"}, ["--search", "silva"], {"username": "joana"}),
    ({"active": "true", "role": "operador"}, ["--active-only", "--role", "operador"], {"username": "joana"}),
])
def test_users_page_api_and_cli_agree(page, api, users, params, cli, expected):
    want = ids(**expected)
    assert want
    page_params = {k: {"true": "sim"}.get(v, v) for k, v in params.items()}  # the page's yes/no select
    assert page_ids(page, page_params) == want, params
    assert api_ids(api, params) == want
    assert cli_ids(*cli) == want


def test_the_api_keeps_include_inactive(api, users):
    assert api_ids(api, {"include_inactive": "false"}) == api_ids(api, {"active": "true"}) == ids(is_active=True)
    assert api_ids(api, {"active": "false"}) == [users["pedro"].pk]


def test_an_unknown_role_is_refused_everywhere(page, api, users):
    response = api.get("/users", {"role": "chefe"})
    assert response.status_code == 422 and "role" in response.json()["error"]["fields"]
    shown = page.get("/configuracoes/usuarios/", {"role": "chefe"})
    assert shown.status_code == 200 and "Faça uma escolha válida" in shown.content.decode()
    with pytest.raises(CommandError, match="Papel: valor não aceito; use administrador, operador, somente leitura"):
        run("user", "list", "--role", "chefe")  # argparse refuses it (exit 2 from the shell)
