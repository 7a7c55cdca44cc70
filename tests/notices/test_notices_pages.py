"""Configurações > Integrações SVA > (integração) > Avisos ao cliente: the texts per event
with preview, a bad template refused next to its field, restoring the default, the latest
notices after a real convergence with the EXA sandbox; administrador only."""

from __future__ import annotations

from django.test import Client

from agrega.contracts import services
from agrega.notices import services as notice_services
from agrega.notices.models import NoticeTemplate
from agrega.notices.rendering import DEFAULTS
from tests.fixtures import default_platform_only
from playwright.sync_api import expect

sva_platform = default_platform_only()



def test_edit_preview_and_refuse_bad_texts(admin_page, make_platform_integration, screenshot):
    page = admin_page
    integration = make_platform_integration(auto_create_users=True)
    page.goto(f"/configuracoes/integracoes-sva/{integration.pk}/editar/")
    page.get_by_role("link", name="Avisos ao cliente").click()
    expect(page.get_by_role("heading", name=f"Avisos ao cliente — {integration.name}")).to_be_visible()
    assert page.locator("#id_created_subject").input_value() == DEFAULTS["created"][0]
    assert "Baixe o aplicativo {{ plataforma }}" in page.locator("#id_how_to_use").input_value()

    card = page.locator("[data-event=created]")
    card.get_by_role("button", name="Pré-visualizar").click()
    preview = page.locator("#preview-created [data-preview-body]")
    preview.wait_for()
    assert "Olá, Maria Souza!" in preview.inner_text() and "Baixe o aplicativo EXA" in preview.inner_text()
    screenshot("avisos-ao-cliente-previa")

    page.fill("#id_blocked_subject", "Bloqueio de {{ nome_do_cliente }}")
    page.fill("#id_released_body", "{% if cliente %}sem fim")
    page.get_by_role("button", name="Salvar").click()
    assert page.locator("[data-field-error=blocked_subject]").inner_text().startswith(
        "Variável desconhecida: {{ nome_do_cliente }}.")
    assert page.locator("[data-field-error=released_body]").inner_text() == \
        "Modelo inválido: tag {% if %} da linha 1 não foi fechada (falta {% endif %})"
    assert not NoticeTemplate.objects.exists()
    screenshot("avisos-ao-cliente-erro")

    page.locator("[data-event=blocked]").get_by_role("button", name="Restaurar padrão").click()
    page.locator("[data-event=released]").get_by_role("button", name="Restaurar padrão").click()
    assert page.locator("#id_blocked_subject").input_value() == DEFAULTS["blocked"][0]
    page.fill("#id_created_subject", "{{ cliente }}, seu {{ produto }} chegou")
    page.locator("[data-event=blocked]").get_by_label("Enviar este aviso").uncheck()
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text(f"Avisos ao cliente de “{integration.name}” salvos.")).to_be_visible()
    saved = {t.event: t for t in NoticeTemplate.objects.filter(integration=integration)}
    assert set(saved) == {"created", "blocked"}
    assert saved["created"].subject == "{{ cliente }}, seu {{ produto }} chegou" and not saved["blocked"].enabled
    assert saved["created"].updated_by_label == "admin-web"
    assert not page.locator("[data-event=blocked]").get_by_label("Enviar este aviso").is_checked()


def test_latest_notices_after_convergence(admin_page, platform_integration, make_product, make_contract, converge):
    page = admin_page
    product = make_product(platform_integration, name="EXA Avisada")
    contract = make_contract()
    services.contract_add_product(contract=contract, product_id=product.pk)
    services.contract_activate(contract=contract)
    converge()
    notice_services.enqueue_state_notices()
    notice_services.send_pending_notices()
    page.goto(f"/configuracoes/integracoes-sva/{platform_integration.pk}/avisos/")
    row = page.locator("#notices-table tr[data-notice]").first
    assert "Acesso criado" in row.inner_text() and contract.customer.email in row.inner_text()
    assert row.locator("[data-col=status]").inner_text().startswith("Enviado em")


def test_only_administrators(make_user, login, page, make_platform_integration):
    integration = make_platform_integration(auto_create_users=True)
    operator = make_user("operador-avisos", "operador")
    client = Client()
    client.force_login(operator)
    url = f"/configuracoes/integracoes-sva/{integration.pk}/avisos/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"created_subject": "x"}).status_code == 403
    assert client.post(url + "previa/created/", {}).status_code == 403
    login("operador-avisos")
    page.goto("/configuracoes/integracoes-sva/")
    assert page.get_by_role("link", name="Avisos ao cliente").count() == 0
