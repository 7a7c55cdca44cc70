"""Financeiro > Receita SCM/SVA: the months are RevenueReportFilterSet's
(billing/filtersets.py), so the page, its CSV, the API and the CLI report the same
títulos and figures for the same months, and refuse alike (a month that does not parse:
said next to its field, 422; a range the wrong way round: ``period_range_invalid``)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agrega.billing.filtersets import RevenueReportFilterSet
from agrega.billing.models import Invoice
from agrega.billing.services import billing_run, invoice_cancel
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate, contract_add_product
from agrega.core.roles import assign_role
from tests.billing.fixtures_billing import at
from tests.cli.helpers import run

pytestmark = pytest.mark.django_db

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


@pytest.fixture
def billed(make_product, make_contract):
    """Two contracts billed in October and November (SCM and SVA); one November título cancelled."""
    internet = make_product(name="Internet 300 Mega", price="99.90", fiscal_class="SCM")
    security = make_product(name="EXA Segurança", price="19.90", fiscal_class="SVA")
    contracts = []
    for products in ([internet, security], [internet]):
        contract = make_contract(billing_day=10)
        for product in products:
            contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        Contract.objects.filter(pk=contract.pk).update(activated_at=at(date(2026, 8, 1)))
        contract.products.update(added_at=at(date(2026, 8, 1)))
        contracts.append(contract)
    billing_run(period=OCT)
    billing_run(period=NOV)
    invoice_cancel(invoice_id=Invoice.objects.get(contract=contracts[1], period=NOV).pk, reason="teste")
    return contracts


@pytest.fixture
def page(db):
    user = get_user_model().objects.create_user("receita-leitora", password="x-senha-123")
    assign_role(user, "somente leitura")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def brl(text: str) -> str:
    """API's "219.70" as the page shows it: "R$ 219,70"."""
    whole, cents = text.split(".")
    return f"R$ {int(whole):,}".replace(",", ".") + f",{cents}"


@pytest.mark.parametrize("params, cli, months", [
    ({"period": "2026-11"}, ["--period", "2026-11"], (NOV, NOV)),
    ({"from": "2026-10", "to": "2026-11"}, ["--from", "2026-10", "--to", "2026-11"], (OCT, NOV)),
    ({"from": "2026-10"}, ["--from", "2026-10"], (OCT, OCT)),
])
def test_page_csv_api_and_cli_agree(page, api, billed, params, cli, months):
    body = api.get("/reports/revenue", params).json()
    result = run("report", "revenue", *cli, "--json")
    assert result.code == 0, result.err
    assert result.json == body
    counted = RevenueReportFilterSet(params).queryset()  # the títulos the filters pick, by the ORM
    want = Invoice.objects.filter(period__gte=months[0], period__lte=months[1]).exclude(status="cancelled")
    assert sorted(counted.values_list("pk", flat=True)) == sorted(want.values_list("pk", flat=True))
    assert body["invoices"] == want.count() > 0
    html = page.get("/financeiro/receita/", params)
    assert html.status_code == 200
    shown = dict(re.findall(r'<tr data-class="(\w+)">.*?<td class="text-end" data-revenue>([^<]+)</td>',
                            html.content.decode(), re.S))
    assert shown == {**{c["fiscal_class"]: brl(c["revenue"]) for c in body["classes"]},
                     "total": brl(body["revenue_total"])}
    csv = page.get("/financeiro/receita/csv/", params)
    assert csv.status_code == 200
    assert csv.content == api.get("/reports/revenue.csv", params).content


def test_bad_months_are_refused_alike(page, api, billed):
    response = api.get("/reports/revenue", {"from": "10/2026"})
    assert response.status_code == 422
    assert [e["code"] for e in response.json()["error"]["fields"]["from"]] == ["period_invalid"]
    shown = page.get("/financeiro/receita/", {"from": "10/2026"})
    assert shown.status_code == 422 and "Competência inválida: use AAAA-MM" in shown.content.decode()
    result = run("report", "revenue", "--from", "10/2026")
    assert result.code == 2 and "period_invalid" in result.err and "Competência inválida" in result.err
    wrong_way = {"from": "2026-11", "to": "2026-01"}
    assert api.get("/reports/revenue", wrong_way).json()["error"]["code"] == "period_range_invalid"
    assert 'data-error="period_range_invalid"' in page.get("/financeiro/receita/", wrong_way).content.decode()
    assert "erro [period_range_invalid]" in run("report", "revenue", "--from", "2026-11", "--to", "2026-01").err
    assert page.get("/financeiro/receita/csv/", wrong_way).status_code == 302  # back to the page, said there
