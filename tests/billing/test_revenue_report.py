"""The SCM/SVA revenue report, checked to the cent against figures computed by hand:
revenue from the lines of títulos not cancelled, by the class each line kept when it
was billed; each tax rounded half-up once on the class's revenue; what it would cost if
all of it were SCM, and the saving. JSON, CSV (Excel in Portuguese) and the CLI."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import partial

import pytest
from django.contrib.auth import get_user_model

from agrega.billing.models import Invoice, InvoiceLine
from agrega.billing.reports import report_range, revenue_report, revenue_report_csv
from agrega.billing.services import billing_run, invoice_cancel, payment_register
from agrega.billing.taxes.services import tax_rates_replace
from agrega.catalog.services import product_update
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate, contract_add_product, contract_create
from agrega.core.br import make_cpf
from agrega.core.errors import ApplicationError
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from agrega.customers.services import customer_create
from tests.fixtures_api import ApiClient, error
from tests.cli.helpers import run as run_command
from tests.billing.fixtures_billing import at

pytestmark = pytest.mark.django_db

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
D = Decimal


@pytest.fixture
def contract_with(make_contract):
    """An active contract holding ``products`` since ``since`` (a whole month from then)."""

    def make(products, *, since: date = date(2026, 8, 1)):
        contract = make_contract(billing_day=10)
        for product in products:
            contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        Contract.objects.filter(pk=contract.pk).update(activated_at=at(since))
        contract.products.update(added_at=at(since))
        return contract

    return make


@pytest.fixture
def rates():
    tax_rates_replace(rates={
        "SCM": [{"tax": "ICMS", "rate": "25"}, {"tax": "FUST", "rate": "1"}, {"tax": "PIS", "rate": "0,65"},
                {"tax": "COFINS", "rate": "3"}],
        "SVA": [{"tax": "ISS", "rate": "5"}, {"tax": "PIS", "rate": "0,65"}, {"tax": "COFINS", "rate": "3"}],
    })


@pytest.fixture
def november(rates, make_product, contract_with):
    """Contract A: SCM 99,90 + SVA 19,90 + OUTRO 10,00 since August, paid October with
    20,20 too much (credit used by November). Contract B: three SVA of 33,33 from
    November. Contract C: SCM 99,90 from November, its título cancelled."""
    internet = make_product(name="Internet 300 Mega", price="99.90", fiscal_class="SCM")
    security = make_product(name="EXA Segurança", price="19.90", fiscal_class="SVA")
    install = make_product(name="Instalação 12x", price="10.00", fiscal_class="OUTRO")
    sva = [make_product(name=f"SVA {n}", price="33.33", fiscal_class="SVA") for n in (1, 2, 3)]
    a = contract_with([internet, security, install])
    billing_run(period=OCT)
    payment_register(invoice_id=Invoice.objects.get(contract=a, period=OCT).pk, amount="150,00")
    b = contract_with(sva, since=NOV)
    c = contract_with([internet], since=NOV)
    billing_run(period=NOV)
    invoice_cancel(invoice_id=Invoice.objects.get(contract=c, period=NOV).pk, reason="teste")
    nov_a = Invoice.objects.get(contract=a, period=NOV)
    assert (nov_a.credit_applied, nov_a.amount) == (D("20.20"), D("109.60"))  # credit really used
    assert Invoice.objects.get(contract=b, period=NOV).amount == D("99.99")
    return a, b, c


def taxes_of(row) -> dict[str, Decimal]:
    return {t.tax: t.amount for t in row.taxes}


def test_november_to_the_cent(november):
    report = revenue_report(period_from=NOV)
    scm, sva, other = report.classes
    assert [c.fiscal_class for c in report.classes] == ["SCM", "SVA", "OUTRO"]
    assert report.invoices == 2  # C's título is cancelled
    # SCM 99,90 (A only): ICMS 24,975→24,98; FUST 0,999→1,00; PIS 0,64935→0,65; COFINS 2,997→3,00
    assert scm.revenue == D("99.90") and scm.lines == 1
    assert taxes_of(scm) == {"ICMS": D("24.98"), "FUST": D("1.00"), "PIS": D("0.65"), "COFINS": D("3.00")}
    assert scm.tax_total == D("29.63") and scm.rate_total == D("29.65") and scm.net == D("70.27")
    # SVA 19,90 + 3 × 33,33 = 119,89 — the credit of 20,20 does not reduce it
    # ISS 5,9945→5,99; PIS 0,779285→0,78; COFINS 3,5967→3,60
    assert sva.revenue == D("119.89") and sva.lines == 4
    assert taxes_of(sva) == {"ISS": D("5.99"), "PIS": D("0.78"), "COFINS": D("3.60")}
    assert sva.tax_total == D("10.37")
    assert other.revenue == D("10.00") and other.taxes == [] and other.tax_total == D("0.00")
    assert report.revenue_total == D("229.79") and report.tax_total == D("40.00")
    assert (scm.share, sva.share, other.share) == (D("43.47"), D("52.17"), D("4.35"))
    # all SCM: 229,79 × 25% = 57,4475→57,45; ×1% = 2,2979→2,30; ×0,65% = 1,493635→1,49; ×3% = 6,8937→6,89
    assert {t.tax: t.amount for t in report.all_scm_taxes} == {
        "ICMS": D("57.45"), "FUST": D("2.30"), "PIS": D("1.49"), "COFINS": D("6.89")}
    assert report.all_scm_tax_total == D("68.13") and report.saving == D("28.13")


def test_three_lines_of_33_33_with_iss_5_is_rounded_once_on_the_total(make_product, contract_with):
    tax_rates_replace(rates={"SVA": [{"tax": "ISS", "rate": "5"}], "SCM": [{"tax": "ICMS", "rate": "25"}]})
    contract_with([make_product(price="33.33", fiscal_class="SVA") for _ in range(3)])
    billing_run(period=NOV)
    report = revenue_report(period_from=NOV)
    sva = report.classes[1]
    # 99,99 × 5% = 4,9995 → 5,00 (line by line would be 3 × 1,67 = 5,01)
    assert sva.revenue == D("99.99") and taxes_of(sva) == {"ISS": D("5.00")}
    # all SCM: 99,99 × 25% = 24,9975 → 25,00
    assert report.all_scm_tax_total == D("25.00") and report.saving == D("20.00")


def test_a_reclassified_product_keeps_its_old_class_on_earlier_invoices(rates, make_product, contract_with):
    app = make_product(name="Aplicativo", price="50.00", fiscal_class="SCM")
    contract_with([app])
    billing_run(period=OCT)
    product_update(product=app, fiscal_class="SVA")
    billing_run(period=NOV)
    october, november = revenue_report(period_from=OCT), revenue_report(period_from=NOV)
    assert [(c.fiscal_class, c.revenue) for c in october.classes] == [
        ("SCM", D("50.00")), ("SVA", D("0.00")), ("OUTRO", D("0.00"))]
    assert taxes_of(october.classes[0])["ICMS"] == D("12.50")
    assert [(c.fiscal_class, c.revenue) for c in november.classes] == [
        ("SCM", D("0.00")), ("SVA", D("50.00")), ("OUTRO", D("0.00"))]
    # SVA 50,00: ISS 2,50 + PIS 0,325→0,33 + COFINS 1,50 = 4,33; all SCM 29,65% of 50: 12,50+0,50+0,33+1,50 = 14,83
    assert november.tax_total == D("4.33") and november.all_scm_tax_total == D("14.83")
    assert november.saving == D("10.50")
    both = revenue_report(period_from=OCT, period_to=NOV)
    assert [(p.period, p.by_class["SCM"], p.by_class["SVA"], p.total) for p in both.by_period] == [
        (OCT, D("50.00"), D("0.00"), D("50.00")), (NOV, D("0.00"), D("50.00"), D("50.00"))]
    assert both.revenue_total == D("100.00") and both.invoices == 2


def test_a_period_without_invoices_is_all_zero(rates):
    report = revenue_report(period_from=date(2020, 1, 1))
    assert report.revenue_total == report.tax_total == report.saving == D("0.00")
    assert [c.share for c in report.classes] == [D("0.00")] * 3 and report.by_period == []


@pytest.mark.parametrize("kw,code", [
    ({}, "period_required"),
    ({"period": "2026-13"}, "validation_failed"),
    ({"period": "2026-11", "period_from": "2026-10"}, "period_ambiguous"),
    ({"period_from": "2026-11", "period_to": "2026-10"}, "period_range_invalid"),
    ({"period_from": "2020-01", "period_to": "2025-02"}, "period_range_too_long"),
])
def test_range_is_checked(kw, code):
    with pytest.raises(ApplicationError) as caught:
        report_range(**kw)
    assert caught.value.code == code


def test_range_accepts_one_month_or_from_to():
    assert report_range(period="2026-11") == (NOV, NOV)
    assert report_range(period_from="2026-10") == (OCT, OCT)
    assert report_range(period_from="2021-12", period_to="2026-11") == (date(2021, 12, 1), NOV)


def test_csv_is_excel_in_portuguese(november):
    text = revenue_report_csv(revenue_report(period_from=NOV))
    assert text.startswith("\ufeff")
    rows = [line.split(";") for line in text[1:].split("\r\n")]
    assert rows[0] == ["Receita por classe fiscal (SCM/SVA)", "Competência 11/2026", "Títulos 2"]
    assert rows[2] == ["Classe fiscal", "Receita (R$)", "Participação (%)", "COFINS (R$)", "FUST (R$)", "ICMS (R$)",
                       "ISS (R$)", "PIS (R$)", "Tributos estimados (R$)", "Alíquota somada (%)",
                       "Receita líquida (R$)"]
    assert rows[3] == ["SCM", "99,90", "43,47", "3,00", "1,00", "24,98", "", "0,65", "29,63", "29,65", "70,27"]
    assert rows[4] == ["SVA", "119,89", "52,17", "3,60", "", "", "5,99", "0,78", "10,37", "8,65", "109,52"]
    assert rows[5] == ["OUTRO", "10,00", "4,35", "", "", "", "", "", "0,00", "0", "10,00"]
    assert rows[6] == ["Total", "229,79", "100,00", "6,60", "1,00", "24,98", "5,99", "1,43", "40,00", "", "189,79"]
    assert ["Total se tudo fosse SCM", "229,79", "", "", "68,13"] in rows
    assert ["Economia estimada", "", "", "", "28,13"] in rows
    assert ["11/2026", "99,90", "119,89", "10,00", "229,79"] in rows


# -- API and CLI -------------------------------------------------------------------------

@pytest.fixture
def reader(db):
    user = get_user_model().objects.create_user("leitora", password="x-senha-123")
    assign_role(user, "somente leitura")
    return ApiClient(ApiToken.issue(user=user, name="t")[1])


def test_api_json_and_csv(november, reader):
    body = reader.get("/reports/revenue", {"period": "2026-11"}).json()
    assert body["from"] == body["to"] == "2026-11" and body["invoices"] == 2
    assert [(c["fiscal_class"], c["revenue"], c["tax_total"]) for c in body["classes"]] == [
        ("SCM", "99.90", "29.63"), ("SVA", "119.89", "10.37"), ("OUTRO", "10.00", "0.00")]
    assert body["classes"][1]["taxes"] == [{"tax": "COFINS", "rate": "3", "amount": "3.60"},
                                           {"tax": "ISS", "rate": "5", "amount": "5.99"},
                                           {"tax": "PIS", "rate": "0.65", "amount": "0.78"}]
    assert (body["revenue_total"], body["tax_total"], body["if_all_scm"]["tax_total"], body["saving"]) == (
        "229.79", "40.00", "68.13", "28.13")
    ranged = reader.get("/reports/revenue", {"from": "2026-10", "to": "2026-11"}).json()
    assert [p["period"] for p in ranged["by_period"]] == ["2026-10", "2026-11"]
    assert ranged["revenue_total"] == "359.59"  # October: A's 129,80
    response = reader.get("/reports/revenue.csv", {"period": "2026-11"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="receita-scm-sva-2026-11.csv"' in response["Content-Disposition"]
    assert response.content.startswith("\ufeff".encode())
    assert "SCM;99,90;43,47;3,00;1,00;24,98;" in response.content.decode()


def test_api_refuses_a_bad_period(reader):
    assert error(reader.get("/reports/revenue", {"period": "11/2026"}), 422)["fields"]["period"][0]["code"] == \
        "period_invalid"
    assert error(reader.get("/reports/revenue"), 400)["code"] == "period_required"
    assert error(reader.get("/reports/revenue.csv", {"from": "2026-11", "to": "2026-01"}), 400)["code"] == \
        "period_range_invalid"
    assert ApiClient(None).get("/reports/revenue", {"period": "2026-11"}).status_code == 401


command = partial(run_command, "report")  # (code, out, err), tests/cli/helpers.py


def test_cli_report_text_json_and_csv_file(november, tmp_path):
    code, out, _ = command("revenue", "--period", "2026-11")
    assert code == 0
    assert "Receita SCM/SVA — competência 11/2026 (2 título(s) não cancelado(s))" in out
    assert "R$ 229,79" in out and "Se toda a receita fosse SCM: R$ 68,13" in out
    assert "Economia estimada: R$ 28,13" in out
    scm_line = next(line for line in out.splitlines() if line.startswith("SCM "))
    assert "R$ 99,90" in scm_line and "R$ 24,98 (25%)" in scm_line and "R$ 0,65 (0,65%)" in scm_line
    assert scm_line.rstrip().endswith("R$ 29,63")
    code, out, _ = command("revenue", "--from", "2026-10", "--to", "2026-11", "--json")
    assert json.loads(out)["revenue_total"] == "359.59"
    target = tmp_path / "receita.csv"
    code, out, _ = command("revenue", "--period", "2026-11", "--csv", target)
    assert code == 0 and f"CSV gravado em {target}." in out
    assert target.read_bytes() == revenue_report_csv(revenue_report(period_from=NOV)).encode("utf-8")


def test_cli_report_refuses_a_bad_range():
    code, _, err = command("revenue", "--from", "2026-11", "--to", "2026-01")
    assert code == 2 and "erro [period_range_invalid]" in err
    code, _, err = command("revenue")
    assert code == 2 and "erro [period_required]" in err


def test_many_lines_sum_to_the_exact_cent(rates):
    """Thousands of lines of 33,33 and 0,01: the sum is exact to the cent on SQLite too."""
    invoice_fields = {"period": NOV, "issued_on": NOV, "due_date": date(2026, 11, 10), "amount": D("0")}
    customer = customer_create(name="Grande", document=make_cpf(777001), email="grande@example.com.br",
                               mobile_phone="(11) 97777-0001")
    contract = contract_create(customer_id=customer.pk)
    invoice = Invoice.objects.create(contract=contract, customer=customer, **invoice_fields)
    InvoiceLine.objects.bulk_create(
        [InvoiceLine(invoice=invoice, description="x", fiscal_class="SVA", unit_price=D("33.33"), days=30,
                     days_in_period=30, amount=D("33.33")) for _ in range(7000)]
        + [InvoiceLine(invoice=invoice, description="y", fiscal_class="SVA", unit_price=D("0.01"), days=30,
                       days_in_period=30, amount=D("0.01")) for _ in range(3001)]
    )
    sva = revenue_report(period_from=NOV).classes[1]
    # 7000 × 33,33 = 233.310,00; 3001 × 0,01 = 30,01
    assert sva.revenue == D("233340.01") and sva.lines == 10001
    # ISS 5%: 11.667,0005 → 11.667,00; PIS 0,65%: 1.516,710065 → 1.516,71; COFINS 3%: 7.000,2003 → 7.000,20
    assert taxes_of(sva) == {"ISS": D("11667.00"), "PIS": D("1516.71"), "COFINS": D("7000.20")}
