"""Sistema > Cadastros > Clientes: live field checks, save-time errors, list search, picker."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from agrega.core.br import format_document, make_cnpj, make_cpf


def test_a_live_check_does_not_move_the_form_under_the_pointer(make_user, login, page, make_customer):
    """The answer of a live check fills room kept for it: "Salvar" stays where it was, so
    a click already on its way is not lost (it was, under load, in CI)."""
    customer = make_customer(name="Cliente Sem Celular Layout", mobile_phone="")
    make_user("layout", "operador")
    login("layout")
    page.goto(f"/clientes/{customer.pk}/editar/?focus=mobile_phone")
    save = page.get_by_role("button", name="Salvar")
    before = save.bounding_box()
    page.locator("#id_mobile_phone").press_sequentially("(11) 98765-1234")
    expect(page.locator("#live-mobile_phone [data-live=ok]")).to_be_visible()
    assert save.bounding_box() == before
    page.locator("#id_email").fill("")
    page.locator("#id_email").press_sequentially("x@")
    expect(page.locator("#live-email [data-live=error]")).to_be_visible()
    assert save.bounding_box() == before


def test_customer_form_checks_fields_as_typed_and_on_save(make_user, login, page, screenshot):
    from agrega.customers.models import Customer

    make_user("bia", "operador")
    login("bia")
    page.goto("/clientes/")
    page.get_by_role("link", name="Novo").click()
    page.fill("#id_name", "Maria da Silva")

    # An invalid CPF: the check digits do not match.
    page.locator("#id_document").press_sequentially("123.456.789-00")
    expect(page.locator("#live-document [data-live=error]")).to_have_text(
        "CPF inválido: os dígitos verificadores não conferem."
    )
    # A landline as celular.
    page.locator("#id_mobile_phone").press_sequentially("(11) 3333-4444")
    expect(page.locator("#live-mobile_phone [data-live=error]")).to_contain_text("não é de celular")
    page.locator("#id_email").press_sequentially("maria@exemplo")
    expect(page.locator("#live-email [data-live=error]")).to_have_text("E-mail inválido.")
    screenshot("cliente-validacao-ao-digitar")

    # Saving anyway: the service's errors land on the fields; nothing is saved.
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator("[data-field-error=document]")).to_contain_text("CPF inválido")
    expect(page.locator("[data-field-error=mobile_phone]")).to_contain_text("não é de celular")
    expect(page.locator("[data-field-error=email]")).to_have_text("E-mail inválido.")
    expect(page.locator("#id_name")).to_have_value("Maria da Silva")
    assert not Customer.objects.exists()

    cpf = make_cpf(4242)
    page.fill("#id_document", "")
    page.locator("#id_document").press_sequentially(cpf)
    expect(page.locator("#live-document [data-live=ok]")).to_have_text(f"CPF válido: {format_document(cpf)}")
    page.fill("#id_mobile_phone", "")
    page.locator("#id_mobile_phone").press_sequentially("11987654321")
    expect(page.locator("#live-mobile_phone [data-live=ok]")).to_have_text("Celular válido: (11) 98765-4321")
    page.fill("#id_email", "")
    page.locator("#id_email").press_sequentially("maria@exemplo.com.br")
    expect(page.locator("#live-email [data-live=ok]")).to_contain_text("maria@exemplo.com.br")
    page.fill("#id_city", "Campinas")
    page.select_option("#id_state", "SP")
    page.get_by_role("button", name="Salvar").click()

    expect(page.get_by_text("Cliente “Maria da Silva” salvo.")).to_be_visible()
    customer = Customer.objects.get()
    assert (customer.document, customer.mobile_phone) == (cpf, "+5511987654321")
    expect(page.locator("#customer-document")).to_have_text(format_document(cpf))
    expect(page.locator("#customer-mobile")).to_have_text("(11) 98765-4321")
    screenshot("cliente-detalhe")

    # Editing shows formatted values and says when a document belongs to someone else.
    other = make_cnpj(77)
    Customer.objects.create(name="Empresa X", person_type="J", document=other)
    page.get_by_role("link", name="Editar").click()
    expect(page.locator("#id_document")).to_have_value(format_document(cpf))
    expect(page.locator("#id_mobile_phone")).to_have_value("(11) 98765-4321")
    page.fill("#id_document", "")
    page.locator("#id_document").press_sequentially(other)
    expect(page.locator("#live-document [data-live=error]")).to_contain_text("CPF/CNPJ já cadastrado")
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator("[data-field-error=document]")).to_have_text("CPF/CNPJ já cadastrado.")
    customer.refresh_from_db()
    assert customer.document == cpf


def test_customer_list_searches_by_name_document_and_email(make_user, login, page, screenshot, make_customer):
    from agrega.customers.models import Customer

    make_user("caio", "somente leitura")
    login("caio")
    joana = make_customer(name="Joana Prado", email="joana.prado@provedor.com.br")
    make_customer(name="Pedro Lima", email="pedro@outro.com.br")
    company = make_customer(name="Acme Telecom Ltda", document=make_cnpj(5))

    page.goto("/clientes/")
    table = page.locator("#customers-table")
    expect(table).to_contain_text("Joana Prado")
    expect(table).to_contain_text(format_document(joana.document))
    screenshot("clientes-lista")

    def search(text):
        page.fill("input[name=q]", text)
        page.get_by_role("button", name="Buscar").click()
        page.wait_for_load_state()

    search(format_document(company.document))  # a full CNPJ with punctuation
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Acme Telecom Ltda")
    search("joana.prado@")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Joana Prado")
    search("lima")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Pedro Lima")
    search("ninguém")
    expect(table).to_contain_text("Nenhum cliente encontrado")

    # Keyset pagination: ?cursor= goes on from the last id, no page count.
    for n in range(55):
        Customer.objects.create(name=f"Lote {n:02d}", person_type="F", document=make_cpf(900000 + n))
    search("Lote")
    expect(table.locator("tbody tr")).to_have_count(50)
    page.get_by_role("link", name=re.compile("Próxima página")).click()
    expect(table.locator("tbody tr")).to_have_count(5)
    expect(table).to_contain_text("Lote 54")
    assert "cursor=" in page.url and "q=Lote" in page.url


def test_customer_picker_returns_a_small_table(make_user, login, page, make_customer):
    make_user("bia", "operador")
    login("bia")
    customer = make_customer(name="Rita Picker")
    page.goto(f"/clientes/lupa/?q={customer.document}&field=id_customer_id")
    expect(page.locator("#customer-picker-table")).to_contain_text("Rita Picker")
    button = page.get_by_role("button", name="Selecionar")
    expect(button).to_have_attribute("data-pick-value", str(customer.pk))
