"""Sistema > Cadastros > Produtos: tabs Produto, Planejamento and SVA (lupa + package catalogue)."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import expect
from tests.fixtures import default_packages, default_platform_only

sva_platform = default_platform_only()
PACKAGES = default_packages()


def _new_product(page, name: str, price: str):
    page.goto("/produtos/")
    page.get_by_role("link", name="Novo").click()
    page.fill("#id_name", name)
    page.select_option("#id_fiscal_class", "SVA")
    page.get_by_role("tab", name="Planejamento").click()
    page.fill("#id_price", price)
    page.get_by_role("tab", name="SVA").click()


def _pick_integration(page, integration):
    page.locator("#sva-integration-lupa").click()
    modal = page.locator("#integration-picker")
    expect(modal).to_be_visible()
    row = modal.locator("tr", has_text=integration.name)
    with page.expect_response(re.compile("campo-pacote-sva")):
        row.get_by_role("button", name="Selecionar").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#id_sva_integration_id_label")).to_have_value(f"{integration.pk} — {integration.name}")


def test_admin_creates_sva_product_and_cannot_reuse_its_package(make_user, login, page, screenshot,
                                                                make_platform_integration):
    from agrega.catalog.models import Product

    integration = make_platform_integration(auto_create_users=False)
    make_user("ana", "administrador")
    login("ana")

    _new_product(page, "EXA Família mensal", "24,90")
    _pick_integration(page, integration)
    package = page.locator("select#id_sva_package_code")
    expect(package).to_be_visible()
    expect(page.locator("[data-catalogue=ok]")).to_contain_text("3 pacote(s)")
    package.select_option(PACKAGES[1])
    screenshot("produto-aba-sva")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Produto “EXA Família mensal” salvo.")).to_be_visible()
    product = Product.objects.get(name="EXA Família mensal")
    assert (product.sva_integration_id, product.sva_package_code) == (integration.pk, PACKAGES[1])
    assert product.price == Decimal("24.90") and product.fiscal_class == "SVA"

    # The list shows it, and searching by package finds it.
    page.fill("input[name=q]", "FAMILIA")
    page.get_by_role("button", name="Buscar").click()
    expect(page.locator("#products-table")).to_contain_text("EXA Família mensal")
    expect(page.locator("#products-table")).to_contain_text("24,90")
    screenshot("produtos-lista")

    # One package ↔ one product per integration: the form says so on the package field.
    _new_product(page, "EXA Família anual", "249,00")
    _pick_integration(page, integration)
    page.locator("select#id_sva_package_code").select_option(PACKAGES[1])
    page.get_by_role("button", name="Salvar").click()
    error = page.locator("[data-field-error=sva_package_code]")
    expect(error).to_contain_text(f"Pacote já usado (produto {product.pk} — EXA Família mensal)")
    expect(page.locator("#pane-sva")).to_be_visible()  # the tab with the error is open
    expect(page.locator("select#id_sva_package_code")).to_have_value(PACKAGES[1])
    expect(page.locator("#id_name")).to_have_value("EXA Família anual")
    screenshot("produto-pacote-em-uso")
    assert Product.objects.count() == 1

    # Edit: the SVA tab comes back with the integration and package chosen.
    page.goto(f"/produtos/{product.pk}/editar/")
    page.get_by_role("tab", name="SVA").click()
    expect(page.locator("#id_sva_integration_id_label")).to_have_value(f"{integration.pk} — {integration.name}")
    expect(page.locator("select#id_sva_package_code")).to_have_value(PACKAGES[1])


def test_catalogue_unavailable_gives_a_text_field_and_a_warning(make_user, login, page, make_platform_integration,
                                                                platform_account, platform_admin):
    from agrega.catalog.models import Product

    integration = make_platform_integration(auto_create_users=False)
    make_user("ana", "administrador")
    login("ana")
    platform_admin.set_faults(down=True, prefix=platform_account.prefix)

    _new_product(page, "EXA Backup", "9,90")
    _pick_integration(page, integration)
    expect(page.locator("[data-catalogue=unavailable]")).to_contain_text("Catálogo indisponível")
    expect(page.locator("input#id_sva_package_code")).to_be_visible()

    # Platform back: an unknown code gets the service's message on the field.
    platform_admin.clear_faults()
    page.fill("#id_sva_package_code", "NAO-EXISTE")
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator("[data-field-error=sva_package_code]")).to_contain_text(
        f"Pacote não existe na plataforma. Disponíveis: {PACKAGES[2]}"
    )
    assert not Product.objects.exists()

    # Platform down while saving: saved, with the service's warning shown.
    platform_admin.set_faults(down=True, prefix=platform_account.prefix)
    _new_product(page, "EXA Backup", "9,90")
    _pick_integration(page, integration)
    page.fill("#id_sva_package_code", PACKAGES[2])
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Produto “EXA Backup” salvo.")).to_be_visible()
    expect(page.locator(".alert-warning")).to_contain_text("Catálogo da plataforma indisponível")
    assert Product.objects.get().sva_package_code == PACKAGES[2]


def test_product_form_errors_keep_everything_unsaved(make_user, login, page):
    from agrega.catalog.models import Product

    make_user("ana", "administrador")
    login("ana")
    page.goto("/produtos/novo/")
    page.get_by_role("tab", name="Planejamento").click()
    page.fill("#id_price", "dezenove")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Informe a descrição do produto.")).to_be_visible()
    page.get_by_role("tab", name="Planejamento").click()
    expect(page.get_by_text("Valor inválido: 'dezenove'; use, por exemplo, 1.234,56 ou 1234.56.")).to_be_visible()
    assert not Product.objects.exists()


def test_removing_the_integration_clears_the_lupa_and_the_package(make_user, login, page, make_platform_integration):
    """The x beside the lupa (web/static/web/pages.js, no inline script: the CSP refuses them)."""
    from agrega.catalog.models import Product

    integration = make_platform_integration(auto_create_users=False)
    make_user("ana", "administrador")
    login("ana")
    _new_product(page, "Produto sem SVA", "9,90")
    _pick_integration(page, integration)
    expect(page.locator("[data-catalogue=ok]")).to_be_visible()
    page.get_by_role("button", name="Remover integração").click()
    expect(page.locator("#id_sva_integration_id_label")).to_have_value("")
    expect(page.locator("#id_sva_integration_id")).to_have_value("")
    expect(page.locator("#package-field")).to_contain_text("Escolha primeiro a integração SVA")  # htmx reloaded it
    page.get_by_role("tab", name="Produto").click()
    page.select_option("#id_fiscal_class", "SCM")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Produto “Produto sem SVA” salvo.")).to_be_visible()
    assert Product.objects.get(name="Produto sem SVA").sva_integration_id is None
