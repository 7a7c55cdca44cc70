"""Contrato pages (Sistema > Cadastros > Contrato): list, Novo with the customer lupa,
Produtos with the product lupa, status actions with their confirmation, Histórico,
roles and CSRF. Browser tests run against the real EXA sandbox."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from playwright.sync_api import expect

from agrega.contracts import services
from agrega.contracts.models import Contract
from agrega.sva.models import SvaUser
from tests.fixtures import default_packages, default_platform_only
from tests.web.fixtures_contracts import open_tab, pick_in_lupa, search_in_lupa

sva_platform = default_platform_only()
PACKAGES = default_packages()


# -- list ------------------------------------------------------------------------------

@pytest.fixture
def admin_client(db):
    from django.contrib.auth import get_user_model

    from agrega.core.roles import assign_role

    user = get_user_model().objects.create_user("adm-client", "adm@example.com.br", "x")
    assign_role(user, "administrador")
    client = Client()
    client.force_login(user)
    return client


def test_list_filters_by_codes_and_customer(admin_client, make_customer, make_contract):
    maria = make_customer(name="Maria Filtro")
    joao = make_customer(name="João Outro")
    active = make_contract(maria)
    services.contract_activate(contract=active)
    services.contract_block_manual(contract=active)
    pre = make_contract(joao)

    page = admin_client.get("/contratos/", {"status": "A", "access_status": "CM"}).content.decode()
    assert f'href="/contratos/{active.pk}/"' in page and f'href="/contratos/{pre.pk}/"' not in page
    assert "CM — Bloqueio manual" in page and "FA — Financeiro em atraso" in page  # codes with labels

    page = admin_client.get("/contratos/", {"q": "joão"}).content.decode()
    assert f'href="/contratos/{pre.pk}/"' in page and f'href="/contratos/{active.pk}/"' not in page
    page = admin_client.get("/contratos/", {"q": maria.document}).content.decode()
    assert f'href="/contratos/{active.pk}/"' in page and f'href="/contratos/{pre.pk}/"' not in page


def test_list_keyset_pagination_without_count(admin_client, make_customer):
    customer = make_customer()
    Contract.objects.bulk_create([Contract(customer=customer) for _ in range(60)])
    ids = list(Contract.objects.order_by("id").values_list("id", flat=True))
    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get("/contratos/").content.decode()
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "COUNT(" not in sql and "OFFSET" not in sql
    assert len(queries.captured_queries) <= 8  # session, user, groups, one page query: no N+1
    assert f'href="/contratos/{ids[24]}/"' in first and f'href="/contratos/{ids[25]}/"' not in first
    assert f"cursor={ids[24]}" in first
    second = admin_client.get("/contratos/", {"cursor": ids[24]}).content.decode()
    assert f'href="/contratos/{ids[25]}/"' in second and f'href="/contratos/{ids[24]}/"' not in second
    third = admin_client.get("/contratos/", {"cursor": ids[49]}).content.decode()
    assert f'href="/contratos/{ids[59]}/"' in third and "Próxima página" not in third


def test_every_list_query_stays_keyset_and_bounded(admin_client, make_customer):
    """Each filter of the list (status codes, cursor, name, CPF) reads one page by keyset:
    no COUNT, no OFFSET, a bounded number of queries, whatever the table's size. (Its speed
    at 100,000 contracts is a benchmark's business, not a test's.)"""
    names = ["Ana", "Bia", "Caio", "Davi", "Edu", "Fabi", "Gil", "Hugo", "Iara", "Jair"]
    customers = [make_customer(name=f"{names[i % 10]} Keyset {'Alfa' if i < 10 else 'Beta'}") for i in range(20)]
    batch = [Contract(customer=customers[i % 20], status="A" if i % 3 else "I",
                      access_status="A" if i % 3 else "D") for i in range(600)]
    Contract.objects.bulk_create(batch, batch_size=600)
    last = Contract.objects.order_by("-id").values_list("id", flat=True).first()
    for params in ({}, {"status": "I", "access_status": "D"}, {"cursor": last - 30},
                   {"q": customers[7].name}, {"q": customers[3].document}):
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get("/contratos/", params)
        assert response.status_code == 200
        sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
        assert "COUNT(" not in sql and "OFFSET" not in sql, params
        assert len(queries.captured_queries) <= 8, (params, len(queries.captured_queries))
        shown = re.findall(r'href="/contratos/(\d+)/"', response.content.decode())
        assert 0 < len(set(shown)) <= 25, params


# -- browser ---------------------------------------------------------------------------

def action_labels(page) -> list[str]:
    links = page.get_by_role("group", name="Ações do contrato").get_by_role("link")
    return [text.strip() for text in links.all_inner_texts()]


def test_new_contract_with_customer_lupa(admin_page, make_customer, screenshot):
    page = admin_page
    make_customer(name="Zuleica Lupa Teste", email="zuleica@example.com.br")
    page.goto("/contratos/")
    page.get_by_role("link", name="Novo").click()
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Escolha o cliente na lupa.")).to_be_visible()
    pick_in_lupa(page, "Cliente", "Zuleica", "Zuleica Lupa Teste")
    assert "Zuleica Lupa Teste" in page.locator("#id_customer_label").input_value()
    page.fill("#id_billing_day", "15")
    page.fill("#id_description", "Plano fibra 500")
    screenshot("contrato-novo")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"/contratos/\d+/$"))
    expect(page.get_by_text("P — Pré-contrato").first).to_be_visible()
    expect(page.get_by_text("vencimento dia 15")).to_be_visible()
    contract = Contract.objects.get(customer__name="Zuleica Lupa Teste")
    assert contract.billing_day == 15 and contract.description == "Plano fibra 500"
    open_tab(page, "Histórico")
    expect(page.locator("#historico").get_by_text("Criação")).to_be_visible()
    expect(page.locator("#historico").get_by_text("admin-web")).to_be_visible()

    page.goto("/contratos/")
    page.get_by_label("Status", exact=True).select_option("P")
    page.get_by_role("button", name="Filtrar").click()
    expect(page.get_by_role("link", name="Zuleica Lupa Teste")).to_be_visible()
    screenshot("contrato-lista")


def test_add_sva_product_with_lupa_then_remove(admin_page, make_platform_integration, make_product, make_contract,
                                               screenshot):
    page = admin_page
    integration = make_platform_integration(auto_create_users=False)
    make_product(integration, name="EXA Segurança Básico Lupa")
    make_product(None, name="Internet Fibra Lupa", fiscal_class="SCM")
    contract = make_contract()

    page.goto(f"/contratos/{contract.pk}/")
    page.locator("#produtos").get_by_role("link", name="Novo").click()
    page.get_by_label("SVA", exact=True).check()
    page.get_by_role("button", name="Lupa: Produto/Serviço").click()
    dialog = search_in_lupa(page, "Lupa")
    expect_row = dialog.get_by_role("row").filter(has_text="EXA Segurança Básico Lupa")
    expect_row.wait_for()
    assert dialog.get_by_role("row").filter(has_text="Internet Fibra Lupa").count() == 0  # SVA only
    screenshot("contrato-produto-lupa")
    expect_row.get_by_role("button", name="Selecionar").click()
    page.fill("#id_price", "12,50")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"#produtos$"))
    row = page.locator("#produtos tr").filter(has_text="EXA Segurança Básico Lupa")
    assert "SVA" in row.inner_text() and "R$ 12,50" in row.inner_text() and PACKAGES[0] in row.inner_text()

    # tipo Outro lists every product
    page.locator("#produtos").get_by_role("link", name="Novo").click()
    page.get_by_label("Outro", exact=True).check()
    pick_in_lupa(page, "Produto/Serviço", "Internet", "Internet Fibra Lupa")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"#produtos$"))

    row = page.locator("#produtos tr").filter(has_text="Internet Fibra Lupa")
    row.get_by_role("link", name="Remover").click()
    expect(page.get_by_role("heading", name=re.compile("Remover Internet Fibra Lupa"))).to_be_visible()
    page.get_by_role("button", name="Confirmar remoção").click()
    removed = page.locator("#produtos tr.product-removed").filter(has_text="Internet Fibra Lupa")
    assert removed.is_visible() and "Removido em" in removed.inner_text()
    screenshot("contrato-produtos")
    open_tab(page, "Histórico")
    expect(page.locator("#historico").get_by_text("Produto removido")).to_be_visible()


def test_changing_the_product_type_clears_a_product_it_would_not_list(admin_page, make_platform_integration,
                                                                      make_product, make_contract):
    page = admin_page
    make_product(make_platform_integration(auto_create_users=False), name="EXA Troca de Tipo")
    contract = make_contract()
    page.goto(f"/contratos/{contract.pk}/produtos/novo/")
    page.get_by_label("SVA", exact=True).check()
    pick_in_lupa(page, "Produto/Serviço", "Troca", "EXA Troca de Tipo")
    expect(page.locator("#id_product_label")).not_to_have_value("")
    page.get_by_label("Outro", exact=True).check()  # web/static/web/pages.js
    expect(page.locator("#id_product_label")).to_have_value("")
    expect(page.locator("#id_product")).to_have_value("")


def test_only_valid_actions_and_refusals_show_the_service_message(admin_page, make_contract):
    page = admin_page
    contract = make_contract()
    page.goto(f"/contratos/{contract.pk}/")
    assert action_labels(page) == ["Ativar", "Cancelar"]

    page.goto(f"/contratos/{contract.pk}/acao/release/")  # not offered for a pré-contrato
    page.get_by_role("button", name="Confirmar: Desbloquear").click()
    assert page.get_by_role("alert").filter(
        has_text="Só é possível desbloquear um contrato ativo em bloqueio").first.is_visible()
    contract.refresh_from_db()
    assert contract.status == "P"


def test_actions_confirm_what_happens_to_each_sva_user(admin_page, make_platform_integration, make_product,
                                                       make_customer, make_contract, converge, platform_account,
                                                       screenshot):
    page = admin_page
    integration = make_platform_integration(auto_create_users=True)
    product = make_product(integration, name="EXA Segurança Básico")
    customer = make_customer(email="ana.acoes@example.com.br")
    contract = make_contract(customer)
    services.contract_add_product(contract=contract, product_id=product.pk)

    page.goto(f"/contratos/{contract.pk}/")
    page.get_by_role("link", name="Ativar").click()
    effects = page.get_by_role("list", name="Efeitos nos usuários SVA")
    assert "será criado automaticamente com os dados do cadastro do cliente (ana.acoes@example.com.br) " \
           "e ativado na EXA" in effects.inner_text()
    screenshot("contrato-ativar-confirmacao")
    page.get_by_role("button", name="Confirmar: Ativar").click()
    page.wait_for_url(re.compile(r"#sva$"))
    expect(page.locator("#sva")).to_be_visible()
    assert page.locator("#sva [data-col=sync]").inner_text().strip() == "Pendente"

    converge()
    page.reload()
    assert page.locator("#sva [data-col=confirmed]").inner_text().strip() == "EXA: Ativo"
    page.get_by_role("link", name="Bloquear (bloqueio manual)").click()
    assert ("Usuário SVA de EXA Segurança Básico (ana.acoes@example.com.br): ficará bloqueado na EXA"
            in page.get_by_role("list", name="Efeitos nos usuários SVA").inner_text())
    page.fill("#id_note", "Pedido do cliente")
    screenshot("contrato-bloquear-confirmacao")
    page.get_by_role("button", name="Confirmar: Bloquear (bloqueio manual)").click()
    page.wait_for_url(re.compile(r"#sva$"))
    assert page.locator("#sva [data-col=desired]").inner_text().strip() == "Bloqueado"
    assert page.locator("#sva [data-col=sync]").inner_text().strip() == "Pendente"
    open_tab(page, "Histórico")
    row = page.locator("#historico tr").filter(has_text="Bloqueio manual").first
    assert "A — Ativo → CM — Bloqueio manual" in row.inner_text()
    assert "Observação: Pedido do cliente" in row.inner_text() and "admin-web" in row.inner_text()

    converge()
    page.goto(f"/contratos/{contract.pk}/")
    assert action_labels(page) == ["Desbloquear", "Inativar", "Cancelar"]
    page.get_by_role("link", name="Desbloquear").click()
    assert "será ativado na EXA" in page.get_by_role("list", name="Efeitos nos usuários SVA").inner_text()
    page.get_by_role("link", name="Voltar").click()  # back without acting
    page.wait_for_url(re.compile(rf"/contratos/{contract.pk}/$"))
    page.get_by_role("link", name="Cancelar", exact=True).click()
    assert ("Usuário SVA de EXA Segurança Básico (ana.acoes@example.com.br): nenhuma mudança na EXA "
            "(continua bloqueado)") in page.get_by_role("list", name="Efeitos nos usuários SVA").inner_text()
    screenshot("contrato-cancelar-confirmacao")


# -- roles and CSRF --------------------------------------------------------------------

def test_read_only_user_sees_no_actions_and_gets_403(make_user, login, page, make_platform_integration, make_product,
                                                     make_contract):
    integration = make_platform_integration(auto_create_users=True)
    product = make_product(integration)
    contract = make_contract()
    item = services.contract_add_product(contract=contract, product_id=product.pk)
    services.contract_activate(contract=contract)
    user = SvaUser.objects.get(contract=contract)

    reader = make_user("leitor", "somente leitura")
    login("leitor")
    page.goto("/contratos/")
    expect(page.get_by_role("link", name=str(contract.customer.name))).to_be_visible()
    assert page.get_by_role("link", name="Novo").count() == 0
    page.goto(f"/contratos/{contract.pk}/#sva")
    assert page.get_by_role("group", name="Ações do contrato").count() == 0
    for name in ("Novo", "Remover", "Excluir"):
        assert page.get_by_role("link", name=name).count() == 0
    assert page.get_by_role("button", name="Sincronizar agora").count() == 0
    assert page.get_by_role("button", name="Linha do tempo").count() == 1  # reading is allowed

    client = Client()
    client.force_login(reader)
    posts = [
        "/contratos/novo/", f"/contratos/{contract.pk}/acao/block_manual/",
        f"/contratos/{contract.pk}/produtos/novo/", f"/contratos/{contract.pk}/produtos/{item.pk}/remover/",
        f"/usuarios-sva/contrato/{contract.pk}/novo/", f"/usuarios-sva/{user.pk}/sincronizar/",
        f"/usuarios-sva/{user.pk}/excluir/",
    ]
    for url in posts:
        assert client.post(url, {"note": "x"}).status_code == 403, url
    assert client.get("/contratos/novo/").status_code == 403
    contract.refresh_from_db()
    assert contract.access_status == "A" and SvaUser.objects.filter(deleted_at__isnull=True).count() == 1


def test_forms_require_csrf(admin_client, make_contract):
    contract = make_contract()
    client = Client(enforce_csrf_checks=True)
    client.cookies = admin_client.cookies
    assert client.post(f"/contratos/{contract.pk}/acao/activate/").status_code == 403
    contract.refresh_from_db()
    assert contract.status == "P"
