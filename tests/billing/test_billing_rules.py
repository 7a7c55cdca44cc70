"""Rules of the billing services that no other test guarded (found by
tools/mutation_check.py; docs/mutation-check.md)."""

from datetime import date
from decimal import Decimal

import pytest

from agrega.billing.models import Invoice, Payment
from agrega.billing.services import billing_run, prorate_line
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate, contract_add_product
from agrega.core.errors import ValidationFailed
from tests.billing.fixtures_billing import at

NOV = date(2026, 11, 1)


@pytest.fixture
def activate(make_contract, make_product):
    product = make_product(name="Internet", price="30.00", fiscal_class="SCM")

    def make(day: date, billing_day: int = 10):
        contract = make_contract(billing_day=billing_day)
        contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        Contract.objects.filter(pk=contract.pk).update(activated_at=at(day))
        contract.products.update(added_at=at(day))
        return contract

    return make


@pytest.mark.parametrize("starts_on,ends_before", [
    (date(2026, 12, 5), None),               # starts after the period
    (None, date(2026, 10, 20)),              # removed before it
    (date(2026, 11, 20), date(2026, 11, 10)),  # removed before it started
])
def test_prorate_outside_the_period_is_zero_days_and_zero_amount(starts_on, ends_before):
    assert prorate_line(period=NOV, price=Decimal("30.00"), starts_on=starts_on, ends_before=ends_before) == (
        0, 30, Decimal("0.00"))


def test_a_run_examines_only_contracts_it_may_bill(activate):
    """"N contrato(s) examinado(s)": not those activated after the period, nor those
    already billed for it."""
    billed = activate(date(2026, 9, 3))
    activate(date(2026, 12, 2))  # after November
    first = billing_run(period=NOV, today=date(2026, 12, 3))
    assert (first.contracts_seen, first.invoices_created) == (1, 1)
    again = billing_run(period=NOV, today=date(2026, 12, 3))
    assert (again.contracts_seen, again.invoices_created) == (0, 0)
    assert Invoice.objects.filter(contract=billed).count() == 1


@pytest.mark.parametrize("amount", ["10.000.000.000,00", "10000000000", "99999999999,99"])
def test_a_payment_above_the_limit_is_refused_and_changes_nothing(activate, amount):
    from agrega.billing.services import payment_register

    contract = activate(date(2026, 9, 3))
    billing_run(period=NOV, today=NOV)
    invoice = Invoice.objects.get(contract=contract)
    with pytest.raises(ValidationFailed) as caught:
        payment_register(invoice_id=invoice.pk, amount=amount, paid_on=date(2026, 11, 5))
    assert [e.code for e in caught.value.fields["amount"]] == ["amount_invalid"]
    assert not Payment.objects.exists()


def test_products_added_to_the_pre_contract_bill_from_the_activation(make_contract, make_product):
    """The usual order: products chosen on the pré-contrato (1/11), activated on 16/11 —
    November is 15 of 30 days, not the whole month."""
    product = make_product(name="Internet", price="30.00", fiscal_class="SCM")
    contract = make_contract(billing_day=10)
    contract_add_product(contract=contract, product_id=product.pk)
    contract.products.update(added_at=at(NOV, 9))
    contract_activate(contract=contract)
    Contract.objects.filter(pk=contract.pk).update(activated_at=at(date(2026, 11, 16)))
    billing_run(period=NOV, today=date(2026, 11, 16))
    assert list(Invoice.objects.get(contract=contract).lines.values_list("days", "amount")) == [
        (15, Decimal("15.00"))]


def test_a_product_added_and_removed_the_same_day_gets_no_line(activate, make_product):
    from agrega.contracts.services import contract_remove_product

    contract = activate(date(2026, 9, 3))
    extra = make_product(name="Teste de 1 dia", price="9.00", fiscal_class="SVA")
    item = contract_add_product(contract=contract, product_id=extra.pk)
    contract_remove_product(contract=contract, contract_product_id=item.pk)
    item.refresh_from_db()
    type(item).objects.filter(pk=item.pk).update(added_at=at(date(2026, 11, 10), 9),
                                                 removed_at=at(date(2026, 11, 10), 15))
    billing_run(period=NOV, today=date(2026, 11, 11))
    assert list(Invoice.objects.get(contract=contract).lines.values_list("description", "days")) == [
        ("Internet", 30)]


def test_cancelling_a_titulo_gives_its_credit_back(activate):
    from agrega.billing.services import contract_credit_balance, invoice_cancel, payment_register

    contract = activate(date(2026, 9, 3))
    billing_run(period=date(2026, 10, 1), today=date(2026, 10, 1))
    october = Invoice.objects.get(contract=contract)
    payment_register(invoice_id=october.pk, amount="40,00", paid_on=date(2026, 10, 5))  # 10,00 of credit
    billing_run(period=NOV, today=NOV)
    november = Invoice.objects.get(contract=contract, period=NOV)
    assert (november.amount, november.credit_applied) == (Decimal("20.00"), Decimal("10.00"))
    assert contract_credit_balance(contract.pk) == Decimal("0.00")
    invoice_cancel(invoice_id=november.pk, reason="cobrança indevida")
    assert contract_credit_balance(contract.pk) == Decimal("10.00")


def test_a_payment_id_longer_than_120_is_refused_and_changes_nothing(activate):
    from agrega.billing.services import payment_register

    contract = activate(date(2026, 9, 3))
    billing_run(period=NOV, today=NOV)
    invoice = Invoice.objects.get(contract=contract)
    with pytest.raises(ValidationFailed) as caught:
        payment_register(invoice_id=invoice.pk, amount="30,00", paid_on=date(2026, 11, 5), external_id="x" * 121)
    assert [e.code for e in caught.value.fields["external_id"]] == ["external_id_invalid"]
    assert not Payment.objects.exists()
    payment_register(invoice_id=invoice.pk, amount="30,00", paid_on=date(2026, 11, 5), external_id="x" * 120)
    assert Payment.objects.get().external_id == "x" * 120
