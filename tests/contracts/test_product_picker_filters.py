"""The contract's product lupa (adding a product to a contract) searches as the products
list does (ProductPickerFilterSet: ProductFilterSet, active products only; an SVA item
shows SVA products only): the lupa, ``GET /api/products?active=true`` and ``agrega
product list --active`` give the same products; a bad value is said in Portuguese."""

from __future__ import annotations

import re

import pytest

from agrega.catalog.services import product_update
from tests.cli.helpers import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(platform_integration, make_product):
    made = {"sva": make_product(platform_integration, name="Pacote Família Mega"),
            "net": make_product(name="Internet 300 Mega", fiscal_class="SCM"),
            "old": make_product(name="Internet 100 Mega", fiscal_class="SCM"),
            "tv": make_product(name="TV Básica", fiscal_class="SCM")}
    product_update(product=made["old"], active=False)
    return made


@pytest.fixture
def page(client_as):
    return client_as("operador", "lupa-operador", raise_request_exception=False)


def picker_ids(page, params: dict) -> list[int]:
    response = page.get("/contratos/lupa/produtos/", {**params, "field": "id_product"})
    assert response.status_code == 200, response.content[:300]
    return sorted(int(pk) for pk in re.findall(r'data-pick-value="(\d+)"', response.content.decode()))


@pytest.mark.parametrize("picker, api_params, cli", [
    ({"q": "mega"}, {"q": "mega"}, ["--search", "mega"]),
    ({"q": "MEGA", "kind": "SVA"}, {"q": "MEGA", "is_sva": "true"}, ["--search", "MEGA", "--is-sva"]),
    ({"kind": "OUTRO"}, {}, []),
    ({"q": "internet", "kind": "OUTRO"}, {"q": "internet"}, ["--search", "internet"]),
])
def test_the_lupa_the_api_and_the_cli_agree(page, api, products, picker, api_params, cli):
    items = api.get("/products", {**api_params, "active": "true"}).json()["items"]
    want = sorted(p["id"] for p in items)
    assert want and products["old"].pk not in want
    assert picker_ids(page, picker) == want, picker
    result = run("product", "list", *cli, "--active", "--json")
    assert result.code == 0, result.err
    assert sorted(p["id"] for p in result.json) == want


def test_the_lupa_refuses_a_bad_value_in_portuguese(page, products):
    response = page.get("/contratos/lupa/produtos/", {"kind": "XYZ", "field": "id_product"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Faça uma escolha válida" in body and "data-pick-value" not in body
    long = page.get("/contratos/lupa/produtos/", {"q": "x" * 300, "field": "id_product"}).content.decode()
    assert "200 caracteres" in long and "data-pick-value" not in long
