"""The seed manual's whole flow, in a real browser, as an administrator, against the real
EXA sandbox: Passo 1 (integração), Passo 2 (produto + aba SVA), a customer, Passo 3
(produto SVA no contrato, pela lupa), Passo 4 (ativação automática e manual), the
"Casos de Uso" (bloqueio, desbloqueio, deleção), the registration check and the
somente leitura role. The worker runs in the test thread (``converge``).

On the exa_* fixtures: the manual's flow is written for EXA (its form fields, its package names)."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from agrega.core.br import make_cpf
from agrega.sva.models import SvaUser
from tests.fixtures import PACKAGES

from .fixtures_contracts import open_tab, pick_in_lupa, sva_row


def _menu(page, top: str, item: str):
    page.get_by_role("button", name=re.compile(top)).click()
    page.get_by_role("link", name=item, exact=True).click()


def _new_integration(page, *, name, url, prefix, client_id, client_secret, auto: bool):
    _menu(page, "Configurações", "Integrações SVA")
    page.get_by_role("link", name="Novo").click()
    page.fill("#id_name", name)
    page.select_option("#id_platform", "exa")
    page.fill("#id_base_url", url)
    page.fill("#id_prefix", prefix)
    page.get_by_label("Sim" if auto else "Não", exact=True).check()
    page.fill("#id_cred_client_id", client_id)
    page.fill("#id_cred_client_secret", client_secret)
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text(f"Integração “{name}” cadastrada.")).to_be_visible()


def _new_product(page, *, name, integration_name, package):
    _menu(page, "Sistema", "Produtos")
    page.get_by_role("link", name="Novo").click()
    page.fill("#id_name", name)
    page.select_option("#id_fiscal_class", "SVA")
    page.get_by_role("tab", name="Planejamento").click()
    page.fill("#id_price", "14,90")
    page.get_by_role("tab", name="SVA").click()
    page.locator("#sva-integration-lupa").click()  # ID Integração SVA: lupa
    modal = page.locator("#integration-picker")
    expect(modal).to_be_visible()
    with page.expect_response(re.compile("campo-pacote-sva")):
        modal.locator("tr", has_text=integration_name).get_by_role("button", name="Selecionar").click()
    page.locator("select#id_sva_package_code").select_option(package)  # Pacote SVA principal
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text(f"Produto “{name}” salvo.")).to_be_visible()


def _new_customer(page, *, name, document, email, mobile):
    _menu(page, "Sistema", "Clientes")
    page.get_by_role("link", name="Novo").click()
    page.fill("#id_name", name)
    page.fill("#id_document", document)
    page.fill("#id_email", email)
    page.fill("#id_mobile_phone", mobile)
    page.fill("#id_city", "São Paulo")
    page.select_option("#id_state", "SP")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text(f"Cliente “{name}” salvo.")).to_be_visible()


def _new_contract(page, customer_name) -> int:
    _menu(page, "Sistema", "Contrato")
    page.get_by_role("link", name="Novo").click()
    pick_in_lupa(page, "Cliente", customer_name, customer_name)
    page.fill("#id_description", "Plano fibra + SVA")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"/contratos/\d+/$"))
    return int(re.search(r"/contratos/(\d+)/", page.url).group(1))


def _add_sva_product(page, product_name):
    open_tab(page, "Produtos")
    page.locator("#produtos").get_by_role("link", name="Novo").click()
    page.get_by_label("SVA", exact=True).check()
    pick_in_lupa(page, "Produto/Serviço", product_name, product_name)
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"#produtos$"))
    expect(page.locator("#produtos tr", has_text=product_name)).to_contain_text("SVA")


def _choose_product(page, name):
    select = page.get_by_label("ID produto")
    value = select.locator("option", has_text=name).get_attribute("value")
    select.select_option(value)


def _act(page, label, *, expect_effect: str, note: str = ""):
    page.get_by_role("group", name="Ações do contrato").get_by_role("link", name=label).click()
    expect(page.get_by_role("list", name="Efeitos nos usuários SVA")).to_contain_text(expect_effect)
    if note:
        page.fill("#id_note", note)
    page.get_by_role("button", name=f"Confirmar: {label}").click()
    page.wait_for_url(re.compile(r"#sva$"))


def test_the_manual_flow_in_the_browser(make_user, login, page, screenshot, exa_account, sandbox_admin,
                                        converge, live_server):
    make_user("gestor", "administrador")
    login("gestor")

    # Passo 1: Configurações > Integrações > Integrações SVA > Novo (criação automática: sim).
    _new_integration(page, name="EXA Automática", url=exa_account.url, prefix=exa_account.prefix,
                     client_id=exa_account.client_id, client_secret=exa_account.client_secret, auto=True)
    # Passo 2: Sistema > Cadastros > Produtos > Novo, aba SVA.
    _new_product(page, name="EXA Segurança Básico", integration_name="EXA Automática", package="EXA-SEG-BASICO")
    # A customer with complete registration data.
    suffix = uuid.uuid4().hex[:6]
    email = f"maria.{suffix}@example.com.br"
    _new_customer(page, name=f"Maria Manual {suffix}", document=make_cpf(int(suffix, 16)), email=email,
                  mobile="(11) 98765-4321")
    # Passo 3: Sistema > Cadastros > Contrato > Novo, aba Produtos > Novo (tipo SVA, lupa).
    contract_id = _new_contract(page, f"Maria Manual {suffix}")
    _add_sva_product(page, "EXA Segurança Básico")
    screenshot("fluxo-contrato-produtos")

    # Passo 4, ativação automática: activating the contract creates the SVA user.
    _act(page, "Ativar", expect_effect="será criado automaticamente com os dados do cadastro do cliente")
    row = sva_row(page, "EXA Segurança Básico")
    expect(row.locator("[data-col=sync]")).to_have_text(re.compile("Pendente"))
    converge()
    page.reload()
    expect(row.locator("[data-col=confirmed]")).to_have_text(re.compile("EXA: Ativo"))
    expect(row.locator("[data-col=sync]")).to_have_text(re.compile("Sincronizado"))
    user = SvaUser.objects.get(contract_id=contract_id)
    remote = exa_account.user(user.external_id)
    assert remote["status"] == "active" and remote["email"] == email
    screenshot("fluxo-sva-ativo")

    # Casos de Uso: bloqueio manual → blocked on EXA; desbloqueio → active again.
    _act(page, "Bloquear (bloqueio manual)", note="Solicitação do cliente",
         expect_effect=f"Usuário SVA de EXA Segurança Básico ({email}): ficará bloqueado na EXA")
    converge()
    page.reload()
    expect(row.locator("[data-col=confirmed]")).to_have_text(re.compile("EXA: Bloqueado"))
    assert exa_account.user(user.external_id)["status"] == "blocked"
    _act(page, "Desbloquear", expect_effect="será ativado na EXA")
    converge()
    page.reload()
    expect(row.locator("[data-col=confirmed]")).to_have_text(re.compile("EXA: Ativo"))
    assert exa_account.user(user.external_id)["status"] == "active"

    # Ativação manual: an integration whose flag is não (another EXA account).
    prefix2 = "isp" + uuid.uuid4().hex[:10]
    sandbox_admin.create_partner(prefix2, "cid-" + prefix2, "secret-" + prefix2, packages=PACKAGES)
    _new_integration(page, name="EXA Manual", url=exa_account.url, prefix=prefix2,
                     client_id="cid-" + prefix2, client_secret="secret-" + prefix2, auto=False)
    _new_product(page, name="EXA Família", integration_name="EXA Manual", package="EXA-SEG-FAMILIA")
    page.goto(f"/contratos/{contract_id}/")
    _add_sva_product(page, "EXA Família")
    open_tab(page, "SVA")
    expect(page.locator("#sva")).to_contain_text("EXA Família: Integração sem criação automática")
    page.locator("#sva").get_by_role("link", name="Novo").click()
    _choose_product(page, "EXA Família")
    integration2 = SvaUser._meta.get_field("integration").related_model.objects.get(prefix=prefix2)
    expect(page.get_by_label("ID integração")).to_have_value(str(integration2.pk))  # from the product
    expect(page.get_by_label("ID contrato")).to_have_value(str(contract_id))
    page.get_by_label("Sim", exact=True).check()  # Usar dados cadastro
    expect(page.get_by_label("Usuário (e-mail)", exact=True)).to_have_value(email)
    expect(page.get_by_label("Telefone", exact=True)).to_have_value("+5511987654321")
    assert not page.get_by_label("CPF/CNPJ", exact=True).is_editable()
    screenshot("fluxo-sva-novo-manual")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"#sva$"))
    converge()
    page.reload()
    manual_row = sva_row(page, "EXA Família")
    expect(manual_row.locator("[data-col=confirmed]")).to_have_text(re.compile("EXA: Ativo"))
    manual_user = SvaUser.objects.get(contract_id=contract_id, integration=integration2)
    on_sandbox = [u for u in sandbox_admin.users(prefix2) if u["external_id"] == manual_user.external_id]
    assert on_sandbox and on_sandbox[0]["email"] == email

    # Deleção do usuário: removed here and on EXA.
    manual_row.get_by_role("link", name="Excluir").click()
    page.get_by_role("button", name="Confirmar exclusão").click()
    page.wait_for_url(re.compile(r"#sva$"))
    converge()
    page.reload()
    expect(sva_row(page, "EXA Família")).to_have_count(0)
    assert not [u for u in sandbox_admin.users(prefix2) if u["external_id"] == manual_user.external_id]
    open_tab(page, "Histórico")
    expect(page.locator("#historico")).to_contain_text("Desbloqueio")
    screenshot("fluxo-historico")

    # Validação cadastral: a customer without celular.
    _new_customer(page, name=f"Sem Celular {suffix}", document=make_cpf(int(suffix, 16) + 1),
                  email=f"sem.celular.{suffix}@example.com.br", mobile="")
    contract2 = _new_contract(page, f"Sem Celular {suffix}")
    _add_sva_product(page, "EXA Segurança Básico")
    _act(page, "Ativar", expect_effect="Telefone celular no cadastro do cliente: Informe o telefone celular.")
    converge()
    page.reload()
    problem = page.locator("#sva").get_by_role("alert")
    expect(problem).to_contain_text("criação automática pendente")
    expect(problem).to_contain_text("Telefone celular no cadastro do cliente: Informe o telefone celular.")
    screenshot("fluxo-sva-cadastro-incompleto")
    _add_sva_product(page, "EXA Família")
    page.goto(f"/usuarios-sva/contrato/{contract2}/novo/")
    _choose_product(page, "EXA Família")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_role("alert").filter(has_text="incompleto para criar o usuário SVA")).to_contain_text(
        "Telefone celular no cadastro do cliente: Informe o telefone celular.")
    assert len(exa_account.users()) == 1 and sandbox_admin.users(prefix2) == []

    # Somente leitura: sees the contract, cannot act (no buttons; 403 on POST).
    page.get_by_role("button", name="Sair").click()
    make_user("consulta", "somente leitura")
    login("consulta")
    page.goto(f"/contratos/{contract_id}/#sva")
    expect(sva_row(page, "EXA Segurança Básico").locator("[data-col=confirmed]")).to_have_text(
        re.compile("EXA: Ativo"))
    expect(page.get_by_role("group", name="Ações do contrato")).to_have_count(0)
    expect(page.get_by_role("button", name="Sincronizar agora")).to_have_count(0)
    expect(page.get_by_role("link", name="Excluir")).to_have_count(0)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for url in (f"/contratos/{contract_id}/acao/block_manual/", f"/usuarios-sva/{user.pk}/sincronizar/",
                f"/usuarios-sva/{user.pk}/excluir/", f"/contratos/{contract_id}/produtos/novo/"):
        response = page.request.post(live_server.url + url, headers={"X-CSRFToken": token})
        # the role's refusal (web/templates/403.html), not Django's CSRF failure page
        assert response.status == 403 and 'data-status="403"' in response.text(), url
    user.refresh_from_db()
    assert user.deleted_at is None and exa_account.user(user.external_id)["status"] == "active"
