"""Integrações SVA: the filters are IntegrationFilterSet's (integrations/filtersets.py), so
the page, the API and the CLI answer the same filter with the same integrations, and the
product form's lupa searches as the list does; an unknown platform is refused everywhere."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError

from agrega.integrations.models import SvaIntegration
from tests.cli.helpers import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def integrations(db):
    """Rows only (no platform is called by a list): two EXA, one of them inactive, one webhook."""
    return [SvaIntegration.objects.create(name=name, platform=platform, base_url=f"https://{prefix}.example.com.br",
                                          prefix=prefix, active=active)
            for name, platform, prefix, active in (("EXA Produção", "exa", "prod", True),
                                                   ("EXA Antiga", "exa", "velha", False),
                                                   ("Parceiro Webhook", "webhook", "parc", True))]


@pytest.fixture
def page(client_as):
    return client_as("administrador", "integracoes-admin", raise_request_exception=False)


def page_ids(page, params: dict) -> list[int]:
    response = page.get("/configuracoes/integracoes-sva/", params)
    assert response.status_code == 200, response.content[:300]
    return sorted(int(pk) for pk in re.findall(r'data-integration="(\d+)"', response.content.decode()))


def api_ids(api, params: dict) -> list[int]:
    response = api.get("/integrations", params)
    assert response.status_code == 200, response.content[:300]
    return sorted(i["id"] for i in response.json()["items"])


def cli_ids(*args) -> list[int]:
    result = run("integration", "list", *args, "--json")
    assert result.code == 0, result.err
    return sorted(i["id"] for i in result.json)


@pytest.mark.parametrize("params, cli, expected", [
    ({"platform": "exa"}, ["--platform", "exa"], {"platform": "exa"}),
    ({"platform": "EXA", "active": "true"}, ["--platform", "EXA", "--active"], {"platform": "exa", "active": True}),
    ({"q": "PARC"}, ["--search", "PARC"], {"prefix": "parc"}),
    ({"q": "exa"}, ["--search", "exa"], {"name__startswith": "EXA"}),
])
def test_integrations_page_api_and_cli_agree(page, api, integrations, params, cli, expected):
    want = sorted(SvaIntegration.objects.filter(**expected).values_list("pk", flat=True))
    assert want
    page_params = {k: {"true": "sim", "false": "nao"}.get(v, v) for k, v in params.items()}
    assert page_ids(page, page_params) == want, params
    assert api_ids(api, params) == want
    assert cli_ids(*cli) == want


def test_inactive_ones_alone(page, api, integrations):
    want = [integrations[1].pk]
    assert page_ids(page, {"active": "nao"}) == api_ids(api, {"active": "false"}) == want


def test_the_product_forms_lupa_searches_as_the_list(page, api, integrations):
    body = page.get("/produtos/lupa/integracoes-sva/", {"q": "PROD"}).content.decode()
    found = sorted(int(pk) for pk in re.findall(r"<tr>\s*<td>(\d+)</td>", body))
    assert found == api_ids(api, {"q": "PROD", "active": "true"}) == [integrations[0].pk]


def test_an_unknown_platform_is_refused_everywhere(page, api, integrations):
    response = api.get("/integrations", {"platform": "ixc"})
    assert response.status_code == 422 and "platform" in response.json()["error"]["fields"]
    shown = page.get("/configuracoes/integracoes-sva/", {"platform": "ixc"})
    assert shown.status_code == 200 and "Faça uma escolha válida" in shown.content.decode()
    with pytest.raises(CommandError, match="Plataforma: valor não aceito; use exa, webhook"):
        run("integration", "list", "--platform", "ixc")  # argparse refuses it (exit 2 from the shell)
