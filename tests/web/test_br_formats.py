"""Brazilian formats on every page that shows money, documents or phones, and money typed
the Brazilian way read as the person means it (issue 20, item 3). Server-rendered pages
through the Django client: the values are in the HTML, not added by a script."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from agrega.core import formats
from tests.billing.fixtures_billing import at, months_ago

RAW_E164 = re.compile(r"\+55\d{10,11}")


@pytest.fixture
def admin(role_user):
    client = Client()
    client.force_login(role_user("fmt-admin", "administrador"))
    return client


def _page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_formats_module_writes_and_reads_brazilian_values():
    assert formats.format_brl(Decimal("1234.5")) == "R$ 1.234,50"
    assert formats.format_decimal(Decimal("1234.5")) == "1234,50"
    assert formats.format_phone("+5511987654321") == "(11) 98765-4321"
    assert formats.format_document("52998224725") == "529.982.247-25"
    assert formats.format_document("12ABC34501DE35") == "12.ABC.345/01DE-35"
    assert formats.parse_amount("1.234") == Decimal("1234.00")
    assert formats.parse_amount("1.234,56") == Decimal("1234.56")


@pytest.mark.parametrize("typed, expected", [
    ("1.234", Decimal("1234.00")), ("1.234,56", Decimal("1234.56")), ("1234.56", Decimal("1234.56")),
    ("R$ 12.345,6", Decimal("12345.60")), ("109,9", Decimal("109.90")),
])
def test_amount_form_field_reads_what_a_person_typed(typed, expected):
    field = formats.amount_form_field(label="Valor")
    assert field.clean(typed) == expected


@pytest.mark.parametrize("typed", ["1,234.56", "1.23456", "0.123", "1e3", "-5", "12,345"])
def test_amount_form_field_refuses_what_is_ambiguous(typed):
    from django import forms

    field = formats.amount_form_field(label="Valor")
    with pytest.raises(forms.ValidationError) as exc:
        field.clean(typed)
    assert exc.value.messages[0]  # a Portuguese message, never a silent R$ 1,23


def test_money_documents_and_phones_are_formatted_on_every_page(admin, make_customer, make_product):
    from agrega.billing.models import Invoice
    from agrega.billing.services import billing_run
    from agrega.contracts.services import contract_activate, contract_add_product, contract_create
    from agrega.plans.services import plan_create

    customer = make_customer(name="Maria Formatada", document="12ABC34501DE35", mobile_phone="11987654321")
    product = make_product(name="Fibra 1 Giga", price="1.234,56", fiscal_class="SCM")
    contract = contract_create(customer_id=customer.pk, billing_day=10)
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    type(contract).objects.filter(pk=contract.pk).update(activated_at=at(months_ago(6)))
    contract.products.update(added_at=at(months_ago(6)))
    billing_run(period=months_ago(1))
    invoice = Invoice.objects.get(contract=contract)
    assert invoice.amount > 1000
    plan = plan_create(name="Plano Giga", items=[{"product_id": product.pk, "price": "2.000"}])
    plan = plan[0] if isinstance(plan, tuple) else plan

    shown = formats.format_brl(invoice.amount)
    pages = {
        "/produtos/": ["R$ 1.234,56"],
        f"/produtos/{product.pk}/": ["R$ 1.234,56"],
        "/planos-de-venda/": ["R$ 2.000,00"],
        f"/contratos/{contract.pk}/": ["R$ 1.234,56", "12.ABC.345/01DE-35", "(11) 98765-4321"],
        "/contratos/": ["12.ABC.345/01DE-35"],
        "/financeiro/titulos/": [shown, "12.ABC.345/01DE-35"],
        f"/financeiro/titulos/{invoice.pk}/": [shown, "12.ABC.345/01DE-35", "(11) 98765-4321"],
        "/clientes/": ["12.ABC.345/01DE-35", "(11) 98765-4321"],
        f"/clientes/{customer.pk}/": ["12.ABC.345/01DE-35", "(11) 98765-4321"],
    }
    for url, expected in pages.items():
        html = _page(admin, url)
        for text in expected:
            assert text in html, (url, text)
        assert not RAW_E164.search(html), url
        assert "12ABC34501DE35" not in html, url
        assert "1234.56" not in html and "1234,56" not in html, url


@pytest.mark.parametrize("typed, saved", [("1.234", Decimal("1234.00")), ("1.234,56", Decimal("1234.56")),
                                          ("R$ 99,9", Decimal("99.90"))])
def test_product_form_reads_the_price_as_a_person_means_it(admin, typed, saved):
    from agrega.catalog.models import Product

    response = admin.post("/produtos/novo/", {"name": f"Fibra {typed}", "fiscal_class": "SCM", "price": typed,
                                              "active": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Product.objects.get(name=f"Fibra {typed}").price == saved


def test_product_form_refuses_an_ambiguous_price_with_a_message(admin):
    from agrega.catalog.models import Product

    html = admin.post("/produtos/novo/", {"name": "Fibra ambígua", "fiscal_class": "SCM", "price": "1,234.56",
                                          "active": "on"}).content.decode()
    assert "Valor ambíguo" in html and not Product.objects.filter(name="Fibra ambígua").exists()
