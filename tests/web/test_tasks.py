"""Three everyday tasks of a support desk, timed in clicks, in a real browser against the
real EXA sandbox (issue 20). Every click, choice in a select and submit goes through
``Clicks``; typing is free. The worker runs in the test thread (``converge``) while the
page follows it by itself: each task ends with the state on screen **without a reload**
(a marker set in the page survives only if the page was never loaded again)."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from agrega.contracts import services as contract_services
from agrega.core.br import format_document, make_cpf
from tests.fixtures import default_platform_only

from .fixtures_contracts import search_in_lupa, sva_row

sva_platform = default_platform_only()


class Clicks:
    """Counts what the operator does with the mouse; the budget is the issue's."""

    def __init__(self, page):
        self.page = page
        self.count = 0
        self.path: list[str] = []

    def click(self, locator, what: str):
        locator.click()
        self.count += 1
        self.path.append(what)

    def check(self, locator, what: str):
        locator.check()
        self.count += 1
        self.path.append(what)

    def menu(self, top: str, item: str):
        self.click(self.page.get_by_role("button", name=re.compile(top)), top)
        self.click(self.page.get_by_role("link", name=item, exact=True), item)


def _mark_page(page):
    """Set a marker that a reload or a new page would lose."""
    page.evaluate("window.__agregaNoReload = true")


def _assert_not_reloaded(page):
    assert page.evaluate("window.__agregaNoReload === true"), "the page was loaded again"


def _act(clicks: Clicks, label: str):
    page = clicks.page
    clicks.click(page.get_by_role("group", name="Ações do contrato").get_by_role("link", name=label), label)
    clicks.click(page.get_by_role("button", name=f"Confirmar: {label}"), f"Confirmar: {label}")
    page.wait_for_url(re.compile(r"#sva$"))


def test_a_new_customer_to_a_synced_sva_user(make_user, login, page, platform_integration, make_product, converge,
                                             platform_account, screenshot):
    """(a) new customer → contract → EXA product → activate → "Sincronizado" on screen."""
    make_product(platform_integration, name="EXA Segurança Tarefa")
    make_user("atendente", "administrador")
    login("atendente")
    clicks = Clicks(page)
    suffix = uuid.uuid4().hex[:6]
    name = f"Joana Tarefa {suffix}"

    clicks.menu("Sistema", "Clientes")
    clicks.click(page.get_by_role("link", name="Novo"), "Novo cliente")
    page.fill("#id_name", name)
    page.fill("#id_document", format_document(make_cpf(int(suffix, 16))))
    page.fill("#id_email", f"joana.{suffix}@example.com.br")
    page.fill("#id_mobile_phone", "(11) 98765-4321")
    clicks.click(page.get_by_role("button", name="Salvar"), "Salvar cliente")
    expect(page.get_by_text(f"Cliente “{name}” salvo.")).to_be_visible()

    # The customer's page offers a contract with the customer filled in.
    clicks.click(page.get_by_role("link", name="Novo contrato"), "Novo contrato")
    expect(page.locator("#id_customer_label")).to_have_value(re.compile(name))
    clicks.click(page.get_by_role("button", name="Salvar"), "Salvar contrato")
    page.wait_for_url(re.compile(r"/contratos/\d+/$"))
    # …and the contract page links back to the customer.
    expect(page.get_by_role("link", name=name)).to_have_attribute("href", re.compile(r"/clientes/\d+/$"))

    clicks.click(page.locator("#produtos").get_by_role("link", name="Novo"), "Novo produto")
    clicks.check(page.get_by_label("SVA", exact=True), "tipo SVA")
    clicks.click(page.get_by_role("button", name="Lupa: Produto/Serviço"), "lupa")
    dialog = search_in_lupa(page, "Tarefa")
    clicks.click(dialog.get_by_role("row").filter(has_text="EXA Segurança Tarefa")
                 .get_by_role("button", name="Selecionar"), "Selecionar")
    clicks.click(page.get_by_role("button", name="Salvar"), "Salvar produto")
    page.wait_for_url(re.compile(r"#produtos$"))

    _act(clicks, "Ativar")
    row = sva_row(page, "EXA Segurança Tarefa")
    expect(row.locator("[data-col=sync]")).to_have_text(re.compile("Pendente"))
    _mark_page(page)
    converge()
    expect(row.locator("[data-col=sync]")).to_have_text(re.compile("Sincronizado"))
    expect(row.locator("[data-col=confirmed]")).to_have_text(re.compile("EXA: Ativo"))
    _assert_not_reloaded(page)
    expect(page.locator("#sva-live[data-live]")).to_have_count(0)  # settled: no more polling
    screenshot("tarefa-a-sincronizado")
    assert clicks.count <= 18, clicks.path
    print(f"\ntarefa (a): {clicks.count} cliques: {' → '.join(clicks.path)}")


