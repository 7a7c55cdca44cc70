"""Any activation times × any times the daily billing job runs → every contract billed for
each day from its activation exactly once; and ``paid_at`` never depends on the order
payments arrive in.

The oracle counts days on a calendar (``calendar.monthrange``), not with the code under
test."""

import calendar
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agrega.billing.jobs import run_current_period
from agrega.billing.models import Invoice, InvoiceStatus
from agrega.billing.services import billing_run, payment_register
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate, contract_add_product

START = date(2026, 9, 1)
HORIZON = 150  # days: September 2026 to January 2027


def local(day_offset: int, minute_of_day: int) -> datetime:
    day = START + timedelta(days=day_offset)
    return timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute_of_day))


moments = st.tuples(st.integers(0, HORIZON), st.integers(0, 24 * 60 - 1))


def months(first: date, last: date):
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(activations=st.lists(moments, min_size=1, max_size=4),
       runs=st.lists(moments, min_size=1, max_size=8, unique=True))
# the case: the 01:00 run of 31/10, an activation at 23:00, the 01:00 run of 1/11
@example(activations=[(60, 23 * 60)], runs=[(60, 60), (61, 60)])
# a run just after midnight, an activation at 23:59 (the month is looked at again the next day)
@example(activations=[(60, 23 * 60 + 59)], runs=[(60, 60), (61, 10), (62, 60)])
# an activation at the very moment of a run (found by this test: the oracle's tie)
@example(activations=[(0, 0)], runs=[(0, 0)])
# an outage over two month ends
@example(activations=[(5, 600), (40, 0), (75, 1439)], runs=[(10, 60), (100, 60)])
def test_each_day_from_activation_is_billed_exactly_once(make_contract, make_product, activations, runs):
    with transaction.atomic():
        product = make_product(price="31.00", fiscal_class="SCM")
        events = sorted([(local(*m), "activate") for m in activations] + [(local(*m), "run") for m in runs])
        contracts = []  # (contract, activated at)
        for moment, kind in events:
            if kind == "run":
                run_current_period(now=moment)
                continue
            contract = make_contract(billing_day=10)
            contract_add_product(contract=contract, product_id=product.pk)
            contract_activate(contract=contract)
            Contract.objects.filter(pk=contract.pk).update(activated_at=moment)
            contract.products.update(added_at=moment)
            contracts.append((contract, moment))
        run_moments = [local(*m) for m in runs]
        first_run, last_run = min(run_moments), max(run_moments)
        for contract, activated in contracts:
            got = {i.period: sum(line.days for line in i.lines.all())
                   for i in Invoice.objects.filter(contract=contract).prefetch_related("lines")}
            # expected: each month from its activation (or from the first run's month: a new
            # installation does not bill earlier months) to the last run's month, the days
            # from the activation day to the month's end
            expected = {}
            if activated <= last_run:  # at the same moment, the activation is first (sorted)
                active_day = timezone.localtime(activated).date()
                since = max(active_day, timezone.localdate(first_run).replace(day=1))
                for month in months(since, timezone.localdate(last_run)):
                    length = calendar.monthrange(month.year, month.month)[1]
                    first_day = max(month, active_day)
                    expected[month] = length - first_day.day + 1
            assert got == expected, (activated, run_moments)
            assert Invoice.objects.filter(contract=contract).count() == len(expected)
        transaction.set_rollback(True)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payments=st.lists(st.tuples(st.integers(1, 4000), st.integers(0, 40)), min_size=1, max_size=5),
       order=st.randoms(use_true_random=False))
def test_paid_at_is_where_payments_in_date_order_reach_the_amount(make_contract, make_product, payments, order):
    """Whatever order the payments (cents, day) arrive in, ``paid_at`` is the day their
    running total, taken by date, first covers the título (R$ 31,00)."""
    with transaction.atomic():
        product = make_product(price="31.00", fiscal_class="SCM")
        contract = make_contract(billing_day=10)
        contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        Contract.objects.filter(pk=contract.pk).update(activated_at=local(0, 600))
        contract.products.update(added_at=local(0, 600))
        billing_run(period=date(2026, 10, 1), now=local(30, 60))
        invoice = Invoice.objects.get(contract=contract)
        dated = [(date(2026, 10, 1) + timedelta(days=day), Decimal(cents) / 100) for cents, day in payments]
        arrival = list(dated)
        order.shuffle(arrival)
        for paid_on, amount in arrival:
            payment_register(invoice_id=invoice.pk, amount=amount, paid_on=paid_on)
        invoice.refresh_from_db()
        total, settled = Decimal("0"), None
        for paid_on, amount in sorted(dated, key=lambda p: p[0]):  # the oracle: by date
            total += amount
            if total >= Decimal("31.00"):
                settled = paid_on
                break
        assert invoice.status == (InvoiceStatus.PAID if settled else InvoiceStatus.OPEN)
        assert invoice.paid_at == settled
        transaction.set_rollback(True)
