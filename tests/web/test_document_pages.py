"""Documents on pages: a CPF and an alphanumeric CNPJ show formatted on the customers'
list and detail, the contracts' list and detail and the títulos list; the search boxes
find the alphanumeric CNPJ typed in lower case; the form takes it as typed."""

from __future__ import annotations

from playwright.sync_api import expect

from agrega.core.br import make_cpf


def test_documents_show_formatted_and_are_found_however_typed(make_user, login, page, screenshot,
                                                                make_customer, make_contract):
    from agrega.customers.models import Customer

    make_user("dora", "operador")
    login("dora")
    company = make_customer(name="Provedor Alfa Ltda", document="12ABC34501DE35")
    person = make_customer(name="Rita Souza", document=make_cpf(31337))
    cpf_shown = f"{person.document[:3]}.{person.document[3:6]}.{person.document[6:9]}-{person.document[9:]}"
    contract = make_contract(company)

    page.goto("/clientes/")
    table = page.locator("#customers-table")
    expect(table).to_contain_text("12.ABC.345/01DE-35")
    expect(table).to_contain_text(cpf_shown)
    page.fill("input[name=q]", "12.abc.345/01de-35")
    page.get_by_role("button", name="Buscar").click()
    page.wait_for_load_state()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Provedor Alfa Ltda")

    page.goto(f"/clientes/{company.pk}/")
    expect(page.locator("#customer-document")).to_have_text("12.ABC.345/01DE-35")
    screenshot("cliente-cnpj-alfanumerico")

    page.goto("/contratos/")
    expect(page.locator("table")).to_contain_text("12.ABC.345/01DE-35")
    page.fill("input[name=q]", "12.abc.345")
    page.locator("input[name=q]").press("Enter")
    page.wait_for_load_state()
    expect(page.locator("table")).to_contain_text("Provedor Alfa Ltda")
    page.goto(f"/contratos/{contract.pk}/")
    expect(page.get_by_text("CPF/CNPJ 12.ABC.345/01DE-35")).to_be_visible()

    # the form: typed in lower case, checked as typed, saved compact
    page.goto("/clientes/novo/")
    page.fill("#id_name", "Beta Telecom")
    page.locator("#id_document").press_sequentially("12.abc.345/01de-3")
    expect(page.locator("#live-document [data-live=error]")).to_contain_text("tamanho errado")
    page.locator("#id_document").press_sequentially("6")
    expect(page.locator("#live-document [data-live=error]")).to_have_text(
        "CNPJ inválido: os dígitos verificadores não conferem.")
    page.fill("#id_document", "")
    page.locator("#id_document").press_sequentially("12.abc.345/01de-35")
    expect(page.locator("#live-document [data-live=error]")).to_contain_text("CPF/CNPJ já cadastrado")
    Customer.objects.filter(pk=company.pk).update(document="ANON0000000001")
    page.fill("#id_document", "")
    page.locator("#id_document").press_sequentially("12.abc.345/01de-35")
    expect(page.locator("#live-document [data-live=ok]")).to_have_text("CNPJ válido: 12.ABC.345/01DE-35")
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator("#customer-document")).to_have_text("12.ABC.345/01DE-35")
    assert Customer.objects.get(name="Beta Telecom").document == "12ABC34501DE35"


# EXA's own rule, on the exa_* fixtures
def test_customer_edit_says_what_exa_refuses_as_typed_and_on_save(make_user, login, page, make_customer,
                                                                  make_integration, make_product, make_contract):
    from agrega.contracts.services import contract_add_product
    from agrega.customers.models import Customer
    from agrega.sva.services import sva_user_create

    make_user("edu", "operador")
    login("edu")
    customer = make_customer(email="joao@exemplo.com.br")
    integration = make_integration(auto_create_users=False)
    contract = make_contract(customer)
    item = contract_add_product(contract=contract, product_id=make_product(integration).pk)
    sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk)

    page.goto(f"/clientes/{customer.pk}/editar/")
    page.fill("#id_email", "")
    page.locator("#id_email").press_sequentially("joão@exemplo.com.br")
    expect(page.locator("#live-email [data-live=error]")).to_contain_text("A plataforma EXA não aceita acentos")
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator("[data-field-error=email]")).to_contain_text("informe outro e-mail")
    assert Customer.objects.get(pk=customer.pk).email == "joao@exemplo.com.br"
    # an IDN domain: EXA takes it converted
    page.fill("#id_email", "")
    page.locator("#id_email").press_sequentially("joao@café.com.br")
    expect(page.locator("#live-email [data-live=ok]")).to_contain_text("joao@café.com.br")