def test_b_block_and_release_a_contract_found_by_cpf(make_user, login, page, platform_integration, make_product,
                                                     make_customer, make_contract, converge, platform_account):
    """(b) find a contract by a CPF typed with punctuation, block, release; each confirmed
    on the page (EXA's state) without a reload."""
    product = make_product(platform_integration, name="EXA Segurança Bloqueio")
    customer = make_customer()
    contract = make_contract(customer)
    contract_services.contract_add_product(contract=contract, product_id=product.pk, kind="SVA")
    contract_services.contract_activate(contract=contract)
    converge()
    make_user("suporte", "administrador")
    login("suporte")
    clicks = Clicks(page)

    clicks.menu("Sistema", "Contrato")
    page.get_by_label("Cliente").fill(format_document(customer.document))  # "123.456.789-09"
    clicks.click(page.get_by_role("button", name="Filtrar"), "Filtrar")
    clicks.click(page.get_by_role("link", name=str(contract.pk), exact=True), "contrato")

    _act(clicks, "Bloquear (bloqueio manual)")
    row = sva_row(page, "EXA Segurança Bloqueio")
    _mark_page(page)
    converge()
    expect(row.locator("[data-col=confirmed]")).to_have_text(re.compile("EXA: Bloqueado"))
    expect(row.locator("[data-col=sync]")).to_have_text(re.compile("Sincronizado"))
    _assert_not_reloaded(page)

    _act(clicks, "Desbloquear")
    _mark_page(page)
    converge()
    expect(row.locator("[data-col=confirmed]")).to_have_text(re.compile("EXA: Ativo"))
    expect(row.locator("[data-col=sync]")).to_have_text(re.compile("Sincronizado"))
    _assert_not_reloaded(page)
    assert clicks.count <= 8, clicks.path
    print(f"\ntarefa (b): {clicks.count} cliques: {' → '.join(clicks.path)}")


def test_c_from_the_dashboards_problem_to_the_fix(make_user, login, page, platform_integration, make_product,
                                                  make_customer, make_contract, converge, platform_account,
                                                  screenshot):
    """(c) the dashboard's "Últimos problemas" → the customer's form on the offending field
    → saved → back where the user converges on screen."""
    product = make_product(platform_integration, name="EXA Segurança Cadastro")
    customer = make_customer(name="Cliente Sem Celular Tarefa", mobile_phone="")
    contract = make_contract(customer)
    contract_services.contract_add_product(contract=contract, product_id=product.pk, kind="SVA")
    contract_services.contract_activate(contract=contract)
    converge()
    make_user("plantao", "administrador")
    login("plantao")
    clicks = Clicks(page)

    problem = page.locator("#sva-problems [data-contract]", has_text="Cliente Sem Celular Tarefa")
    expect(problem).to_contain_text("Telefone celular no cadastro do cliente: Informe o telefone celular.")
    expect(page.locator("body")).not_to_contain_text("registration_incomplete")
    clicks.click(problem.get_by_role("link", name=re.compile("Corrigir o cadastro")), "Corrigir")
    expect(page.locator("#id_mobile_phone")).to_be_focused()  # the offending field, ready to type
    page.keyboard.type("(11) 98765-1234")
    expect(page.locator("#live-mobile_phone [data-live=ok]")).to_be_visible()  # checked as typed
    clicks.click(page.get_by_role("button", name="Salvar"), "Salvar cliente")
    page.wait_for_url(re.compile(rf"/contratos/{contract.pk}/#sva$"))  # back where the problem was
    row = sva_row(page, "EXA Segurança Cadastro")
    expect(page.locator("#sva").get_by_role("alert")).to_have_count(0)  # no stale "pendência"
    _mark_page(page)
    converge()
    expect(row.locator("[data-col=sync]")).to_have_text(re.compile("Sincronizado"))
    expect(row.locator("[data-col=confirmed]")).to_have_text(re.compile("EXA: Ativo"))
    _assert_not_reloaded(page)
    screenshot("tarefa-c-corrigido")
    assert clicks.count <= 5, clicks.path
    print(f"\ntarefa (c): {clicks.count} cliques: {' → '.join(clicks.path)}")
