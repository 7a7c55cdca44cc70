"""Sistema > Cadastros > Planos de Venda: the plan form with its item rows (produto +
valor), the errors next to the row, the detail, "Novo contrato com este plano" and the
new-contract page's Plano de venda select; activation then runs the SVA flow against the
real EXA sandbox. Roles."""

from __future__ import annotations

import re
from decimal import Decimal

from django.test import Client

from agrega.contracts.models import Contract
from agrega.plans.models import SalesPlan
from agrega.plans.services import plan_create
from agrega.sva.models import SvaUser
from tests.fixtures import default_packages, default_platform_only
from tests.web.fixtures_contracts import pick_in_lupa
from playwright.sync_api import expect

sva_platform = default_platform_only()
PACKAGES = default_packages()


def _menu(page, top: str, item: str):
    page.get_by_role("button", name=re.compile(top)).click()
    page.get_by_role("link", name=item, exact=True).click()


def test_plan_form_with_item_rows(admin_page, make_platform_integration, make_product, screenshot):
    page = admin_page
    integration = make_platform_integration(auto_create_users=True)
    internet = make_product(name="Internet 500 Mega", price="99.90", fiscal_class="SCM")
    exa = make_product(integration, name="EXA Segurança", price="14.90")
    make_product(name="Produto desativado", active=False)

    _menu(page, "Sistema", "Planos de Venda")
    expect(page.get_by_text("Nenhum plano de venda cadastrado.")).to_be_visible()
    page.get_by_role("link", name="Novo").click()
    page.fill("#id_name", "Combo 500 + Segurança")
    page.fill("#id_description", "Internet com EXA")
    options = page.get_by_label("Produto do item 1").inner_text()
    assert "Produto desativado" not in options and f"EXA Segurança ({PACKAGES[0]})" in options
    page.get_by_label("Produto do item 1").select_option(label="Internet 500 Mega — R$ 99,90")
    page.get_by_label("Valor do item 1").fill("89,90")
    page.get_by_role("button", name="Adicionar produto").click()
    page.get_by_label("Produto do item 2").select_option(label=f"EXA Segurança ({PACKAGES[0]}) — R$ 14,90")
    page.get_by_role("button", name="Adicionar produto").click()
    page.get_by_label("Produto do item 3").select_option(label="Internet 500 Mega — R$ 99,90")  # repeated
    page.get_by_role("button", name="Salvar").click()
    row3 = page.locator("tr[data-item-row]").nth(2)
    assert "Internet 500 Mega aparece mais de uma vez no plano." in row3.inner_text()
    expect(page.get_by_role("alert").filter(has_text="Dados do plano de venda inválidos.")).to_be_visible()
    assert not SalesPlan.objects.exists()
    screenshot("plano-de-venda-erro-item")

    page.get_by_role("button", name="Remover item 3").click()
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Plano de venda “Combo 500 + Segurança” salvo.")).to_be_visible()
    plan = SalesPlan.objects.get()
    assert [(i.product_id, i.price) for i in plan.items.order_by("id")] == [
        (internet.pk, Decimal("89.90")), (exa.pk, None)]
    items = page.get_by_role("table", name="Produtos do plano")
    assert "R$ 14,90 (do produto)" in items.inner_text()
    assert page.locator("[data-plan-total]").inner_text() == "R$ 104,80"
    screenshot("plano-de-venda-detalhe")

    page.get_by_role("link", name="Editar").click()
    assert page.get_by_label("Valor do item 1").input_value() == "89,90"
    page.get_by_label("Valor do item 1").fill("79,90")
    page.get_by_role("button", name="Remover item 2").click()
    page.get_by_role("button", name="Salvar").click()
    assert page.locator("[data-plan-total]").inner_text() == "R$ 79,90"
    page.goto("/planos-de-venda/")
    assert "Combo 500 + Segurança" in page.locator("#plans-table").inner_text()


