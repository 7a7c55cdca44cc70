"""The billing run with several worker threads (PostgreSQL, outside a transaction): each
chunk on its own connection, every contract billed once, the run's totals right, and a
failing chunk reported to the caller. On SQLite the same calls run chunk by chunk."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from agrega.billing import services
from agrega.billing.models import Invoice, InvoiceLine
from agrega.billing.services import billing_run
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate, contract_add_product

pytestmark = pytest.mark.django_db(transaction=True)


def at(day: date):
    return timezone.make_aware(datetime.combine(day, datetime.min.time()).replace(hour=12))


@pytest.fixture
def contracts(make_contract, make_product):
    internet = make_product(name="Internet 300 Mega", price="99.90", fiscal_class="SCM")
    fee = make_product(name="Instalação em 12x", price="10.00", fiscal_class="OUTRO")
    made = []
    for n in range(9):
        contract = make_contract(billing_day=5 + n)
        contract_add_product(contract=contract, product_id=internet.pk)
        if n % 2:
            contract_add_product(contract=contract, product_id=fee.pk)
        contract_activate(contract=contract)
        # the last one starts on 16 November: half a month
        activated = at(date(2026, 11, 16) if n == 8 else date(2026, 9, 1))
        Contract.objects.filter(pk=contract.pk).update(activated_at=activated)
        contract.products.update(added_at=activated)
        made.append(contract)
    return made


def test_threads_bill_every_contract_once(contracts):
    run = billing_run(period=date(2026, 11, 1), chunk_size=2, workers=3)
    assert run.contracts_seen == run.invoices_created == 9 == Invoice.objects.count()
    assert run.lines_created == 13 == InvoiceLine.objects.count()
    # 8 whole months of 99.90, 4 fees of 10.00 and half a month of 99.90
    assert run.total_amount == Decimal("99.90") * 8 + Decimal("40.00") + Decimal("49.95")
    assert run.total_amount == sum(Invoice.objects.values_list("amount", flat=True), Decimal(0))
    assert sorted(Contract.objects.values_list("oldest_open_due", flat=True)) == [
        date(2026, 11, 5 + n) for n in range(9)]
    assert billing_run(period=date(2026, 11, 1), chunk_size=2, workers=3).invoices_created == 0


def test_a_failing_chunk_stops_the_run_and_reaches_the_caller(contracts, monkeypatch):
    real = services._bill_chunk
    calls = []

    def failing(run, period, today, chunk):
        calls.append(chunk)
        if len(calls) == 2:
            raise RuntimeError("chunk failed")
        return real(run, period, today, chunk)

    monkeypatch.setattr(services, "_bill_chunk", failing)
    with pytest.raises(RuntimeError, match="chunk failed"):
        billing_run(period=date(2026, 11, 1), chunk_size=2, workers=2)
    monkeypatch.setattr(services, "_bill_chunk", real)
    # what committed stays; a second run bills the rest, nothing twice
    billing_run(period=date(2026, 11, 1), chunk_size=2, workers=2)
    assert Invoice.objects.count() == 9 and len(calls) >= 2
