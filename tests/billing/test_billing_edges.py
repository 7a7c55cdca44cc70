"""Billing edges: the daily run's catch-up (an activation after a month's last run is
billed for that month, once), the minimum notice of a first título, and ``paid_at``
whatever order payments arrive in."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agrega.billing.jobs import run_current_period
from agrega.billing.models import BillingRun, Invoice, InvoiceStatus
from agrega.billing.services import billing_run, invoice_cancel, payment_register
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate, contract_add_product

OCT, NOV, DEC = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute))


@pytest.fixture
def internet(make_product):
    return make_product(name="Internet 310", price="31.00", fiscal_class="SCM")


@pytest.fixture
def activate(make_contract, internet):
    """A contract activated at ``moment`` with Internet (R$ 31,00: R$ 1,00 a day in
    October, and in any 31-day month), as the activation service leaves it."""

    def make(moment: datetime, *, billing_day: int = 10, products=True):
        contract = make_contract(billing_day=billing_day)
        if products:
            contract_add_product(contract=contract, product_id=internet.pk)
        contract_activate(contract=contract)
        Contract.objects.filter(pk=contract.pk).update(activated_at=moment)
        contract.products.update(added_at=moment)
        return contract

    return make


def billed(contract) -> dict:
    """{period: (days billed, amount)} of the contract's títulos."""
    return {i.period: (sum(line.days for line in i.lines.all()), i.amount)
            for i in Invoice.objects.filter(contract=contract).prefetch_related("lines")}


# ---------------------------------------------------------------- the daily run's catch-up

def test_activated_on_the_last_day_after_the_run_is_billed_that_month_by_the_next_run(activate):
    older = activate(at(date(2026, 9, 15)))
    run_current_period(now=at(date(2026, 10, 31), 1))  # the 01:00 run of 31/10
    late = activate(at(date(2026, 10, 31), 23))  # 23:00, after it
    outcome = run_current_period(now=at(NOV, 1))
    assert outcome["period"] == "2026-11-01"
    assert outcome["caught_up"] == [{"period": "2026-10-01", "invoices": 1}]
    assert billed(late) == {OCT: (1, Decimal("1.00")), NOV: (30, Decimal("31.00"))}
    assert billed(older) == {OCT: (31, Decimal("31.00")), NOV: (30, Decimal("31.00"))}
    for day in range(2, 6):  # the following runs bill nothing again
        outcome = run_current_period(now=at(date(2026, 11, day), 1))
        assert outcome["invoices"] == 0 and outcome["caught_up"] == []
    assert billed(late) == {OCT: (1, Decimal("1.00")), NOV: (30, Decimal("31.00"))}


def test_a_first_product_added_after_the_months_last_run_is_billed_for_that_month(activate, internet):
    contract = activate(at(date(2026, 10, 5)), products=False)
    run_current_period(now=at(date(2026, 10, 31), 1))
    assert billed(contract) == {}  # nothing to bill yet
    contract_add_product(contract=contract, product_id=internet.pk)
    contract.products.update(added_at=at(date(2026, 10, 31), 22))
    run_current_period(now=at(NOV, 1))
    assert billed(contract) == {OCT: (1, Decimal("1.00")), NOV: (30, Decimal("31.00"))}


def test_a_month_is_closed_only_by_a_run_that_began_after_it_ended(activate):
    """A run at 00:10 of the 1st may not yet see an activation of 23:59 committing
    meanwhile: the next day's run looks at the month again; after that, it does not."""
    run_current_period(now=at(date(2026, 10, 31), 1))
    assert len(BillingRun.objects.filter(period=OCT)) == 1
    run_current_period(now=at(NOV, 0, 10))
    late = activate(at(date(2026, 10, 31), 23, 59))
    run_current_period(now=at(date(2026, 11, 2), 1))
    assert billed(late) == {OCT: (1, Decimal("1.00")), NOV: (30, Decimal("31.00"))}
    periods = list(BillingRun.objects.order_by("id").values_list("period", flat=True))
    assert periods == [OCT, OCT, NOV, OCT, NOV]
    run_current_period(now=at(date(2026, 11, 3), 1))  # October closed by the run of 2/11 01:00
    assert BillingRun.objects.filter(period=OCT).count() == 3


