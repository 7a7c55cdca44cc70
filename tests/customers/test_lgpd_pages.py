"""The administrator exports and anonymises a customer from the customer's page."""

import pytest

from agrega.contracts.services import contract_activate, contract_deactivate

from tests.web.fixtures_browser import PASSWORD, SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)


def login(page, username):
    page.goto("/entrar/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_admin_exports_then_anonymises(page, make_user, make_customer, make_contract):
    make_user("dpo", "administrador")
    customer = make_customer(name="Rita Privada", email="rita.privada@example.com.br")
    contract = make_contract(customer=customer)
    contract_activate(contract=contract)
    login(page, "dpo")
    page.goto(f"/clientes/{customer.pk}/")
    with page.expect_download() as download:
        page.click("#lgpd-export")
    assert "rita.privada@example.com.br" in open(download.value.path(), encoding="utf-8").read()
    page.click("#lgpd-anonymize")
    page.click("text=Confirmar: anonimizar")
    assert "contrato ativo" in page.inner_text("#anonymize-error")
    contract_deactivate(contract=contract)
    page.fill("#id_reason", "pedido por e-mail")
    page.click("text=Confirmar: anonimizar")
    page.wait_for_selector("#anonymized-note")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "lgpd-anonymized.png"), full_page=True)
    assert "Rita Privada" not in page.content()
    assert page.locator("#lgpd-anonymize").count() == 0


def test_operator_sees_no_lgpd_actions_and_cannot_reach_them(page, make_user, make_customer):
    make_user("op", "operador")
    customer = make_customer()
    login(page, "op")
    page.goto(f"/clientes/{customer.pk}/")
    assert page.locator("#lgpd-export").count() == 0
    response = page.goto(f"/clientes/{customer.pk}/dados-pessoais/")
    assert response.status == 403
