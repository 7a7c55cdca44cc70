"""The monthly billing run: one título per contract and period, lines per product,
pro rata for a partial first month, due on the billing day, idempotent."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from agrega.billing.models import Invoice, InvoiceLine, InvoiceStatus
from agrega.billing.services import billing_run, due_date_for, prorate_line
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate, contract_add_product, contract_remove_product
from tests.billing.fixtures_billing import at


@pytest.fixture
def active_contract(make_contract, make_product):
    internet = make_product(name="Internet 300 Mega", price="99.90", fiscal_class="SCM")
    extra = make_product(name="Instalação em 12x", price="10.00", fiscal_class="OUTRO")

    def make(*, activated_on: date, billing_day: int = 10, products=None, **kw):
        contract = make_contract(billing_day=billing_day, **kw)
        for product, price in products or [(internet, None), (extra, None)]:
            contract_add_product(contract=contract, product_id=product.pk, price=price)
        contract_activate(contract=contract)
        Contract.objects.filter(pk=contract.pk).update(activated_at=at(activated_on))
        contract.products.update(added_at=at(activated_on))
        return contract

    make.internet, make.extra = internet, extra
    return make


@pytest.mark.parametrize("period,day,expected", [
    (date(2026, 2, 1), 31, date(2026, 2, 28)),
    (date(2028, 2, 1), 31, date(2028, 2, 29)),   # leap year
    (date(2028, 2, 1), 30, date(2028, 2, 29)),
    (date(2026, 4, 1), 31, date(2026, 4, 30)),
    (date(2026, 1, 1), 31, date(2026, 1, 31)),
    (date(2026, 3, 1), 1, date(2026, 3, 1)),
])
def test_due_date_is_the_billing_day_or_the_last_day_of_the_month(period, day, expected):
    assert due_date_for(period, day) == expected


def test_prorate_whole_month_is_exactly_the_price_and_a_part_is_by_days():
    p = date(2026, 11, 1)
    assert prorate_line(period=p, price=Decimal("99.90"), starts_on=None, ends_before=None) == (30, 30, Decimal("99.90"))
    assert prorate_line(period=p, price=Decimal("99.90"), starts_on=date(2026, 11, 16), ends_before=None) == (
        15, 30, Decimal("49.95"))
    # activated on the last day: one day
    assert prorate_line(period=p, price=Decimal("30.00"), starts_on=date(2026, 11, 30), ends_before=None) == (
        1, 30, Decimal("1.00"))
    # leap February, removed on the 15th (the 15th is not billed)
    assert prorate_line(period=date(2028, 2, 1), price=Decimal("29.00"), starts_on=None,
                        ends_before=date(2028, 2, 15)) == (14, 29, Decimal("14.00"))
    # started before the period: the whole month
    assert prorate_line(period=p, price=Decimal("10.00"), starts_on=date(2026, 1, 5), ends_before=None)[2] == Decimal("10.00")


def test_run_creates_one_invoice_per_contract_with_a_line_per_product(active_contract):
    contract = active_contract(activated_on=date(2026, 9, 3), billing_day=31)
    run = billing_run(period=date(2026, 11, 1), today=date(2026, 11, 1))
    invoice = Invoice.objects.get(contract=contract)
    assert (run.invoices_created, run.lines_created) == (1, 2)
    assert invoice.due_date == date(2026, 11, 30)  # day 31 in November
    assert invoice.amount == Decimal("109.90") and invoice.status == InvoiceStatus.OPEN
    assert sorted(invoice.lines.values_list("fiscal_class", "amount")) == [
        ("OUTRO", Decimal("10.00")), ("SCM", Decimal("99.90"))]
    contract.refresh_from_db()
    assert contract.oldest_open_due == date(2026, 11, 30)


def test_run_twice_creates_nothing_twice_and_a_cancelled_invoice_stays_cancelled(active_contract):
    from agrega.billing.services import invoice_cancel

    contract = active_contract(activated_on=date(2026, 9, 3))
    billing_run(period=date(2026, 11, 1))
    again = billing_run(period=date(2026, 11, 1))
    assert again.invoices_created == 0 and Invoice.objects.count() == 1 and InvoiceLine.objects.count() == 2
    invoice_cancel(invoice_id=Invoice.objects.get().pk, reason="erro de cadastro")
    assert billing_run(period=date(2026, 11, 1)).invoices_created == 0
    contract.refresh_from_db()
    assert contract.oldest_open_due is None


def test_partial_first_month_is_pro_rata_per_product(active_contract):
    contract = active_contract(activated_on=date(2026, 11, 16))
    billing_run(period=date(2026, 11, 1))
    invoice = Invoice.objects.get(contract=contract)
    lines = {line.fiscal_class: line for line in invoice.lines.all()}
    assert (lines["SCM"].days, lines["SCM"].days_in_period, lines["SCM"].amount) == (15, 30, Decimal("49.95"))
    assert lines["OUTRO"].amount == Decimal("5.00")
    assert invoice.amount == Decimal("54.95")
    assert "proporcional 15/30" in lines["SCM"].description


def test_contract_price_wins_over_product_price_and_removed_products_bill_until_removal(active_contract):
    a = active_contract
    contract = a(activated_on=date(2026, 8, 1), products=[(a.internet, "79.90"), (a.extra, None)])
    extra_item = contract.products.get(product=a.extra)
    contract_remove_product(contract=contract, contract_product_id=extra_item.pk)
    contract.products.filter(pk=extra_item.pk).update(removed_at=at(date(2026, 11, 11)))
    billing_run(period=date(2026, 11, 1))
    invoice = Invoice.objects.get(contract=contract)
    assert sorted(invoice.lines.values_list("amount", flat=True)) == [Decimal("3.33"), Decimal("79.90")]


def test_only_active_contracts_activated_before_the_period_ends_are_billed(active_contract, make_contract):
    from agrega.contracts.services import contract_deactivate

    later = active_contract(activated_on=date(2026, 12, 2))
    gone = active_contract(activated_on=date(2026, 5, 2))
    contract_deactivate(contract=gone)
    make_contract()  # pre-contrato
    run = billing_run(period=date(2026, 11, 1))
    assert run.invoices_created == 0
    assert billing_run(period=date(2026, 12, 1)).invoices_created == 1
    assert Invoice.objects.get().contract_id == later.pk


def test_run_in_small_chunks_bills_every_contract_once(active_contract):
    contracts = [active_contract(activated_on=date(2026, 1, 1), billing_day=d) for d in (1, 5, 28, 29, 30, 31, 15)]
    run = billing_run(period=date(2028, 2, 1), chunk_size=3)
    assert run.invoices_created == len(contracts) == Invoice.objects.count()
    dues = dict(Invoice.objects.values_list("contract__billing_day", "due_date"))
    assert dues[29] == dues[30] == dues[31] == date(2028, 2, 29) and dues[28] == date(2028, 2, 28)
    assert run.total_amount == sum(Invoice.objects.values_list("amount", flat=True), Decimal(0))


def test_contract_without_products_gets_no_invoice(make_contract):
    contract = make_contract()
    contract_activate(contract=contract)
    assert billing_run(period=timezone.localdate().replace(day=1)).invoices_created == 0


def test_a_chunk_reads_its_id_range_but_bills_only_its_own_contracts(active_contract, make_contract):
    """A chunk's products and credits are read by id range when its contracts fill most of
    it; a contract inside the range that is not in the chunk (billed already) gets
    nothing more, and the chunk's contracts get only their own lines."""
    from agrega.billing.models import CreditEntry
    from agrega.billing.sql import chunk_condition
    from agrega.contracts.services import contract_activate

    first, middle, last = (make_contract(billing_day=10) for _ in range(3))
    for contract in (first, middle, last):
        contract_add_product(contract=contract, product_id=active_contract.internet.pk)
    contract_activate(contract=middle)
    Contract.objects.filter(pk=middle.pk).update(activated_at=at(date(2026, 8, 1)))
    middle.products.update(added_at=at(date(2026, 8, 1)))
    CreditEntry.objects.create(contract=middle, amount=Decimal("5.00"), description="crédito")
    assert billing_run(period=date(2026, 11, 1)).invoices_created == 1  # only the middle one is active
    for contract in (first, last):
        contract_activate(contract=contract)
        Contract.objects.filter(pk=contract.pk).update(activated_at=at(date(2026, 8, 1)))
        contract.products.update(added_at=at(date(2026, 8, 1)))
    ids = [first.pk, last.pk]
    assert "contract_id__gte" in str(chunk_condition(ids))  # the range, with the middle one inside it
    run = billing_run(period=date(2026, 11, 1), chunk_size=2)
    assert (run.invoices_created, run.lines_created) == (2, 2)
    for contract in (first, middle, last):
        invoice = Invoice.objects.get(contract=contract)
        assert invoice.lines.count() == 1 and invoice.lines.get().contract_product.contract_id == contract.pk
    assert Invoice.objects.get(contract=first).credit_applied == Decimal("0.00")  # not the middle one's credit
    assert Invoice.objects.get(contract=middle).credit_applied == Decimal("5.00")