def test_an_outage_of_the_job_is_made_up_month_by_month(activate):
    run_current_period(now=at(date(2026, 9, 20), 1))
    in_sept = activate(at(date(2026, 9, 25), 8))
    in_oct = activate(at(date(2026, 10, 20), 8))
    runs = [run["period"] for run in run_current_period(now=at(date(2026, 12, 3), 1))["caught_up"]]
    assert runs == ["2026-09-01", "2026-10-01", "2026-11-01"]
    assert billed(in_sept) == {date(2026, 9, 1): (6, Decimal("6.20")), OCT: (31, Decimal("31.00")),
                               NOV: (30, Decimal("31.00")), DEC: (31, Decimal("31.00"))}
    assert billed(in_oct)[OCT] == (12, Decimal("12.00"))


def test_a_new_installation_bills_only_the_current_month(activate):
    contract = activate(at(date(2026, 9, 2)))
    outcome = run_current_period(now=at(NOV, 1))
    assert outcome["caught_up"] == []
    assert billed(contract) == {NOV: (30, Decimal("31.00"))}


def test_a_cancelled_titulo_keeps_its_month_billed_for_the_catch_up(activate):
    run_current_period(now=at(date(2026, 10, 31), 1))
    contract = activate(at(date(2026, 10, 31), 23))
    run_current_period(now=at(NOV, 1))
    invoice_cancel(invoice_id=Invoice.objects.get(contract=contract, period=OCT).pk, reason="teste")
    run_current_period(now=at(date(2026, 11, 2), 1))
    assert Invoice.objects.filter(contract=contract, period=OCT).count() == 1


# ---------------------------------------------------------------- minimum notice of a first título

def test_a_first_titulo_is_due_no_sooner_than_the_minimum_notice(activate, settings):
    settings.BILLING_FIRST_DUE_MIN_DAYS = 5
    contract = activate(at(date(2026, 11, 9), 9), billing_day=10)
    billing_run(period=NOV, now=at(date(2026, 11, 9), 10))
    first = Invoice.objects.get(contract=contract, period=NOV)
    assert (first.issued_on, first.due_date) == (date(2026, 11, 9), date(2026, 11, 14))
    contract.refresh_from_db()
    assert contract.oldest_open_due == date(2026, 11, 14)
    # the following ones fall on the billing day, even when it is close (issued 8/12)
    billing_run(period=DEC, now=at(date(2026, 12, 8), 1))
    assert Invoice.objects.get(contract=contract, period=DEC).due_date == date(2026, 12, 10)
    # a due date far enough is left alone
    far = activate(at(date(2026, 11, 2), 9), billing_day=20)
    billing_run(period=NOV, now=at(date(2026, 11, 2), 10))
    assert Invoice.objects.get(contract=far, period=NOV).due_date == date(2026, 11, 20)


@pytest.mark.parametrize("days", [1, 5, 12])
def test_the_notice_is_the_setting_and_counts_from_the_issue_day(activate, settings, days):
    settings.BILLING_FIRST_DUE_MIN_DAYS = days
    contract = activate(at(date(2026, 11, 28), 9), billing_day=28)
    billing_run(period=NOV, now=at(date(2026, 11, 28), 10))
    invoice = Invoice.objects.get(contract=contract)
    assert invoice.due_date == date(2026, 11, 28) + timedelta(days=days)


def test_a_titulo_issued_after_its_month_ended_is_never_born_overdue(activate, settings):
    """The catch-up's October título of a contract activated on 31/10 at 23:00 (billing
    day 10: it would have been due on 10/10)."""
    settings.BILLING_FIRST_DUE_MIN_DAYS = 5
    run_current_period(now=at(date(2026, 10, 31), 1))
    contract = activate(at(date(2026, 10, 31), 23), billing_day=10)
    run_current_period(now=at(NOV, 1))
    assert Invoice.objects.get(contract=contract, period=OCT).due_date == date(2026, 11, 6)
    assert Invoice.objects.get(contract=contract, period=NOV).due_date == date(2026, 11, 10)


