"""``payments_register_many`` (the PIX inbox's set-based baixas) against the reference,
``payment_register`` one payment at a time: the same scenarios on twin contracts must end
in the same títulos, payments, credits and contract states."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from agrega.billing.models import CreditEntry, Invoice, Payment, PaymentMethod
from agrega.billing.services import PaymentIn, invoice_cancel, payment_register, payments_register_many
from agrega.contracts.models import Contract
from agrega.core.errors import ApplicationError

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def state(invoice: Invoice) -> tuple:
    invoice.refresh_from_db()
    contract = Contract.objects.get(pk=invoice.contract_id)
    payments = sorted((str(p.amount), p.paid_on, p.status, p.external_id[2:])
                      for p in Payment.objects.filter(invoice=invoice))
    credits = sorted(str(c.amount) for c in CreditEntry.objects.filter(contract_id=invoice.contract_id))
    return (invoice.status, str(invoice.paid_amount), invoice.paid_at, tuple(payments), tuple(credits),
            contract.access_status, contract.dunning_level, contract.oldest_open_due)


def scenario(invoice: Invoice, prefix: str) -> list[tuple]:
    today = timezone.localdate()
    return [  # (external id, amount, paid on): partial, then the rest paid earlier, then an excess
        (prefix + "a", D("50.00"), today),
        (prefix + "b", D("59.90"), today - timedelta(days=3)),
        (prefix + "c", D("30.00"), today),
        (prefix + "a", D("50.00"), today),  # the same payment again: nothing changes
    ]


def test_many_equals_one_by_one(blocked):
    one = blocked()[1]
    many = blocked()[1]
    for ext, amount, day in scenario(one, "R-"):
        payment_register(invoice_id=one.pk, amount=amount, paid_on=day, method=PaymentMethod.PIX, provider="pix",
                         external_id=ext)
    items = [PaymentIn(invoice_id=many.pk, amount=amount, paid_on=day, external_id=ext)
             for ext, amount, day in scenario(many, "M-")]
    with transaction.atomic():
        results = payments_register_many(items, method=PaymentMethod.PIX, provider="pix")
    assert [r.created for r in results] == [True, True, True, False]
    assert results[3].payment.pk == results[0].payment.pk
    assert state(one) == state(many)
    assert state(many)[0] == "paid" and state(many)[5] == "A"  # settled and released


def test_late_fees_and_discounts_count_as_one_by_one(blocked):
    """A Pix with multa/juros (late fees) or a desconto (a cobrança PIX's régua) counts
    ``amount − late_fees + discount`` for the título on the batch path as on the single one."""
    one = blocked()[1]
    many = blocked()[1]
    today = timezone.localdate()
    cases = [("a", D("50.00"), D("3.30"), D("0")), ("b", D("55.00"), D("0"), D("8.20"))]  # 46.70 + 63.20 = 109.90
    for ext, amount, late_fees, discount in cases:
        payment_register(invoice_id=one.pk, amount=amount, paid_on=today, method=PaymentMethod.PIX,
                         provider="pix", external_id="R-" + ext, late_fees=late_fees, discount=discount)
    with transaction.atomic():
        payments_register_many([PaymentIn(invoice_id=many.pk, amount=amount, paid_on=today, external_id="M-" + ext,
                                          late_fees=late_fees, discount=discount)
                                for ext, amount, late_fees, discount in cases],
                               method=PaymentMethod.PIX, provider="pix")
    assert state(one) == state(many)
    assert state(many)[:2] == ("paid", "109.90") and state(many)[4] == ()  # settled exactly, no credit
    fees = sorted((str(p.late_fees), str(p.discount)) for p in Payment.objects.filter(invoice=many))
    assert fees == [("0.00", "8.20"), ("3.30", "0.00")]


def test_refusals_match(blocked, billed):
    _, cancelled = billed()
    invoice_cancel(invoice_id=cancelled.pk, reason="teste")
    _, invoice = blocked()
    payment_register(invoice_id=invoice.pk, amount="10.00", method=PaymentMethod.PIX, provider="pix",
                     external_id="X-1")
    today = timezone.localdate()
    results = payments_register_many([
        PaymentIn(invoice_id=cancelled.pk, amount=D("109.90"), paid_on=today, external_id="X-2"),
        PaymentIn(invoice_id=invoice.pk, amount=D("11.00"), paid_on=today, external_id="X-1"),  # reused id
        PaymentIn(invoice_id=invoice.pk, amount=D("10.00"), paid_on=today + timedelta(days=5), external_id="X-3"),
        PaymentIn(invoice_id=invoice.pk, amount=D("99.90"), paid_on=today, external_id="X-4"),
        PaymentIn(invoice_id=invoice.pk, amount=D("5.00"), paid_on=today, external_id="X-4"),  # twin, other amount
    ], method=PaymentMethod.PIX, provider="pix")
    codes = [r.code if isinstance(r, ApplicationError) else r.created for r in results]
    assert codes == ["invoice_cancelled", "payment_id_reused", "paid_on_future", True, "payment_id_reused"]
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_amount == D("109.90")
    assert not Payment.objects.filter(external_id__in=["X-2", "X-3"]).exists()
