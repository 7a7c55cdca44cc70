"""Configurações > Tributos (SCM/SVA) and Financeiro > Receita SCM/SVA in a real browser:
an administrator edits the rates (with a 120 % refused next to its field), the report's
table matches the figures computed by hand, and the CSV downloaded is Excel-ready."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

RATES = "/configuracoes/tributos/"
REPORT = "/financeiro/receita/"


def _post(page, url: str, form: dict | None = None):
    """A POST with the session and a valid CSRF token, so a 403 can only be the role's."""
    page.goto("/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(url, form=form or {}, headers={"X-CSRFToken": token}, max_redirects=0)


def _rates():
    from agrega.billing.models import TaxRate

    return {(r.fiscal_class, r.tax): r.rate for r in TaxRate.objects.all()}


def test_admin_edits_the_rates_of_a_class(make_user, login, page, screenshot):
    from agrega.billing.taxes.services import tax_rates_replace

    tax_rates_replace(rates={"SVA": [{"tax": "ISS", "rate": "5"}, {"tax": "CSLL", "rate": "1"}]})
    make_user("ana", "administrador")
    login("ana")
    page.get_by_role("button", name=re.compile("Configurações")).click()
    page.get_by_role("link", name="Tributos (SCM/SVA)").click()
    expect(page).to_have_url(re.compile(RATES + "$"))
    expect(page.locator("[data-fiscal-class=SVA]")).to_contain_text("ISS")
    expect(page.locator("[data-fiscal-class=SVA] [data-total-rate]")).to_have_text("6%")
    expect(page.locator("[data-fiscal-class=SCM]")).to_contain_text("Nenhum tributo cadastrado.")

    page.get_by_role("link", name="Editar SCM").click()
    expect(page.get_by_role("heading", name=re.compile("Tributos de SCM"))).to_be_visible()
    page.fill("#id_form-0-tax", "ICMS")
    page.fill("#id_form-0-rate", "120")
    page.get_by_role("button", name="Adicionar tributo").click()  # a second row; what was typed stays
    expect(page.locator("#id_form-0-rate")).to_have_value("120")
    page.fill("#id_form-1-tax", "pis")
    page.fill("#id_form-1-rate", "0,65")
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator("[data-field-error=rate]")).to_contain_text("entre 0% e 100%")
    screenshot("tributos-erro-120")
    assert _rates() == {("SVA", "ISS"): Decimal("5.000"), ("SVA", "CSLL"): Decimal("1.000")}

    page.fill("#id_form-0-rate", "25")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Alíquotas de SCM salvas.")).to_be_visible()
    expect(page.locator("[data-fiscal-class=SCM] [data-total-rate]")).to_have_text("25,65%")

    # remove CSLL from SVA
    page.get_by_role("link", name="Editar SVA").click()
    row = page.locator("tr", has=page.locator("input[value=CSLL]"))
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Alíquotas de SVA salvas.")).to_be_visible()
    screenshot("tributos")
    assert _rates() == {("SCM", "ICMS"): Decimal("25.000"), ("SCM", "PIS"): Decimal("0.650"),
                        ("SVA", "ISS"): Decimal("5.000")}


@pytest.mark.parametrize("role", ["operador", "somente leitura"])
def test_others_see_the_rates_but_cannot_change_them(make_user, login, page, role):
    from agrega.billing.taxes.services import tax_rates_replace

    tax_rates_replace(rates={"SVA": [{"tax": "ISS", "rate": "5"}]})
    make_user("bia", role)
    login("bia")
    page.goto(RATES)
    expect(page.locator("[data-fiscal-class=SVA]")).to_contain_text("ISS")
    expect(page.get_by_role("link", name=re.compile("Editar"))).to_have_count(0)
    assert page.goto(f"{RATES}SVA/editar/").status == 403
    response = _post(page, f"{RATES}SVA/editar/", {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "0",
                                                   "form-0-tax": "ISS", "form-0-rate": "1"})
    assert response.status == 403
    assert _rates() == {("SVA", "ISS"): Decimal("5.000")}