def test_the_billing_page_shows_the_minimum_notice(activate, settings, role_user):
    from django.test import Client
    from django.urls import reverse

    settings.BILLING_FIRST_DUE_MIN_DAYS = 7
    client = Client()
    client.force_login(role_user("op-notice", "operador"))
    body = client.get(reverse("billing:runs")).content.decode()
    assert "no mínimo 7 dias após a emissão" in body and "AGREGA_FIRST_DUE_MIN_DAYS" in body


# ---------------------------------------------------------------- paid_at

@pytest.fixture
def open_invoice(activate):
    """An open título of R$ 31,00 (October, issued 1/10)."""
    contract = activate(at(date(2026, 9, 1)))
    billing_run(period=OCT, now=at(OCT, 1))
    return Invoice.objects.get(contract=contract, period=OCT)


def pay(invoice, amount: str, day: date):
    payment_register(invoice_id=invoice.pk, amount=amount, paid_on=day)
    invoice.refresh_from_db()
    return invoice


def test_paid_at_is_the_date_of_the_payment_that_settled_it_whatever_the_arrival_order(open_invoice):
    pay(open_invoice, "20,00", date(2026, 10, 20))
    assert open_invoice.status == InvoiceStatus.OPEN and open_invoice.paid_at is None
    # made earlier, arrives later: the total reached R$ 31,00 only on 20/10
    pay(open_invoice, "11,00", date(2026, 10, 12))
    assert open_invoice.status == InvoiceStatus.PAID and open_invoice.paid_at == date(2026, 10, 20)


def test_a_payment_made_before_the_settling_one_moves_paid_at_back(open_invoice):
    pay(open_invoice, "20,00", date(2026, 10, 10))
    pay(open_invoice, "20,00", date(2026, 10, 25))
    assert open_invoice.paid_at == date(2026, 10, 25)
    pay(open_invoice, "15,00", date(2026, 10, 5))  # arrives last, made first: 15 + 20 ≥ 31 on 10/10
    assert open_invoice.paid_at == date(2026, 10, 10) and open_invoice.status == InvoiceStatus.PAID
    pay(open_invoice, "5,00", date(2026, 10, 30))  # a later one changes nothing
    assert open_invoice.paid_at == date(2026, 10, 10)


def test_a_titulo_covered_by_credit_is_paid_when_issued(activate, open_invoice):
    pay(open_invoice, "93,00", date(2026, 10, 15))  # 62,00 of credit: all of November
    billing_run(period=NOV, now=at(NOV, 1))
    november = Invoice.objects.get(contract=open_invoice.contract, period=NOV)
    assert (november.status, november.amount, november.credit_applied) == (
        InvoiceStatus.PAID, Decimal("0.00"), Decimal("31.00"))
    assert november.paid_at == NOV  # the day it was issued, not its due date (10/11)


def test_a_late_titulo_is_not_born_overdue_even_when_not_the_first(activate, settings):
    """An outage of the job: September was billed in September, October is billed on
    3/11 — due on 8/11, not on 10/10; November keeps its billing day."""
    settings.BILLING_FIRST_DUE_MIN_DAYS = 5
    contract = activate(at(date(2026, 8, 20)), billing_day=10)
    run_current_period(now=at(date(2026, 9, 2), 1))
    run_current_period(now=at(date(2026, 11, 3), 1))
    dues = dict(Invoice.objects.filter(contract=contract).values_list("period", "due_date"))
    assert dues == {date(2026, 9, 1): date(2026, 9, 10), OCT: date(2026, 11, 8), NOV: date(2026, 11, 10)}


def test_paid_at_is_the_payment_that_reached_exactly_the_amount(open_invoice):
    pay(open_invoice, "20,00", date(2026, 10, 10))
    pay(open_invoice, "11,00", date(2026, 10, 12))  # 31,00: settled, to the cent
    assert open_invoice.paid_at == date(2026, 10, 12)
    pay(open_invoice, "5,00", date(2026, 10, 30))  # credit, after it was settled
    assert open_invoice.paid_at == date(2026, 10, 12)
