"""Every way an amount enters Agrega reads it with core.money.parse_amount: an absurd
amount is a 422 (field code ``amount_invalid``) in the API, a form error on the pages, exit
2 without a traceback in the CLI and a rejected line in the CSV import — never a 500, never
a silent R$ 1,23 for "1.234"."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from agrega.billing.models import Payment
from agrega.catalog.models import Product
from agrega.contracts.models import ContractProduct
from agrega.core.models import ApiToken
from agrega.plans.models import SalesPlan
from tests.fixtures_api import ApiClient
from tests.cli.helpers import run


ABSURD = ["1e400", "1E5", "NaN", "-Infinity", "inf", "-10,00", "12,345", "1.234.5", "0.123", "1,234.56",
          "99999999999999999999999999", "10.000.000,00", "R$ 1 234", "dez reais", "0x10", "１２", "½",
          "1_000", " ", "12.34.56"]
ABSURD_JSON = [*ABSURD, 1e308, -1, 10 ** 30, 0.1 + 0.2, True, [], {"v": 1}]


def field_code(response, field: str) -> str:
    body = response.json()["error"]
    assert response.status_code == 422, response.content
    # the amount is the only problem: the top-level code names it too
    assert body["code"] == body["fields"][field][0]["code"], body
    return body["fields"][field][0]["code"]


@pytest.fixture
def admin(role_user):
    return ApiClient(ApiToken.issue(user=role_user("api-admin-money", "administrador"), name="testes")[1])


@pytest.fixture
def web_admin(role_user):
    client = Client()
    client.force_login(role_user("web-admin-money", "administrador"))
    return client


# -- payments -------------------------------------------------------------------------------

@pytest.mark.parametrize("amount", ABSURD_JSON)
def test_api_invoice_pay_absurd_amount(admin, billed, amount):
    _, invoice = billed()
    response = admin.post(f"/invoices/{invoice.pk}/payments", {"amount": amount})
    assert field_code(response, "amount") == "amount_invalid"
    assert not Payment.objects.exists()


@pytest.mark.parametrize("text, expected", [("1.234", "1234.00"), ("1.234,56", "1234.56"), ("1234,56", "1234.56"),
                                            ("1234.56", "1234.56"), ("R$ 1.234,5", "1234.50"), (12, "12.00"),
                                            (109.9, "109.90")])
def test_api_invoice_pay_reads_amounts_as_meant(admin, billed, text, expected):
    _, invoice = billed()
    response = admin.post(f"/invoices/{invoice.pk}/payments", {"amount": text})
    assert response.status_code == 201, response.content
    assert response.json()["payment"]["amount"] == expected


@pytest.mark.parametrize("amount", ["1e400", "-5", "12,345", "99999999999", "NaN"])
def test_cli_invoice_pay_absurd_amount_exits_2(billed, amount):
    _, invoice = billed()
    result = run("invoice", "pay", str(invoice.pk), "--amount", amount)
    assert result.code == 2 and "amount_invalid" in result.err and "Traceback" not in result.err, result.err
    assert not Payment.objects.exists()


def test_cli_invoice_pay_thousands(billed):
    _, invoice = billed()
    result = run("invoice", "pay", str(invoice.pk), "--amount", "1.234", "--json")
    assert result.code == 0, result.err
    assert Payment.objects.get().amount == Decimal("1234.00")


@pytest.mark.parametrize("amount", ["1e400", "-5", "12,345", "NaN", "99999999999"])
def test_page_payment_form_absurd_amount(web_admin, billed, amount):
    _, invoice = billed()
    response = web_admin.post(f"/financeiro/titulos/{invoice.pk}/", {"amount": amount})
    assert response.status_code == 422
    assert response.context["form"].errors["amount"]
    assert not Payment.objects.exists()


def test_csv_import_absurd_lines_rejected_good_lines_applied(billed):
    from agrega.billing.imports import payments_import_csv

    _, a = billed()
    _, b = billed()
    rows = ["id_pagamento;titulo;valor;data_pagamento", f"OK-1;{a.pk};1.234,56;01/11/2026",
            f"OK-2;{b.pk};1.234;01/11/2026"]
    rows += [f"BAD-{n};{a.pk};{amount};01/11/2026" for n, amount in enumerate(ABSURD) if ";" not in amount]
    record = payments_import_csv(content="\n".join(rows).encode(), file_name="x.csv", provider="banco")
    by_id = {e["external_id"]: e for e in record.report}
    assert by_id["OK-1"]["status"] == "applied" and by_id["OK-1"]["amount"] == "1234.56"
    assert by_id["OK-2"]["status"] == "applied" and by_id["OK-2"]["amount"] == "1234.00"
    bad = [e for k, e in by_id.items() if k.startswith("BAD-")]
    assert bad and all((e["status"], e["code"]) == ("rejected", "amount_invalid") for e in bad), bad
    assert Payment.objects.count() == 2


# -- prices: products, plans, contracts ------------------------------------------------------

@pytest.mark.parametrize("price", ABSURD_JSON)
def test_api_product_absurd_price(admin, price):
    response = admin.post("/products", {"name": "Produto X", "price": price, "fiscal_class": "SVA"})
    assert field_code(response, "price") == "amount_invalid"
    assert not Product.objects.exists()


def test_api_product_price_thousands_and_zero(admin):
    response = admin.post("/products", {"name": "Produto caro", "price": "1.234", "fiscal_class": "SVA"})
    assert response.status_code == 201 and Decimal(response.json()["price"]) == Decimal("1234.00")
    free = admin.post("/products", {"name": "Produto grátis", "price": "0,00", "fiscal_class": "SVA"})
    assert free.status_code == 201, free.content


@pytest.mark.parametrize("price", ABSURD)
def test_page_product_form_absurd_price(web_admin, price):
    response = web_admin.post("/produtos/novo/", {"name": "Produto X", "price": price, "fiscal_class": "SVA",
                                                  "active": "on"})
    assert response.status_code == 422 and "price" in response.context["form"].errors
    assert not Product.objects.exists()


@pytest.mark.parametrize("price", ["1e400", "-1", "12,345", "NaN", "99999999999"])
def test_cli_product_absurd_price_exits_2(db, price):
    result = run("product", "create", "--name", "Produto X", "--price", price)
    assert result.code == 2 and "amount_invalid" in result.err and "Traceback" not in result.err, result.err
    assert not Product.objects.exists()


@pytest.mark.parametrize("price", [p for p in ABSURD_JSON if p != " "])  # blank: the product's price
def test_api_plan_absurd_price(admin, internet, price):
    response = admin.post("/plans", {"name": "Plano X", "items": [{"product_id": internet.pk, "price": price}]})
    assert field_code(response, "items.0.price") == "amount_invalid"
    assert not SalesPlan.objects.exists()


def test_page_plan_form_absurd_price(web_admin, internet):
    response = web_admin.post("/planos-de-venda/novo/", {"name": "Plano X", "active": "on",
                                                          "item_product": [str(internet.pk)], "item_price": ["1e400"]})
    assert response.status_code == 422
    assert not SalesPlan.objects.exists()


def test_cli_plan_prices(internet):
    bad = run("plan", "create", "--name", "Plano X", "--item", f"{internet.pk}:1e400")
    assert bad.code == 2 and "amount_invalid" in bad.err and "Traceback" not in bad.err, bad.err
    good = run("plan", "create", "--name", "Plano Y", "--item", f"{internet.pk}:1.234,56")
    assert good.code == 0, good.err
    assert SalesPlan.objects.get().items.get().price == Decimal("1234.56")


@pytest.mark.parametrize("price", [p for p in ABSURD_JSON if p != " "])  # blank: the product's price
def test_api_contract_product_absurd_price(admin, make_contract, internet, price):
    contract = make_contract()
    response = admin.post(f"/contracts/{contract.pk}/products", {"product_id": internet.pk, "price": price})
    assert field_code(response, "price") == "amount_invalid"
    assert not ContractProduct.objects.exists()


def test_page_and_cli_contract_product_absurd_price(web_admin, make_contract, internet):
    contract = make_contract()
    page = web_admin.post(f"/contratos/{contract.pk}/produtos/novo/",
                          {"kind": "OUTRO", "product": str(internet.pk), "price": "1e400"})
    assert page.status_code == 200 and "price" in page.context["form"].errors  # the page answers 200 on errors
    cli = run("contract", "add-product", str(contract.pk), "--product", str(internet.pk), "--price", "-3")
    assert cli.code == 2 and "amount_invalid" in cli.err and "Traceback" not in cli.err, cli.err
    assert not ContractProduct.objects.exists()
    ok = web_admin.post(f"/contratos/{contract.pk}/produtos/novo/",
                        {"kind": "OUTRO", "product": str(internet.pk), "price": "1.234"})
    assert ok.status_code == 302, ok.content[:2000]
    assert ContractProduct.objects.get().price == Decimal("1234.00")
