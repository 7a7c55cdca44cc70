"""Consent in the browser: the integration's "Exige consentimento do cliente", the
Consentimentos section of the contract's SVA tab (record, revoke), the user held until
consent against the real EXA sandbox, and Relatórios > SVA sem consentimento with its CSV."""

from __future__ import annotations

import re

from django.test import Client

from agrega.consent.models import ConsentRecord
from agrega.consent.services import consent_record
from agrega.contracts import services
from agrega.integrations.models import SvaIntegration
from agrega.sva.models import SvaUser
from tests.fixtures import default_packages, default_platform_only
from tests.web.fixtures_contracts import open_tab, sva_row
from playwright.sync_api import expect

sva_platform = default_platform_only()
PACKAGES = default_packages()


def _active(make_contract, product, **kw):
    contract = make_contract(**kw)
    services.contract_add_product(contract=contract, product_id=product.pk)
    services.contract_activate(contract=contract)
    return contract


def test_integration_form_sets_requires_consent(admin_page, make_platform_integration):
    page = admin_page
    integration = make_platform_integration(auto_create_users=True)
    page.goto(f"/configuracoes/integracoes-sva/{integration.pk}/editar/")
    box = page.get_by_label("Exige consentimento do cliente")
    assert not box.is_checked()
    box.check()
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text(f"Integração “{integration.name}” salva.")).to_be_visible()
    assert SvaIntegration.objects.get(pk=integration.pk).requires_consent is True
    page.goto(f"/configuracoes/integracoes-sva/{integration.pk}/editar/")
    assert page.get_by_label("Exige consentimento do cliente").is_checked()


def test_user_waits_for_consent_recorded_on_the_sva_tab(admin_page, make_platform_integration, make_product,
                                                        make_contract, converge, platform_account, screenshot):
    page = admin_page
    integration = make_platform_integration(auto_create_users=True, requires_consent=True)
    product = make_product(integration, name="EXA Segurança Consentida")
    contract = _active(make_contract, product)
    converge()

    page.goto(f"/contratos/{contract.pk}/#sva")
    row = sva_row(page, "EXA Segurança Consentida")
    assert row.locator("[data-col=confirmed]").inner_text().strip() == "EXA: Inexistente"
    assert page.locator("#sva").get_by_text("Consentimento do cliente não registrado para este SVA "
                                            "(a integração exige).").first.is_visible()
    section = page.locator("#consentimentos")
    consent_row = section.locator(f"tr[data-consent-product='{product.pk}']")
    assert "Sem consentimento" in consent_row.inner_text() and "aguarda o registro" in consent_row.inner_text()
    screenshot("consentimento-pendente")

    consent_row.get_by_role("link", name="Registrar").click()
    assert page.get_by_label("Produto SVA").input_value() == str(product.pk)
    page.get_by_role("button", name="Salvar").click()  # no channel, no evidence
    expect(page.get_by_text("Informe a referência da evidência")).to_be_visible()
    expect(page.get_by_text("Canal inválido")).to_be_visible()
    page.get_by_label("Canal").select_option("telefone")
    page.get_by_label("Referência da evidência").fill("Protocolo 2025-123")
    screenshot("consentimento-registrar")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(r"#sva$"))
    expect(page.get_by_text("Consentimento registrado para EXA Segurança Consentida")).to_be_visible()
    consent_row = page.locator(f"#consentimentos tr[data-consent-product='{product.pk}']")
    assert "Consentido" in consent_row.inner_text() and "Protocolo 2025-123" in consent_row.inner_text()
    record = ConsentRecord.objects.get()
    assert record.actor_label == "admin-web" and record.channel == "telefone"

    converge()
    page.reload()
    assert sva_row(page, "EXA Segurança Consentida").locator("[data-col=confirmed]").inner_text().strip() == \
        "EXA: Ativo"
    assert platform_account.user(SvaUser.objects.get(contract=contract).external_id)["status"] == "active"


