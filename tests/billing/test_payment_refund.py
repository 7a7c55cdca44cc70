"""billing.services.payment_refund: money given back (a Pix devolução) reopens what it
undoes — the título's paid amount goes down, a paid título reopens and the contract's
oldest open due date comes back; an over-payment's credit is taken back first."""

from decimal import Decimal

import pytest

from agrega.billing.models import InvoiceStatus
from agrega.billing.services import contract_credit_balance, payment_refund, payment_register
from agrega.core.errors import InvalidTransition

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


def _state(invoice, contract):
    invoice.refresh_from_db()
    return invoice.status, invoice.paid_amount, contract_credit_balance(contract.pk)


def test_a_refund_gives_back_the_late_fees_before_the_principal(billed):
    """A Pix of 113.20 for a título of 109.90 paid late (multa and juros 3.30): a refund
    of the late fees leaves the título paid; only what goes past them reopens it."""
    contract, invoice = billed()
    paid = payment_register(invoice_id=invoice.pk, amount="113.20", provider="pix", external_id="EL1",
                            late_fees=Decimal("3.30")).payment
    assert _state(invoice, contract) == (InvoiceStatus.PAID, Decimal("109.90"), Decimal("0"))
    payment_refund(payment_id=paid.pk, amount="2.00")  # part of the juros
    assert _state(invoice, contract) == (InvoiceStatus.PAID, Decimal("109.90"), Decimal("0"))
    payment_refund(payment_id=paid.pk, amount="11.30")  # the rest of the fees (1.30) and 10.00 of principal
    assert _state(invoice, contract) == (InvoiceStatus.OPEN, Decimal("99.90"), Decimal("0"))
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("10.00")
    payment_refund(payment_id=paid.pk, amount="99.90")  # all of it, in three refunds
    assert _state(invoice, contract) == (InvoiceStatus.OPEN, Decimal("0.00"), Decimal("0"))
    paid.refresh_from_db()
    assert paid.refunded_amount == paid.amount


def test_a_refund_undoes_the_desconto_in_proportion_to_the_principal(billed):
    """Paid on time with a desconto of 5.00 (104.90 for 109.90): half the money back
    owes half the título again; the other half back owes all of it — the desconto was
    for paying, and the payment is undone."""
    contract, invoice = billed()
    paid = payment_register(invoice_id=invoice.pk, amount="104.90", provider="pix", external_id="ED1",
                            discount=Decimal("5.00")).payment
    assert _state(invoice, contract) == (InvoiceStatus.PAID, Decimal("109.90"), Decimal("0"))
    payment_refund(payment_id=paid.pk, amount="52.45")
    assert _state(invoice, contract) == (InvoiceStatus.OPEN, Decimal("54.95"), Decimal("0"))
    payment_refund(payment_id=paid.pk, amount="0.01")
    payment_refund(payment_id=paid.pk, amount="52.44")
    assert _state(invoice, contract) == (InvoiceStatus.OPEN, Decimal("0.00"), Decimal("0"))


def test_a_refund_of_an_overpayment_with_late_fees_takes_the_credit_then_the_fees(billed):
    """130.00 for a título of 109.90 with 3.30 of late fees: 16.80 became credit. A
    refund takes that credit back first, then the fees; the título reopens only at the
    first cent of principal."""
    contract, invoice = billed()
    paid = payment_register(invoice_id=invoice.pk, amount="130.00", provider="pix", external_id="EO1",
                            late_fees=Decimal("3.30")).payment
    assert _state(invoice, contract) == (InvoiceStatus.PAID, Decimal("126.70"), Decimal("16.80"))
    payment_refund(payment_id=paid.pk, amount="20.00")  # 16.80 of credit + 3.20 of fees
    assert _state(invoice, contract) == (InvoiceStatus.PAID, Decimal("109.90"), Decimal("0.00"))
    payment_refund(payment_id=paid.pk, amount="0.10")  # the last of the fees
    assert _state(invoice, contract) == (InvoiceStatus.PAID, Decimal("109.90"), Decimal("0.00"))
    payment_refund(payment_id=paid.pk, amount="0.01")
    assert _state(invoice, contract) == (InvoiceStatus.OPEN, Decimal("109.89"), Decimal("0.00"))
