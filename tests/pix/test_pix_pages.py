"""Configurações > Cobrança e tributos > Contas PIX and the título's PIX, in a real browser
against the PSP sandbox: an administrator registers the account, tests the connection,
registers the webhook and charges the open títulos; the contract's Financeiro tab shows the
copia-e-cola and its QR code; the payer pays and the título page shows the Pix, which an
operator refunds from there. Operators never see the accounts page."""

from __future__ import annotations

import re

from playwright.sync_api import expect


LIST = "/configuracoes/contas-pix/"


def test_admin_sets_up_the_psp_and_the_titulo_shows_and_refunds_its_pix(
        make_user, login, page, screenshot, psp, billed, fast_pix, live_server):
    from agrega.billing.models import Payment
    from agrega.pix.models import PixAccount, PixCharge
    from agrega.pix import inbox

    contract, invoice = billed()
    make_user("ana", "administrador")
    login("ana")
    page.get_by_role("button", name=re.compile("Configurações")).click()
    page.get_by_role("link", name="Contas PIX").click()
    expect(page).to_have_url(re.compile(LIST + "$"))
    page.get_by_role("link", name="Novo").click()
    page.fill("#id_name", "Banco sandbox")
    page.fill("#id_base_url", psp.url)
    page.fill("#id_token_url", psp.token_url)
    page.fill("#id_client_id", psp.client_id)
    page.fill("#id_client_secret", psp.client_secret)
    page.fill("#id_chave", psp.chave)
    page.fill("#id_validade_apos_vencimento", "365")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Conta PIX “Banco sandbox” cadastrada.")).to_be_visible()
    row = page.locator("tr[data-account]")
    row.get_by_role("button", name="Testar conexão").click()
    expect(page.get_by_text("Conexão OK")).to_be_visible()
    page.locator("tr[data-account]").get_by_role("button", name="Registrar webhook").click()
    expect(page.get_by_text("Webhook registrado no PSP")).to_be_visible()
    page.locator("tr[data-account]").get_by_role("button", name="Cobrar títulos em aberto").click()
    expect(page.get_by_text("1 título(s) em aberto enviados para cobrança PIX.")).to_be_visible()
    assert psp.client_secret not in page.content()
    account = PixAccount.objects.get()
    assert account.webhook_url.startswith(live_server.url)
    screenshot("pix-accounts")

    charge = PixCharge.objects.get(invoice=invoice)
    page.goto(f"/contratos/{contract.pk}/")
    page.get_by_role("tab", name="Financeiro").click()
    row = page.locator(f"tr[data-invoice='{invoice.pk}']")
    row.locator("summary").click()
    expect(row.locator("textarea[data-field=pix_copia_e_cola]")).to_have_value(charge.pix_copia_e_cola)
    expect(row.locator(".pix-qr svg")).to_be_visible()
    screenshot("pix-contract-financeiro")

    psp.pay(charge.txid)
    psp.wait_webhooks()
    inbox.drain()  # the inbox consumer's work (agrega worker): confirm the recorded Pix, baixa
    page.goto(f"/financeiro/titulos/{invoice.pk}/")
    payment = Payment.objects.get(invoice=invoice)
    prow = page.locator(f"tr[data-payment='{payment.pk}']")
    expect(prow).to_contain_text(payment.external_id)
    prow.get_by_label("Valor a devolver").fill("109,90")
    prow.get_by_role("button", name="Devolver Pix").click()
    expect(page.get_by_text(re.compile(r"Devolução agregadev\d+: Devolvida"))).to_be_visible()
    invoice.refresh_from_db()
    assert invoice.status == "open" and invoice.paid_amount == 0


def test_operators_do_not_reach_the_accounts_page(make_user, login, page):
    make_user("op", "operador")
    login("op")
    response = page.goto(LIST)
    assert response.status == 403

