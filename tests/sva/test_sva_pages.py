"""The contract's SVA tab and the Usuário SVA pages: manual creation (Usar dados cadastro
sim/não), named registration problems, timeline (htmx), Sincronizar agora, Excluir —
against the real EXA sandbox."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from agrega.contracts import services
from agrega.core.br import format_document
from agrega.customers.services import customer_update
from agrega.sva.models import SvaUser
from tests.fixtures import default_packages, default_platform_only
from tests.web.fixtures_contracts import pick_in_lupa, sva_row

sva_platform = default_platform_only()
PACKAGES = default_packages()


def _active_contract(make_contract, product, customer=None, **kw):
    contract = make_contract(customer, **kw) if customer else make_contract(**kw)
    services.contract_add_product(contract=contract, product_id=product.pk)
    services.contract_activate(contract=contract)
    return contract


def test_manual_creation_with_customer_data_sync_timeline_and_delete(admin_page, make_platform_integration,
                                                                     make_product, make_customer, make_contract,
                                                                     converge, platform_account, screenshot):
    page = admin_page
    integration = make_platform_integration(auto_create_users=False)
    product = make_product(integration, name="EXA Família Manual", package=PACKAGES[1])
    customer = make_customer(email="manual.sim@example.com.br", mobile_phone="(21) 98877-6655")
    contract = _active_contract(make_contract, product, customer)

    page.goto(f"/contratos/{contract.pk}/#sva")
    tab = page.locator("#sva")
    expect(tab.get_by_text("Integração sem criação automática")).to_be_visible()
    tab.get_by_role("link", name="Novo").click()
    assert page.get_by_label("ID contrato").input_value() == str(contract.pk)
    assert page.get_by_label("ID integração").input_value() == str(integration.pk)
    assert "EXA Família Manual" in page.get_by_label("ID produto").inner_text()
    assert page.get_by_label("Sim").is_checked()
    for label, value in (("CPF/CNPJ", format_document(customer.document)),  # shown formatted
                         ("Usuário (e-mail)", "manual.sim@example.com.br"),
                         ("Telefone", customer.mobile_phone)):
        field = page.get_by_label(label, exact=True)
        assert field.input_value() == value and not field.is_editable(), label
    screenshot("sva-novo-dados-cadastro")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"#sva$"))
    row = sva_row(page, "EXA Família Manual")
    assert row.locator("[data-col=sync]").inner_text().strip() == "Pendente"
    assert "Manual" in row.inner_text()

    converge()
    page.reload()
    row = sva_row(page, "EXA Família Manual")
    assert row.locator("[data-col=sync]").inner_text().strip() == "Sincronizado"
    assert row.locator("[data-col=confirmed]").inner_text().strip() == "EXA: Ativo"
    user = SvaUser.objects.get(contract=contract)
    remote = platform_account.user(user.external_id)
    assert remote["email"] == "manual.sim@example.com.br" and remote["status"] == "active"

    row.get_by_role("button", name="Linha do tempo").click()
    timeline = page.get_by_role("table", name="Linha do tempo")
    timeline.wait_for()
    expect(timeline.get_by_text("POST").first).to_be_visible()
    created = timeline.get_by_role("row").filter(has_text="Criar usuário")  # the Portuguese label only
    assert created.first.is_visible() and "create_user" not in created.first.locator("td").nth(1).inner_text()
    details = timeline.locator("details").first
    assert not details.get_attribute("open") and not details.locator("pre").first.is_visible()  # collapsed
    details.locator("summary").click()
    expect(details.locator("pre").first).to_be_visible()
    screenshot("sva-aba-linha-do-tempo")

    row.get_by_role("button", name="Sincronizar agora").click()
    expect(page.get_by_text("Sincronização solicitada")).to_be_visible()
    assert sva_row(page, "EXA Família Manual").locator("[data-col=sync]").inner_text().strip() == "Pendente"
    converge()

    page.goto(f"/contratos/{contract.pk}/#sva")
    sva_row(page, "EXA Família Manual").get_by_role("link", name="Excluir").click()
    expect(page.get_by_text("será removido do Agrega e da EXA")).to_be_visible()
    page.get_by_role("button", name="Confirmar exclusão").click()
    page.wait_for_url(re.compile(r"#sva$"))
    assert "remoção pendente" in sva_row(page, "EXA Família Manual").inner_text()
    converge()
    page.reload()
    assert sva_row(page, "EXA Família Manual").count() == 0
    assert platform_account.user(user.external_id) is None


def test_manual_creation_with_typed_data_is_validated(admin_page, make_platform_integration, make_product,
                                                      make_contract, converge, platform_account):
    page = admin_page
    integration = make_platform_integration(auto_create_users=False)
    product = make_product(integration, name="EXA Backup Digitado", package=PACKAGES[2])
    contract = _active_contract(make_contract, product)

    page.goto(f"/usuarios-sva/contrato/{contract.pk}/novo/")
    page.get_by_label("Não").check()
    assert page.get_by_label("Usuário (e-mail)", exact=True).is_editable()
    assert page.get_by_label("Usuário (e-mail)", exact=True).input_value() == ""
    page.get_by_label("CPF/CNPJ", exact=True).fill("111.111.111-12")
    page.get_by_label("Usuário (e-mail)", exact=True).fill("nao-e-email")
    page.get_by_label("Telefone", exact=True).fill("123")
    page.get_by_role("button", name="Salvar").click()
    page.get_by_text("Dados do usuário SVA inválidos.").wait_for()  # the form comes back with its errors
    assert page.locator("#id_email + .invalid-feedback, #id_email ~ .invalid-feedback").first.inner_text() \
        .startswith("Usuário (e-mail):")
    assert page.locator("#id_phone ~ .invalid-feedback").inner_text().startswith("Telefone:")
    assert page.locator("#id_document ~ .invalid-feedback").inner_text().startswith("CPF/CNPJ:")
    assert page.get_by_label("Não").is_checked()  # the choice survives the error

    page.get_by_label("CPF/CNPJ", exact=True).fill("529.982.247-25")
    page.get_by_label("Usuário (e-mail)", exact=True).fill("outro.email@example.com.br")
    page.get_by_label("Telefone", exact=True).fill("(31) 99123-4567")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"#sva$"))
    converge()
    user = SvaUser.objects.get(contract=contract)
    remote = platform_account.user(user.external_id)
    assert remote["email"] == "outro.email@example.com.br"


def test_missing_mobile_is_named_on_the_tab_and_on_manual_creation(admin_page, make_platform_integration,
                                                                   make_product, make_customer, make_contract,
                                                                   converge, platform_account, screenshot):
    page = admin_page
    auto = make_platform_integration(auto_create_users=True)
    product = make_product(auto, name="EXA Segurança Sem Celular")
    customer = make_customer(name="Cliente Sem Celular", mobile_phone="")
    contract = make_contract(customer)
    services.contract_add_product(contract=contract, product_id=product.pk)

    page.goto(f"/contratos/{contract.pk}/")
    page.get_by_role("link", name="Ativar").click()
    effects = page.get_by_role("list", name="Efeitos nos usuários SVA").inner_text()
    assert "ficará pendente" in effects and "Telefone celular no cadastro do cliente: Informe o telefone celular." \
        in effects
    page.get_by_role("button", name="Confirmar: Ativar").click()
    page.wait_for_url(re.compile(r"#sva$"))
    converge()
    page.reload()
    problem = page.locator("#sva").get_by_role("alert")
    assert "criação automática pendente" in problem.inner_text()
    assert "Telefone celular no cadastro do cliente: Informe o telefone celular." in problem.inner_text()
    assert sva_row(page, "EXA Segurança Sem Celular").locator("[data-col=sync]").inner_text().strip() \
        == "Cadastro incompleto"
    screenshot("sva-aba-cadastro-incompleto")
    assert platform_account.users() == []

    # Manual creation (integration flag não) with "usar dados cadastro" names the field too.
    manual = make_platform_integration(auto_create_users=False, prefix=platform_account.prefix + "m",
                              name="EXA manual")
    manual_product = make_product(manual, name="EXA Manual Sem Celular")
    contract2 = _active_contract(make_contract, manual_product, customer)
    page.goto(f"/usuarios-sva/contrato/{contract2.pk}/novo/")
    expect(page.get_by_text("Telefone celular no cadastro do cliente: Informe o telefone celular.")).to_be_visible()
    page.get_by_role("button", name="Salvar").click()
    alert = page.get_by_role("alert").filter(has_text="Cadastro do cliente incompleto para criar o usuário SVA")
    assert "Telefone celular no cadastro do cliente: Informe o telefone celular." in alert.inner_text()
    expect(page.locator("#id_phone ~ .invalid-feedback")).to_be_visible()
    assert not SvaUser.objects.filter(contract=contract2).exists()


def test_a_registration_problem_links_to_the_field_that_fixes_it(admin_page, platform_integration, make_product,
                                                                 make_customer, make_contract, converge,
                                                                 platform_account):
    """On the tab and on the user's page, the problem opens the customer's form on the
    offending field; the save returns to the user's page, which follows the worker."""
    page = admin_page
    product = make_product(platform_integration, name="EXA Corrigir Aqui")
    customer = make_customer(name="Cliente Corrigir", mobile_phone="")
    contract = _active_contract(make_contract, product, customer)
    converge()
    user = SvaUser.objects.get(contract=contract)

    page.goto(f"/contratos/{contract.pk}/#sva")
    fix = page.locator("#sva").get_by_role("link", name="Corrigir no cadastro do cliente")
    expect(fix).to_have_attribute("href", re.compile(rf"/clientes/{customer.pk}/editar/\?focus=mobile_phone&"))
    page.goto(f"/usuarios-sva/{user.pk}/")
    page.locator("#sva-state").get_by_role("link", name="Corrigir no cadastro do cliente").click()
    expect(page.locator("#id_mobile_phone")).to_be_focused()
    page.keyboard.type("(11) 97777-6666")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(rf"/usuarios-sva/{user.pk}/$"))
    state = page.locator("#sva-state")
    expect(state).to_contain_text("Pendente")
    expect(state.get_by_role("alert")).to_have_count(0)
    converge()
    expect(state).to_contain_text("Sincronizado")
    expect(state).to_contain_text("EXA: Ativo")