def test_new_contract_from_a_plan_then_activation_creates_the_sva_user(admin_page, make_platform_integration,
                                                                       make_product, make_customer, converge,
                                                                       platform_account, screenshot):
    page = admin_page
    integration = make_platform_integration(auto_create_users=True)
    internet = make_product(name="Internet 300 Mega", price="79.90", fiscal_class="SCM")
    exa = make_product(integration, name="EXA Família", price="19.90", package=PACKAGES[1])
    plan = plan_create(name="Família 300", items=[{"product_id": internet.pk}, {"product_id": exa.pk, "price": "9.90"}])
    customer = make_customer(name="Rosa Plano", email="rosa.plano@example.com.br")

    page.goto(f"/planos-de-venda/{plan.pk}/")
    page.get_by_role("link", name="Novo contrato com este plano").click()
    preview = page.locator("#plan-preview")
    preview.get_by_text("EXA Família").wait_for()
    assert "Família 300" in preview.inner_text() and "R$ 9,90" in preview.inner_text()
    assert page.get_by_label("Plano de venda (opcional)").input_value() == str(plan.pk)
    pick_in_lupa(page, "Cliente", "Rosa", "Rosa Plano")
    screenshot("contrato-novo-com-plano")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"/contratos/\d+/$"))
    expect(page.get_by_text("com os produtos do plano Família 300")).to_be_visible()
    contract = Contract.objects.get(customer=customer)
    assert contract.sales_plan == plan
    expect(page.get_by_role("link", name="Família 300")).to_be_visible()
    products = page.get_by_role("table", name="Produtos do contrato").inner_text()
    assert "Internet 300 Mega" in products and "EXA Família" in products

    page.get_by_role("link", name="Ativar").click()
    assert "será criado automaticamente com os dados do cadastro do cliente (rosa.plano@example.com.br)" in \
        page.get_by_role("list", name="Efeitos nos usuários SVA").inner_text()
    page.get_by_role("button", name="Confirmar: Ativar").click()
    page.wait_for_url(re.compile(r"#sva$"))
    converge()
    page.reload()
    assert page.locator("#sva [data-col=confirmed]").inner_text().strip() == "EXA: Ativo"
    user = SvaUser.objects.get(contract=contract)
    assert platform_account.user(user.external_id)["package_code"] == PACKAGES[1]

    # choosing a plan on the plain new-contract page previews it; "Nenhum" clears it
    page.goto("/contratos/novo/")
    page.get_by_label("Plano de venda (opcional)").select_option(label="Família 300")
    page.locator("#plan-preview").get_by_text("Internet 300 Mega").wait_for()
    page.get_by_label("Plano de venda (opcional)").select_option(label="Nenhum: incluir os produtos depois")
    page.locator("#plan-preview").get_by_text("Internet 300 Mega").wait_for(state="detached")


def test_operator_sees_plans_but_cannot_change_them(make_user, login, page, make_product):
    plan = plan_create(name="Só internet", items=[{"product_id": make_product(name="Internet 100").pk}])
    operator = make_user("operador-planos", "operador")
    login("operador-planos")
    page.goto("/planos-de-venda/")
    expect(page.get_by_role("link", name="Só internet")).to_be_visible()
    assert page.get_by_role("link", name="Novo").count() == 0 and page.get_by_role("link", name="Editar").count() == 0
    page.get_by_role("link", name="Só internet").click()
    expect(page.get_by_role("link", name="Novo contrato com este plano")).to_be_visible()  # operators sell
    client = Client()
    client.force_login(operator)
    for url in ("/planos-de-venda/novo/", f"/planos-de-venda/{plan.pk}/editar/", f"/planos-de-venda/{plan.pk}/excluir/"):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"name": "x"}).status_code == 403, url
    assert SalesPlan.objects.get().name == "Só internet"


def test_delete_an_unused_plan(admin_page, make_product):
    page = admin_page
    plan = plan_create(name="Promoção antiga", items=[{"product_id": make_product(name="Internet 50").pk}])
    page.goto(f"/planos-de-venda/{plan.pk}/")
    page.get_by_role("link", name="Excluir").click()
    page.get_by_role("button", name="Confirmar: excluir").click()
    expect(page.get_by_text("Plano de venda “Promoção antiga” excluído.")).to_be_visible()
    assert not SalesPlan.objects.exists()
