"""billing.services.payment_refund: money given back (a Pix devolução) reopens what it
undoes — the título's paid amount goes down, a paid título reopens and the contract's
oldest open due date comes back; an over-payment's credit is taken back first."""

from decimal import Decimal

import pytest

from agrega.billing.models import InvoiceStatus
from agrega.billing.services import contract_credit_balance, payment_refund, payment_register
from agrega.core.errors import InvalidTransition
from tests.billing.fixtures_billing import active_contract, billed, internet, security  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_full_refund_reopens_the_titulo(billed):
    contract, invoice = billed()
    paid = payment_register(invoice_id=invoice.pk, amount="109.90", provider="pix", external_id="E1").payment
    contract.refresh_from_db()
    assert contract.oldest_open_due is None
    payment_refund(payment_id=paid.pk, amount="109.90")
    invoice.refresh_from_db()
    contract.refresh_from_db()
    paid.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and invoice.paid_amount == 0 and invoice.paid_at is None
    assert paid.refunded_amount == Decimal("109.90")
    assert contract.oldest_open_due == invoice.due_date


def test_a_partial_refund_leaves_a_balance_and_cannot_exceed_the_payment(billed):
    contract, invoice = billed()
    paid = payment_register(invoice_id=invoice.pk, amount="109.90", provider="pix", external_id="E2").payment
    payment_refund(payment_id=paid.pk, amount="9.90")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and invoice.balance == Decimal("9.90")
    with pytest.raises(InvalidTransition) as exc:
        payment_refund(payment_id=paid.pk, amount="100.01")
    assert exc.value.code == "refund_too_large"


def test_refunding_an_overpayment_takes_the_credit_back_first(billed):
    contract, invoice = billed()
    paid = payment_register(invoice_id=invoice.pk, amount="120.00", provider="pix", external_id="E3").payment
    assert contract_credit_balance(contract.pk) == Decimal("10.10")
    payment_refund(payment_id=paid.pk, amount="10.10")
    invoice.refresh_from_db()
    assert contract_credit_balance(contract.pk) == Decimal("0.00")
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_amount == Decimal("109.90")