def test_chunk_condition_uses_the_ids_when_they_are_spread_out():
    from agrega.billing.sql import chunk_condition

    assert "contract_id__in" in str(chunk_condition([1, 5000, 90000]))
    assert "contract_id__gte" in str(chunk_condition([10, 11, 13]))


def test_a_new_invoice_leaves_an_older_open_due_date_in_place(active_contract):
    contract = active_contract(activated_on=date(2026, 8, 3), billing_day=20)
    billing_run(period=date(2026, 10, 1), today=date(2026, 10, 1))
    billing_run(period=date(2026, 11, 1), today=date(2026, 11, 1))
    contract.refresh_from_db()
    assert contract.oldest_open_due == date(2026, 10, 20)  # October still open: not November's
    assert Invoice.objects.filter(contract=contract, status=InvoiceStatus.OPEN).count() == 2


def test_a_contract_billed_meanwhile_by_another_run_is_skipped_not_billed_twice(active_contract, monkeypatch):
    """The títulos of a chunk are written in one go (one INSERT … SELECT on PostgreSQL,
    without ON CONFLICT); when one collides with a título another run has just written,
    the chunk falls back to ON CONFLICT DO NOTHING: that contract is skipped, the others
    billed."""
    from agrega.billing import services

    first = active_contract(activated_on=date(2026, 8, 1))
    second = active_contract(activated_on=date(2026, 8, 1))
    real = services._bill_chunk

    def racing(run, period, today, contracts):
        Invoice.objects.create(contract=second, customer=second.customer, period=period, issued_on=today,
                               due_date=date(2026, 11, 10), amount=Decimal("1.00"))
        return real(run, period, today, contracts)

    monkeypatch.setattr(services, "_bill_chunk", racing)
    run = billing_run(period=date(2026, 11, 1), workers=1)
    assert (run.invoices_created, run.lines_created) == (1, 2)
    assert run.total_amount == Decimal("109.90")
    assert Invoice.objects.get(contract=first).lines.count() == 2
    theirs = Invoice.objects.get(contract=second)
    assert theirs.amount == Decimal("1.00") and theirs.lines.count() == 0