def test_revoke_and_the_report_with_csv(admin_page, make_platform_integration, make_product, make_contract, screenshot):
    page = admin_page
    product = make_product(make_platform_integration(auto_create_users=False), name="EXA Backup Relatório", price="12.50",
                           package=PACKAGES[2])
    contract = _active(make_contract, product)
    consented = _active(make_contract, product)
    record = consent_record(contract_id=consented.pk, product_id=product.pk, channel="site", evidence_ref="ip")

    page.get_by_role("button", name=re.compile("Relatórios")).click()
    page.get_by_role("link", name="SVA sem consentimento", exact=True).click()
    page.wait_for_url("**/consentimentos/relatorio-sva-sem-consentimento/")
    table = page.locator("#without-consent")
    expect(table.locator("tr[data-contract]")).to_have_count(1)  # evaluate_all does not wait for the page
    assert [int(x) for x in table.locator("tr[data-contract]").evaluate_all(
        "rows => rows.map(r => r.dataset.contract)")] == [contract.pk]
    assert "R$ 12,50" in table.inner_text() and "EXA Backup Relatório" in table.inner_text()
    screenshot("relatorio-sva-sem-consentimento")
    with page.expect_download() as download:
        page.get_by_role("link", name="Baixar CSV").click()
    csv_text = open(download.value.path(), encoding="utf-8-sig").read()
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("Contrato;Cliente;CPF/CNPJ;Produto") and len(lines) == 2
    assert lines[1].startswith(f"{contract.pk};{contract.customer.name};") and ";12,50;" in lines[1]

    page.goto(f"/contratos/{consented.pk}/#sva")
    page.locator(f"#consentimentos tr[data-consent-product='{product.pk}']").get_by_role("link", name="Revogar").click()
    expect(page.get_by_text("não é removido")).to_be_visible()
    page.get_by_label("Motivo (opcional)").fill("cliente ligou pedindo")
    page.get_by_role("button", name="Confirmar: revogar").click()
    page.wait_for_url(re.compile(r"#sva$"))
    record.refresh_from_db()
    assert record.revoked_at and record.revoke_reason == "cliente ligou pedindo" and record.revoked_by_label == "admin-web"
    page.locator("#consentimentos summary").click()
    assert "Revogado em" in page.get_by_role("table", name="Registros de consentimento").inner_text()
    open_tab(page, "Histórico")  # the contract's Histórico shows the revocation, with who and why
    row = page.locator("#historico tr").filter(has_text="Consentimento revogado").first
    assert "admin-web" in row.inner_text() and "Motivo: cliente ligou pedindo" in row.inner_text()
    assert "EXA Backup Relatório" in row.inner_text()
    recorded = page.locator("#historico tr").filter(has_text="Consentimento registrado").first
    assert "canal: Site / área do cliente" in recorded.inner_text() and "evidência: ip" in recorded.inner_text()
    page.goto("/consentimentos/relatorio-sva-sem-consentimento/")
    rows = page.locator("#without-consent tr[data-contract]")
    assert rows.count() == 2 and "consentimento revogado" in rows.nth(1).inner_text()


def test_read_only_sees_consents_but_cannot_act(make_user, login, page, make_platform_integration, make_product,
                                                make_contract):
    product = make_product(make_platform_integration(auto_create_users=False), name="EXA Leitura")
    contract = _active(make_contract, product)
    record = consent_record(contract_id=contract.pk, product_id=product.pk, channel="site", evidence_ref="x")
    reader = make_user("leitor-consent", "somente leitura")
    login("leitor-consent")
    page.goto(f"/contratos/{contract.pk}/#sva")
    assert "Consentido" in page.locator("#consentimentos").inner_text()
    for name in ("Registrar", "Revogar", "Registrar consentimento"):
        assert page.locator("#consentimentos").get_by_role("link", name=name).count() == 0
    page.goto("/consentimentos/relatorio-sva-sem-consentimento/")
    expect(page.get_by_role("heading", name="SVA cobrado sem consentimento")).to_be_visible()
    client = Client()
    client.force_login(reader)
    assert client.get(f"/consentimentos/contrato/{contract.pk}/novo/").status_code == 403
    assert client.post(f"/consentimentos/{record.pk}/revogar/").status_code == 403
    record.refresh_from_db()
    assert record.revoked_at is None
