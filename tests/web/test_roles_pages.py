"""Roles on the customers, products and integrations pages: what each role sees, and a
403 when a role without the capability opens or POSTs to a page anyway."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures import default_platform_only

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


INTEGRATIONS = "/configuracoes/integracoes-sva/"


def _post(page, url: str, form: dict | None = None):
    """A POST with the session and a valid CSRF token, so a 403 can only be the role's."""
    page.goto("/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(url, form=form or {}, headers={"X-CSRFToken": token},
                                 max_redirects=0)
    # Django's CSRF refusal says "CSRF verification failed"; the role's 403 is our page
    # (web/templates/403.html), whose layout carries the CSRF header for htmx.
    assert "CSRF verification failed" not in response.text() and "Verificação CSRF" not in response.text()
    if response.status == 403:
        assert 'data-status="403"' in response.text()
    return response


def test_operador_sees_integrations_but_no_credentials_nor_actions(make_user, login, page, screenshot,
                                                                   platform_integration):
    make_user("bia", "operador")
    login("bia")
    page.goto(INTEGRATIONS)
    expect(page.locator("#integrations-table")).to_contain_text(platform_integration.name)
    expect(page.get_by_role("link", name="Novo")).to_have_count(0)
    expect(page.get_by_role("link", name="Editar")).to_have_count(0)
    expect(page.get_by_role("button", name="Testar conexão")).to_have_count(0)
    expect(page.locator("input[type=password], [name^=cred_]")).to_have_count(0)
    screenshot("integracoes-operador")

    for url in (f"{INTEGRATIONS}nova/", f"{INTEGRATIONS}{platform_integration.pk}/editar/",
                f"{INTEGRATIONS}{platform_integration.pk}/testar-conexao/",
                f"{INTEGRATIONS}campos-credenciais/?platform=exa"):
        assert page.goto(url).status == 403, url
        expect(page.locator("input[type=password], [name^=cred_]")).to_have_count(0)
    assert _post(page, f"{INTEGRATIONS}{platform_integration.pk}/testar-conexao/").status == 403
    assert _post(page, f"{INTEGRATIONS}{platform_integration.pk}/editar/", {"name": "x"}).status == 403
    assert _post(page, f"{INTEGRATIONS}nova/", {"name": "x"}).status == 403

    # Operators create customers, not products.
    assert page.goto("/clientes/novo/").status == 200
    assert page.goto("/produtos/novo/").status == 403
    page.goto("/produtos/")
    expect(page.get_by_role("link", name="Novo")).to_have_count(0)


def test_somente_leitura_sees_lists_without_buttons_and_gets_403_on_post(
    make_user, login, page, platform_integration, make_product, make_customer
):
    from agrega.catalog.models import Product
    from agrega.customers.models import Customer

    product = make_product(platform_integration)
    customer = make_customer(name="Cliente Leitura")
    make_user("caio", "somente leitura")
    login("caio")

    for url, text in ((INTEGRATIONS, platform_integration.name), ("/produtos/", product.name),
                      ("/clientes/", customer.name)):
        page.goto(url)
        expect(page.locator("main table").first).to_contain_text(text)
        expect(page.get_by_role("link", name="Novo")).to_have_count(0)
        expect(page.get_by_role("link", name="Editar")).to_have_count(0)
    for url in (f"/clientes/{customer.pk}/", f"/produtos/{product.pk}/"):
        assert page.goto(url).status == 200
        expect(page.get_by_role("link", name="Editar")).to_have_count(0)

    for url in ("/clientes/novo/", f"/clientes/{customer.pk}/editar/", "/produtos/novo/",
                f"/produtos/{product.pk}/editar/", f"{INTEGRATIONS}nova/"):
        assert page.goto(url).status == 403, url

    posts = {
        "/clientes/novo/": {"name": "Intruso", "document": "52998224725"},
        f"/clientes/{customer.pk}/editar/": {"name": "Alterado"},
        "/produtos/novo/": {"name": "Intruso", "price": "1"},
        f"/produtos/{product.pk}/editar/": {"name": "Alterado", "price": "1"},
        f"{INTEGRATIONS}{platform_integration.pk}/testar-conexao/": {},
    }
    for url, form in posts.items():
        assert _post(page, url, form).status == 403, url
    assert Customer.objects.count() == 1 and Customer.objects.get().name == "Cliente Leitura"
    assert Product.objects.count() == 1 and Product.objects.get().name == product.name


@pytest.mark.parametrize("url", ["/clientes/", "/produtos/", INTEGRATIONS, "/clientes/lupa/",
                                 "/produtos/lupa/integracoes-sva/"])
def test_pages_need_login(page, url, transactional_db):
    page.goto(url)
    assert "/entrar/" in page.url