def test_sva_user_detail_page_loads_timeline(admin_page, make_platform_integration, make_product, make_contract,
                                             converge, screenshot):
    page = admin_page
    product = make_product(make_platform_integration(auto_create_users=True), name="EXA Detalhe")
    contract = _active_contract(make_contract, product)
    converge()
    user = SvaUser.objects.get(contract=contract)
    page.goto(f"/contratos/{contract.pk}/#sva")
    page.locator("#sva").get_by_role("link", name="EXA Detalhe").click()
    expect(page.get_by_role("heading", name=re.compile(f"Usuário SVA {user.pk}"))).to_be_visible()
    page.get_by_role("table", name="Linha do tempo").wait_for()
    expect(page.get_by_text("ID contrato")).to_be_visible()
    screenshot("sva-usuario-detalhe")


def test_refused_data_and_cancelled_contract_are_explained(admin_page, platform_integration, make_product,
                                                           make_customer, make_contract, converge, platform_account,
                                                           platform_admin, screenshot,):
    """A user whose data the platform refused for good says that no new attempt comes
    until the data is corrected; a cancelled contract's user says when it is removed."""
    from datetime import timedelta

    from django.utils import timezone

    page = admin_page
    refused_email = f"recusado.{platform_account.prefix}@example.com.br"
    platform_admin.set_faults(prefix=platform_account.prefix, refuse_emails=[refused_email], refuse_status=413)
    product = make_product(platform_integration, name="EXA Recusado")
    refused = _active_contract(make_contract, product, make_customer(email=refused_email))
    cancelled = _active_contract(make_contract, make_product(platform_integration, name="EXA Cancelado",
                                                             package=PACKAGES[2]))
    converge(allow_errors=True)
    cancelled = services.contract_cancel(contract=cancelled)

    page.goto(f"/contratos/{refused.pk}/#sva")
    row = sva_row(page, "EXA Recusado")
    assert row.locator("[data-col=sync]").inner_text().strip() == "Erro"
    assert "grandes demais (HTTP 413)" in row.inner_text()
    assert "payload_too_large" not in page.content()  # the label, never the internal code
    assert row.locator("[data-retries-stopped]").inner_text() == \
        "Sem novas tentativas até corrigir os dados (cliente, contrato ou produto)."
    screenshot("sva-erro-permanente")
    row.get_by_role("link", name="EXA Recusado").click()
    assert "Sem novas tentativas até corrigir os dados" in page.locator("[data-retries-stopped]").inner_text()

    # The data is fixed: the user is queued again and its page says so, not "Erro" with the
    # old message, then follows the worker by itself (no reload).
    customer_update(customer=refused.customer, email=f"corrigido.{platform_account.prefix}@example.com.br")
    page.reload()
    state = page.locator("#sva-state")
    expect(state).to_contain_text("Pendente")
    expect(state).not_to_contain_text("grandes demais")
    expect(state).not_to_contain_text("Erro")
    converge()
    expect(state).to_contain_text("Sincronizado")
    expect(state).to_contain_text("EXA: Ativo")
    expect(page.locator("#sva-state[data-live]")).to_have_count(0)  # settled: the polling stopped

    page.goto(f"/contratos/{cancelled.pk}/#sva")
    when = timezone.localtime(cancelled.ended_at + timedelta(days=30)).strftime("%d/%m/%Y")
    row = sva_row(page, "EXA Cancelado")
    assert row.locator("[data-removal]").inner_text() == f"contrato cancelado: será removido em {when}"
    screenshot("sva-contrato-cancelado")


def test_a_second_account_for_the_customer_is_refused_on_the_product_page(admin_page, platform_integration,
                                                                          make_product, make_customer, make_contract,
                                                                          screenshot,):
    page = admin_page
    customer = make_customer()
    product = make_product(platform_integration, name="EXA Conta Única")
    first = _active_contract(make_contract, product, customer)
    user = SvaUser.objects.get(contract=first)
    second = make_contract(customer)
    page.goto(f"/contratos/{second.pk}/produtos/novo/")
    page.get_by_label("SVA", exact=True).check()
    pick_in_lupa(page, "Produto/Serviço", "Conta Única", "EXA Conta Única")
    page.get_by_role("button", name="Salvar").click()
    feedback = page.locator("#id_product ~ .invalid-feedback, .invalid-feedback").filter(has_text="já tem")
    feedback.first.wait_for()
    text = feedback.first.inner_text()
    assert f"usuário SVA {user.pk}" in text and f"contrato {first.pk}" in text
    screenshot("contrato-produto-conta-unica")
    assert not second.products.exists()
