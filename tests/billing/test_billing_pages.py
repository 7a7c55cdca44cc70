"""Financeiro pages: Títulos (filters, keyset pages, detail with baixa and cancellation),
Importar pagamentos, Faturamento, the contract's Financeiro tab with the desbloqueio de
confiança; roles. Browser tests drive Chromium against a live server, with the real
worker and the real EXA sandbox behind the SVA users."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agrega.billing.models import BillingRun, Invoice, Payment, PaymentImport
from agrega.billing.services import billing_run, payment_register
from agrega.contracts.choices import AccessStatus as AS
from agrega.dunning.models import TrustRelease
from agrega.dunning.services import dunning_sweep
from agrega.sva.models import SvaUser
from tests.billing.fixtures_billing import at, months_ago
from tests.fixtures import default_packages, default_platform_only
from tests.web.fixtures_contracts import open_tab
from playwright.sync_api import expect

sva_platform = default_platform_only()
PACKAGES = default_packages()


# -- Títulos (server-rendered, Django client) -------------------------------------------------

def test_invoice_list_filters(client_as, billed, make_customer):
    admin = client_as("administrador")
    joana = make_customer(name="Joana Filtro")
    contract, late = billed(months=3, customer=joana)
    _, other = billed(months=3)
    payment_register(invoice_id=other.pk, amount="109.90")
    billing_run(period=timezone.localdate().replace(day=1) + timedelta(days=40))  # next month: not due yet
    upcoming = Invoice.objects.get(contract=contract, period__gt=timezone.localdate())

    def shown(params):
        page = admin.get("/financeiro/titulos/", params).content.decode()
        return {i.pk for i in Invoice.objects.all() if f'href="/financeiro/titulos/{i.pk}/"' in page}

    assert shown({}) == set(Invoice.objects.values_list("pk", flat=True))
    assert shown({"status": "paid"}) == {other.pk}
    assert shown({"overdue": "sim"}) == {late.pk}
    assert late.pk not in shown({"overdue": "nao"}) and upcoming.pk in shown({"overdue": "nao"})
    assert shown({"period": f"{months_ago(3):%Y-%m}"}) == {late.pk, other.pk}
    assert shown({"q": "joana"}) == {late.pk, upcoming.pk}
    assert shown({"q": joana.document}) == {late.pk, upcoming.pk}
    assert shown({"contract_id": contract.pk}) == {late.pk, upcoming.pk}
    page = admin.get("/financeiro/titulos/", {"period": "2026-13"}).content.decode()
    assert "Competência inválida" in page
    page = admin.get("/financeiro/titulos/", {"overdue": "sim"}).content.decode()
    assert "R$ 109,90" in page and 'data-status="overdue"' in page


def test_invoice_list_keyset_pagination_without_count(client_as, active_contract):
    admin = client_as("operador")
    for _ in range(30):
        active_contract()
    billing_run(period=months_ago(1))
    ids = list(Invoice.objects.order_by("id").values_list("id", flat=True))
    with CaptureQueriesContext(connection) as queries:
        first = admin.get("/financeiro/titulos/").content.decode()
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "COUNT(" not in sql and "OFFSET" not in sql
    assert len(queries.captured_queries) <= 8
    assert f'href="/financeiro/titulos/{ids[24]}/"' in first and f'href="/financeiro/titulos/{ids[25]}/"' not in first
    second = admin.get("/financeiro/titulos/", {"cursor": ids[24]}).content.decode()
    assert f'href="/financeiro/titulos/{ids[29]}/"' in second and "Próxima página" not in second


def test_invoice_detail_shows_lines_payments_and_credit(client_as, billed, make_product):
    from agrega.contracts.services import contract_add_product

    admin = client_as("operador")
    contract, invoice = billed(months=2)
    payment_register(invoice_id=invoice.pk, amount="150,00", external_id="PIX-77", provider="banco",
                     method="webhook")
    extra = contract_add_product(contract=contract, product_id=make_product(name="Backup", price="30.00").pk)
    period = months_ago(1)
    contract.products.filter(pk=extra.pk).update(added_at=at(period.replace(day=16)))
    billing_run(period=period)
    following = Invoice.objects.get(contract=contract, period=period)

    page = admin.get(f"/financeiro/titulos/{invoice.pk}/").content.decode()
    assert "Internet 300 Mega" in page and "SCM (telecomunicações)" in page
    assert "SVA (serviço de valor adicionado)" in page
    assert "PIX-77" in page and "Webhook de pagamento" in page and "R$ 150,00" in page
    assert 'data-field="overpaid">R$ 40,10' in page and "Pago</span>" in page
    page = admin.get(f"/financeiro/titulos/{following.pk}/").content.decode()
    assert 'data-field="credit_applied">R$ 40,10' in page and "pro rata" in page
    assert f"{following.lines.get(product__name='Backup').days} de" in page
    assert admin.get("/financeiro/titulos/999999/").status_code == 404


def test_payment_form_errors_and_idempotent_id(client_as, billed):
    operator = client_as("operador")
    _, invoice = billed()
    url = f"/financeiro/titulos/{invoice.pk}/"
    bad = operator.post(url, {"amount": "abc"})
    assert bad.status_code == 422 and "Valor inválido" in bad.content.decode()
    future = operator.post(url, {"amount": "10", "paid_on": str(timezone.localdate() + timedelta(days=5))})
    assert "A data do pagamento está no futuro." in future.content.decode()
    ok = operator.post(url, {"amount": "10,00", "external_id": "REC-1"}, follow=True).content.decode()
    assert "Pagamento de R$ 10,00 registrado. Saldo: R$ 99,90." in ok
    again = operator.post(url, {"amount": "10,00", "external_id": "REC-1"}, follow=True).content.decode()
    assert "já foi aplicado" in again
    reused = operator.post(url, {"amount": "20,00", "external_id": "REC-1"}).content.decode()
    assert "não é possível reutilizá-lo" in reused
    assert Payment.objects.count() == 1


def test_cancel_needs_a_reason_and_confirmation(client_as, billed):
    operator = client_as("operador")
    _, invoice = billed()
    confirm = operator.get(f"/financeiro/titulos/{invoice.pk}/cancelar/").content.decode()
    assert "Confirmar cancelamento" in confirm and "R$ 109,90" in confirm
    assert "Informe o motivo" in operator.post(f"/financeiro/titulos/{invoice.pk}/cancelar/", {}).content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "open"
    done = operator.post(f"/financeiro/titulos/{invoice.pk}/cancelar/", {"reason": "duplicado"}, follow=True)
    assert f"Título {invoice.pk} cancelado." in done.content.decode()
    again = operator.post(f"/financeiro/titulos/{invoice.pk}/cancelar/", {"reason": "de novo"}).content.decode()
    assert "já está cancelado" in again
    paying = operator.post(f"/financeiro/titulos/{invoice.pk}/", {"amount": "10"})
    assert paying.status_code == 422 and "Título cancelado não recebe pagamento." in paying.content.decode()
    assert not Payment.objects.exists()


def test_read_only_sees_but_cannot_act(client_as, blocked):
    reader = client_as("somente leitura")
    contract, invoice = blocked()
    detail = reader.get(f"/financeiro/titulos/{invoice.pk}/").content.decode()
    assert "R$ 109,90" in detail and "Registrar pagamento" not in detail and "Cancelar título" not in detail
    tab = reader.get(f"/contratos/{contract.pk}/").content.decode()
    assert 'id="financeiro"' in tab and "Desbloqueio de confiança</a>" not in tab
    assert "Importar</button>" not in reader.get("/financeiro/pagamentos/importar/").content.decode()
    assert "Faturar</button>" not in reader.get("/financeiro/faturamento/").content.decode()
    menu = reader.get("/").content.decode()
    assert "Títulos" in menu and "Importar pagamentos" in menu and "Faturamento" in menu

    for url, data in [
        (f"/financeiro/titulos/{invoice.pk}/", {"amount": "109,90"}),
        (f"/financeiro/titulos/{invoice.pk}/cancelar/", {"reason": "x"}),
        ("/financeiro/faturamento/", {"period": f"{months_ago(1):%Y-%m}"}),
        ("/financeiro/pagamentos/importar/", {"provider": "banco"}),
        (f"/financeiro/contratos/{contract.pk}/desbloqueio-de-confianca/", {"days": "1"}),
    ]:
        assert reader.post(url, data).status_code == 403, url
    assert reader.get(f"/financeiro/contratos/{contract.pk}/desbloqueio-de-confianca/").status_code == 403
    invoice.refresh_from_db()
    contract.refresh_from_db()
    assert invoice.paid_amount == 0 and contract.access_status == AS.OVERDUE
    assert not TrustRelease.objects.exists() and BillingRun.objects.count() == 1
    assert Client().get("/financeiro/titulos/").status_code == 302  # to the login


def test_billing_run_page_enqueues_and_shows_the_progress(client_as, active_contract, run_tasks):
    operator = client_as("operador")
    active_contract()
    active_contract()
    page = operator.post("/financeiro/faturamento/", {"period": f"{months_ago(1):%Y-%m}"}, follow=True)
    run = BillingRun.objects.get()
    # the request only enqueued the run: its page says so and polls its progress
    assert page.redirect_chain == [(f"/financeiro/faturamento/{run.pk}/", 302)]
    text = page.content.decode()
    assert f"Faturamento da competência {months_ago(1):%m/%Y} na fila" in text and "Na fila" in text
    assert 'hx-trigger="every 1s"' in text and run.invoices_created == 0 and run.finished_at is None

    assert run_tasks() == 1
    partial = operator.get(f"/financeiro/faturamento/{run.pk}/?parcial=1").content.decode()
    assert "Concluído" in partial and "hx-trigger" not in partial  # the poll ends with the run
    assert "<dd class=\"col-sm-8\">2</dd>" in partial and "R$ 219,80" in partial
    listing = operator.get("/financeiro/faturamento/").content.decode()
    assert "web-operador" in listing and "R$ 219,80" in listing
    task = operator.get(f"/tarefas/{run.task_id}/").content.decode()
    assert "concluída" in task and f"Faturamento {run.pk}" in task
    bad = operator.post("/financeiro/faturamento/", {"period": "2026-00"})
    assert bad.status_code == 422 and "Competência inválida" in bad.content.decode()


def test_trust_release_page_explains_why_not(client_as, billed):
    operator = client_as("operador")
    contract, _ = billed()  # overdue but the régua has not run: access still A
    page = operator.get(f"/financeiro/contratos/{contract.pk}/desbloqueio-de-confianca/").content.decode()
    assert "Indisponível" in page and "FA ou CA" in page and "disabled" in page
    refused = operator.post(f"/financeiro/contratos/{contract.pk}/desbloqueio-de-confianca/", {"days": "1"})
    refused_text = refused.content.decode()
    assert refused.status_code == 409 and "Disponível só para contratos ativos bloqueados" in refused_text
    assert "trust_release_not_blocked" not in refused_text  # the message, not the internal code
    tab = operator.get(f"/contratos/{contract.pk}/").content.decode()
    assert "Desbloqueio de confiança indisponível" in tab


# -- browser --------------------------------------------------------------------------------

@pytest.fixture
def sva_blocked(make_platform_integration, make_product, internet, active_contract, converge, platform_account):
    """A contract with an EXA product, its SVA user created on the sandbox, then blocked
    by the régua (FA) and blocked on EXA by the worker."""

    def make():
        integration = make_platform_integration(auto_create_users=True)
        sva = make_product(integration, name="EXA Segurança", package=PACKAGES[0], price="10.00")
        contract = active_contract(products=(internet, sva))
        converge()
        user = SvaUser.objects.get(contract=contract)
        assert platform_account.user(user.external_id)["status"] == "active"
        billing_run(period=months_ago(2))
        invoice = Invoice.objects.get(contract=contract)
        dunning_sweep(today=invoice.due_date + timedelta(days=20))
        converge()
        contract.refresh_from_db()
        assert contract.access_status == AS.OVERDUE
        assert platform_account.user(user.external_id)["status"] == "blocked"
        return contract, invoice, user

    return make


def test_operator_registers_a_payment_and_sees_the_contract_released(make_user, login, page, screenshot, sva_blocked,
                                                                     converge, platform_account):
    make_user("operadora-web", "operador")
    contract, invoice, user = sva_blocked()
    login("operadora-web")

    page.get_by_role("button", name="Financeiro").click()
    page.get_by_role("link", name="Títulos").click()
    page.get_by_label("Vencidos").select_option(label="Só vencidos")
    page.get_by_role("button", name="Filtrar").click()
    row = page.get_by_role("table", name="Títulos").get_by_role("row").filter(has_text=contract.customer.name)
    assert "Vencido" in row.inner_text() and "R$ 109,90" in row.inner_text()
    screenshot("financeiro-titulos-vencidos")
    row.get_by_role("link", name=str(invoice.pk)).first.click()

    assert page.locator("#contract-access").inner_text().startswith("FA")
    page.get_by_label("Valor pago (R$)").fill("109,90")
    page.get_by_label("Id do pagamento (opcional)").fill("BALCAO-1")
    screenshot("financeiro-titulo-baixa")
    page.get_by_role("button", name="Registrar pagamento").click()
    alert = page.get_by_role("alert").filter(has_text="Pagamento de R$ 109,90 registrado")
    assert "Título quitado." in alert.inner_text()
    assert f"Contrato {contract.pk} liberado: acesso FA → A (ativo)" in alert.inner_text()
    assert page.locator("#contract-access").inner_text().startswith("A —")
    assert page.locator("[data-field=balance]").inner_text() == "R$ 0,00"
    expect(page.get_by_role("table", name="Pagamentos do título").get_by_text("BALCAO-1")).to_be_visible()
    screenshot("financeiro-titulo-pago-contrato-liberado")

    converge()
    assert platform_account.user(user.external_id)["status"] == "active"
    page.get_by_role("link", name=f"Contrato {contract.pk}").click()
    open_tab(page, "SVA")
    assert "EXA: Ativo" in page.locator("#sva").inner_text()
    open_tab(page, "Financeiro")
    assert page.locator("#financeiro [data-field=open_balance]").inner_text().startswith("R$ 0,00")
    assert page.locator("#financeiro [data-invoice]").filter(has_text="Pago").count() == 1
    open_tab(page, "Histórico")
    expect(page.locator("#historico").get_by_text("Desbloqueio por pagamento")).to_be_visible()


def test_trust_release_from_the_contract_financeiro_tab(make_user, login, page, screenshot, sva_blocked, converge,
                                                        platform_account):
    make_user("atendente-web", "operador")
    contract, invoice, user = sva_blocked()
    login("atendente-web")
    page.goto(f"/contratos/{contract.pk}/#financeiro")
    tab = page.locator("#financeiro")
    assert "R$ 109,90" in tab.locator("[data-field=open_balance]").inner_text()
    assert "Suspensão parcial" in tab.locator("[data-field=dunning_stage]").inner_text()
    assert "restam 1" in tab.locator("[data-field=trust_release]").inner_text()
    screenshot("contrato-aba-financeiro-bloqueado")
    tab.get_by_role("link", name="Desbloqueio de confiança").click()

    assert "Usos no período: 0 de 1" in page.locator("#trust-uses").inner_text()
    page.get_by_label("Dias").fill("9")
    page.get_by_role("button", name="Confirmar desbloqueio de confiança").click()
    expect(page.get_by_text("devem estar entre 1 e 3")).to_be_visible()
    page.get_by_label("Dias").fill("2")
    page.get_by_label("Observação").fill("Cliente prometeu pagar na sexta")
    screenshot("desbloqueio-de-confianca-form")
    page.get_by_role("button", name="Confirmar desbloqueio de confiança").click()
    page.wait_for_url(re.compile(r"#financeiro$"))
    expect(page.get_by_role("alert").filter(has_text="Desbloqueio de confiança concedido")).to_be_visible()
    tab = page.locator("#financeiro")
    assert "ativo até" in tab.locator("[data-field=trust_release]").inner_text()
    assert "restam 0" in tab.locator("[data-field=trust_release]").inner_text()
    assert tab.get_by_role("button", name="Desbloqueio de confiança").is_disabled()
    assert "Já há um desbloqueio de confiança ativo até" in tab.locator("#trust-why").inner_text()
    screenshot("contrato-aba-financeiro-desbloqueio-concedido")
    contract.refresh_from_db()
    assert contract.access_status == AS.ACTIVE
    release = TrustRelease.objects.get(contract=contract)
    assert release.actor_label == "atendente-web" and release.note == "Cliente prometeu pagar na sexta"
    assert (release.ends_at - release.starts_at) == timedelta(days=2)

    converge()
    assert platform_account.user(user.external_id)["status"] == "active"
    open_tab(page, "Histórico")
    expect(page.locator("#historico").get_by_text("Desbloqueio de confiança").first).to_be_visible()


def test_csv_import_page_shows_the_report(make_user, login, page, screenshot, billed, tmp_path):
    make_user("financeiro-web", "operador")
    _, good = billed()
    _, partial = billed()
    today = f"{timezone.localdate():%d/%m/%Y}"
    path = tmp_path / "retorno-banco.csv"
    path.write_bytes((
        "id_pagamento;título;valor;data_pagamento\n"
        f"PIX-100;{good.pk};109,90;{today}\n"
        f"PIX-101;{partial.pk};50,00;{today}\n"
        f"PIX-102;999999;10,00;{today}\n"
        f"PIX-103;{partial.pk};cinquenta;{today}\n"
    ).encode("latin-1"))
    login("financeiro-web")
    page.get_by_role("button", name="Financeiro").click()
    page.get_by_role("link", name="Importar pagamentos").click()
    page.get_by_label("Arquivo CSV").set_input_files(str(path))
    page.get_by_label("Origem (banco ou cobrador)").fill("banco-do-brasil")
    page.get_by_role("button", name="Importar").click()

    page.wait_for_url(re.compile(r"/financeiro/pagamentos/importacoes/\d+/$"))
    assert "2 aplicada(s), 0 já aplicada(s), 2 recusada(s)" in page.get_by_role("alert").first.inner_text()
    report = page.get_by_role("table", name="Relatório por linha")
    assert report.locator("[data-line='2']").get_attribute("data-status") == "applied"
    assert "Título 999999 não encontrado." in report.locator("[data-line='4']").inner_text()
    bad_amount = report.locator("[data-line='5']").inner_text()
    assert "cinquenta" in bad_amount and "amount_invalid" not in bad_amount  # the message, not the code
    screenshot("importar-pagamentos-relatorio")

    page.get_by_role("link", name="Voltar para Importar pagamentos").click()
    page.get_by_label("Arquivo CSV").set_input_files(str(path))
    page.get_by_label("Origem (banco ou cobrador)").fill("banco-do-brasil")
    page.get_by_role("button", name="Importar").click()
    page.wait_for_url(re.compile(r"/financeiro/pagamentos/importacoes/\d+/$"))
    assert page.locator("#count-applied").inner_text() == "0 aplicada(s)"
    assert page.locator("#count-duplicate").inner_text() == "2 já aplicada(s)"
    assert "Já aplicado" in page.get_by_role("table", name="Relatório por linha").locator("[data-line='2']").inner_text()
    page.get_by_role("link", name="Voltar para Importar pagamentos").click()
    earlier = page.get_by_role("table", name="Importações anteriores")
    expect(earlier.get_by_role("row").filter(has_text="retorno-banco.csv")).to_have_count(2)  # count() does not wait
    screenshot("importar-pagamentos-lista")
    assert PaymentImport.objects.count() == 2 and Payment.objects.count() == 2
    partial.refresh_from_db()
    assert partial.paid_amount == 50


def test_billing_run_from_the_faturamento_page(make_user, login, page, screenshot, active_contract, task_runner):
    """The request enqueues the run and lands on its progress page; the task worker bills
    and the page shows the outcome by its own polling, without a reload."""
    from playwright.sync_api import expect

    make_user("faturista-web", "operador")
    contracts = [active_contract() for _ in range(3)]
    login("faturista-web")
    page.get_by_role("button", name="Financeiro").click()
    page.get_by_role("link", name="Faturamento").click()
    page.get_by_label("Competência").fill(f"{months_ago(1):%Y-%m}")
    page.get_by_role("button", name="Faturar").click()
    page.wait_for_url(re.compile(r"/financeiro/faturamento/\d+/$"))
    page.evaluate("window.__notReloaded = true")
    expect(page.locator("[data-run-state]")).to_contain_text("Concluído", timeout=30_000)
    counts = page.locator("[data-counts]")
    expect(counts).to_contain_text("3")
    expect(counts).to_contain_text("R$ 329,70")
    assert page.evaluate("window.__notReloaded === true")  # followed by htmx, not reloaded
    screenshot("faturamento-progresso")
    page.get_by_role("link", name="Faturamentos", exact=True).click()
    runs = page.get_by_role("table", name="Faturamentos executados")
    assert "faturista-web" in runs.inner_text() and "R$ 329,70" in runs.inner_text()
    screenshot("faturamento")
    runs.get_by_role("link", name=f"{months_ago(1):%m/%Y}").click()
    assert page.get_by_role("table", name="Títulos").locator("[data-invoice]").count() == 3
    assert Invoice.objects.filter(contract__in=contracts, period=months_ago(1)).count() == 3


def test_held_payments_page_applies_one_and_refuses_another(make_user, login, page, screenshot, blocked):
    """A webhook payment far above the balance waits on Financeiro > Pagamentos retidos;
    the operator applies one (the título is paid, the contract released) and refuses the
    other (the reason is required)."""
    make_user("retidos-web", "operador")
    contract, invoice = blocked()
    kept = payment_register(invoice_id=invoice.pk, amount="10.990,00", method="webhook", provider="gateway",
                            external_id="E-HOLD-1", hold_margin=Decimal("20.00")).payment
    twin = payment_register(invoice_id=invoice.pk, amount="1.099,00", method="webhook", provider="gateway",
                            external_id="E-HOLD-2", hold_margin=Decimal("20.00")).payment
    assert kept.status == twin.status == "held"
    login("retidos-web")
    page.get_by_role("button", name="Financeiro").click()
    page.get_by_role("link", name="Pagamentos retidos").click()
    table = page.get_by_role("table", name="Pagamentos retidos")
    assert "R$ 10.990,00" in table.locator(f"[data-payment='{kept.pk}']").inner_text()
    screenshot("pagamentos-retidos")

    twin_row = table.locator(f"[data-payment='{twin.pk}']")
    twin_row.get_by_role("button", name="Recusar").click()
    assert "Informe o motivo da recusa." in page.get_by_role("alert").first.inner_text()
    table.locator(f"[data-payment='{twin.pk}']").get_by_label(f"Observação do pagamento {twin.pk}").fill("duplicado")
    table.locator(f"[data-payment='{twin.pk}']").get_by_role("button", name="Recusar").click()
    page.wait_for_url(re.compile(r"/financeiro/pagamentos/retidos/$"))
    table.locator(f"[data-payment='{kept.pk}']").get_by_role("button", name="Aplicar").click()
    page.wait_for_url(re.compile(r"/financeiro/pagamentos/retidos/$"))
    expect(page.get_by_text("Nenhum pagamento retido.")).to_be_visible()
    invoice.refresh_from_db()
    contract.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_amount == Decimal("10990.00")
    assert contract.access_status == AS.ACTIVE
    page.goto(page.url.replace("/financeiro/pagamentos/retidos/", f"/financeiro/titulos/{invoice.pk}/"))
    payments = page.get_by_role("table", name="Pagamentos do título")
    assert "Recusado pelo operador" in payments.locator(f"[data-payment='{twin.pk}']").inner_text()