def _bill_november(make_contract, make_product):
    """SCM 99,90 + SVA 3 × 33,33 on one contract, billed for November 2026."""
    from agrega.billing.services import billing_run
    from agrega.contracts.models import Contract
    from agrega.contracts.services import contract_activate, contract_add_product

    contract = make_contract(billing_day=10)
    products = [make_product(name="Internet", price="99.90", fiscal_class="SCM")]
    products += [make_product(name=f"SVA {n}", price="33.33", fiscal_class="SVA") for n in (1, 2, 3)]
    for product in products:
        contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    since = timezone.make_aware(datetime(2026, 8, 1, 12))
    Contract.objects.filter(pk=contract.pk).update(activated_at=since)
    contract.products.update(added_at=since)
    billing_run(period=date(2026, 11, 1))


def test_revenue_report_page_and_csv_download(make_user, login, page, screenshot, make_contract, make_product):
    from agrega.billing.taxes.services import tax_rates_replace

    tax_rates_replace(rates={"SCM": [{"tax": "ICMS", "rate": "25"}], "SVA": [{"tax": "ISS", "rate": "5"}]})
    _bill_november(make_contract, make_product)
    make_user("caio", "somente leitura")
    login("caio")
    page.get_by_role("button", name=re.compile("Financeiro")).click()
    page.get_by_role("link", name="Receita SCM/SVA").click()
    expect(page).to_have_url(re.compile(REPORT + "$"))
    # opens on the latest competência billed
    expect(page.locator("#id_from")).to_have_value("2026-11")
    table = page.locator("#revenue-table")
    # SCM 99,90 × 25% = 24,975 → 24,98; SVA 99,99 × 5% = 4,9995 → 5,00
    expect(table.locator("tr[data-class=SCM] [data-revenue]")).to_have_text("R$ 99,90")
    expect(table.locator("tr[data-class=SCM] [data-tax-total]")).to_have_text("R$ 24,98")
    expect(table.locator("tr[data-class=SVA] [data-revenue]")).to_have_text("R$ 99,99")
    expect(table.locator("tr[data-class=SVA] [data-tax-total]")).to_have_text("R$ 5,00")
    expect(table.locator("tr[data-class=total] [data-revenue]")).to_have_text("R$ 199,89")
    expect(table.locator("tr[data-class=total] [data-tax-total]")).to_have_text("R$ 29,98")
    # all SCM: 199,89 × 25% = 49,9725 → 49,97; saving 49,97 − 29,98 = 19,99
    expect(page.locator("#all-scm-total")).to_have_text("R$ 49,97")
    expect(page.locator("#saving")).to_have_text("R$ 19,99")
    screenshot("receita-scm-sva")

    with page.expect_download() as info:
        page.get_by_role("link", name="Baixar CSV").click()
    download = info.value
    assert download.suggested_filename == "receita-scm-sva-2026-11.csv"
    raw = download.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = [line.split(";") for line in raw.decode("utf-8-sig").split("\r\n")]
    assert rows[2][:5] == ["Classe fiscal", "Receita (R$)", "Participação (%)", "ICMS (R$)", "ISS (R$)"]
    assert rows[3][:6] == ["SCM", "99,90", "49,98", "24,98", "", "24,98"]
    assert rows[4][:6] == ["SVA", "99,99", "50,02", "", "5,00", "5,00"]
    assert ["Economia estimada", "", "", "", "19,99"] in rows

    # a range, and a range the wrong way round
    page.fill("#id_from", "2026-10")
    page.get_by_role("button", name="Gerar").click()
    expect(page.get_by_text("Competência 10/2026 a 11/2026")).to_be_visible()
    expect(page.locator("#revenue-table tr[data-class=total] [data-revenue]")).to_have_text("R$ 199,89")
    page.goto(REPORT + "?from=2026-11&to=2026-01")
    expect(page.locator("[data-error=period_range_invalid]")).to_contain_text("anterior à inicial")
    expect(page.locator("#csv-download")).to_have_count(0)
