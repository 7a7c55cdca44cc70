"""billing.sql against the ORM, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from agrega.billing import sql
from agrega.contracts.models import Contract
from tests.billing.fixtures_billing import active_contract, at, internet, months_ago, security  # noqa: F401

pytestmark = pytest.mark.django_db


def test_contracts_billed_equals_the_orm_exists(make_contract, make_customer):
    from django.db.models import Exists, OuterRef

    from agrega.billing.models import Invoice

    customer = make_customer()
    ids = [make_contract(customer=customer).pk for _ in range(4)]
    for pk in ids[1:3]:
        Invoice.objects.create(contract_id=pk, customer=customer, period=date(2026, 11, 1),
                               issued_on=date(2026, 11, 1), due_date=date(2026, 11, 10), amount="10.00")
    orm = set(Contract.objects.filter(pk__in=ids).filter(Exists(Invoice.objects.filter(contract=OuterRef("pk"))))
              .values_list("pk", flat=True))
    assert sql.contracts_billed(ids) == orm == set(ids[1:3])
    assert sql.contracts_billed([]) == set()


@pytest.mark.parametrize("today", [date(2026, 11, 1), date(2026, 12, 3)])  # on time; a catch-up
def test_bill_chunk_writes_what_the_python_rows_write(make_contract, make_product, settings, today):
    """The billing run's chunk on PostgreSQL (``sql.bill_chunk``, one statement) against
    ``_bill_chunk_rows`` (Python, the rows through ``core.bulk``) on the same contracts:
    the same títulos, lines, credit entries, ``oldest_open_due`` and counts. Every rule
    has a contract here: whole months, a part by activation, by a product added or
    removed in the month (local dates, at the edges of the day), a removed product, a
    price of the contract's own, credit above and below the gross, a free product, the
    31st in a 30-day month, a first título's notice and an earlier título; issued on
    time and after the month ended (every título then gets the notice). On SQLite both
    sides are the Python rows."""
    from datetime import datetime, timedelta
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from agrega.billing import services
    from agrega.billing.models import BillingRun, CreditEntry, Invoice, InvoiceLine
    from agrega.contracts.models import ContractProduct

    settings.BILLING_FIRST_DUE_MIN_DAYS = 5
    period, before = date(2026, 11, 1), date(2026, 10, 1)
    zone = timezone.get_current_timezone()

    def local(day, hour=12, minute=0):
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)

    internet = make_product(name="Internet 300 Mega", price="99.90", fiscal_class="SCM")
    fee = make_product(name="Instalação em 12x " + "x" * 150, price="10.00", fiscal_class="OUTRO")
    free = make_product(name="Roteador cedido", price="0.00", fiscal_class="OUTRO")
    cases = [  # (billing day, activated, [(product, price, added, removed)], credit, billed before)
        (10, local(date(2026, 8, 1)), [(internet, None, None, None), (fee, None, None, None)], None, True),
        (10, local(date(2026, 11, 16)), [(internet, None, None, None), (fee, None, None, None)], None, False),
        (15, local(date(2026, 8, 1)), [(internet, None, None, None), (fee, None, local(date(2026, 11, 20)), None)],
         None, True),
        (20, local(date(2026, 8, 1)), [(internet, None, None, local(date(2026, 11, 10))), (fee, None, None, None)],
         None, True),
        (20, local(date(2026, 8, 1)), [(internet, None, None, local(date(2026, 10, 20)))], None, True),  # nothing
        (25, local(date(2026, 8, 1)), [(internet, Decimal("50.00"), None, None)], Decimal("200.00"), True),
        (25, local(date(2026, 8, 1)), [(internet, None, None, None)], Decimal("5.00"), True),
        (31, local(date(2026, 8, 1)), [(free, None, None, None)], None, True),
        (1, local(date(2026, 8, 1)), [(internet, None, None, None)], None, False),  # first: notice
        (1, local(date(2026, 8, 1)), [(internet, None, None, None)], None, True),  # billed before: the 1st
        (5, local(date(2026, 10, 31), 23, 30), [(internet, None, None, None)], None, False),
        (5, local(date(2026, 11, 2), 0, 30), [(internet, None, None, None)], None, False),
        (28, local(date(2026, 8, 1)), [(internet, None, local(date(2026, 11, 30), 23, 0), None),
                                       (fee, Decimal("33.33"), None, local(date(2026, 11, 1), 0, 30))], None, True),
        (30, local(date(2026, 11, 30), 23, 59), [(internet, None, None, None)], Decimal("0.50"), False),
    ]
    contracts = []
    for billing_day, activated, products, credit, billed_before in cases:
        contract = make_contract(billing_day=billing_day)
        for product, price, added, removed in products:
            item = ContractProduct.objects.create(contract=contract, product=product, price=price)
            ContractProduct.objects.filter(pk=item.pk).update(added_at=added or activated, removed_at=removed)
        Contract.objects.filter(pk=contract.pk).update(status="A", activated_at=activated)
        if credit:
            CreditEntry.objects.create(contract=contract, amount=credit, description="pagamento a maior")
        if billed_before:
            Invoice.objects.create(contract=contract, customer_id=contract.customer_id, period=before,
                                   issued_on=before, due_date=date(2026, 10, 10), amount="1.00", status="paid")
        contracts.append((contract.pk, contract.customer_id, billing_day, activated))

    def bill(chunk):
        with transaction.atomic():
            run = BillingRun.objects.create(period=period)
            counts = chunk(run, period, today, contracts)
            invoices = {i.contract_id: i for i in Invoice.objects.filter(period=period)}
            state = {
                "counts": counts,
                "invoices": sorted((i.contract_id, i.customer_id, i.issued_on, i.due_date, i.amount, i.credit_applied,
                                    i.paid_amount, i.status, i.paid_at, i.cancel_reason, i.billing_run_id == run.pk)
                                   for i in invoices.values()),
                "ids_follow_contracts": sorted(invoices) == [c for _, c in sorted((i.pk, c) for c, i in invoices.items())],
                "lines": [(line.invoice.contract_id, line.contract_product_id, line.product_id, line.description,
                           line.fiscal_class, line.unit_price, line.days, line.days_in_period, line.amount)
                          for line in InvoiceLine.objects.filter(invoice__period=period).select_related("invoice")
                          .order_by("id")],
                "credit": sorted((e.contract_id, e.amount, e.description, e.invoice.contract_id)
                                 for e in CreditEntry.objects.filter(invoice__isnull=False).select_related("invoice")),
                "open_due": sorted(Contract.objects.filter(pk__in=[c[0] for c in contracts])
                                   .values_list("pk", "oldest_open_due")),
            }
            transaction.set_rollback(True)
        return state

    rows, chunk = bill(services._bill_chunk_rows), bill(services._bill_chunk)
    assert chunk == rows
    assert rows["counts"][0] == len(cases) - 1 and rows["ids_follow_contracts"]
    descriptions = {line[3] for line in rows["lines"]}
    assert "Internet 300 Mega (proporcional 15/30 dias)" in descriptions
    assert {"Internet 300 Mega (proporcional 9/30 dias)", "Internet 300 Mega (proporcional 1/30 dias)"} <= descriptions
    if today == period:
        assert {i[3] for i in rows["invoices"]} >= {date(2026, 11, 6), date(2026, 11, 1), date(2026, 11, 30)}
    else:
        assert {i[3] for i in rows["invoices"]} == {date(2026, 12, 8)}
    assert {i[7] for i in rows["invoices"]} == {"open", "paid"}


def test_contracts_to_bill_equals_the_orm_queryset(make_contract, make_customer):
    """The run's next chunk: active, activated before the period ended, not billed for
    the period (an earlier título does not count), above the last id, by id, limited."""
    from datetime import datetime, timezone as tz

    from agrega.billing.models import Invoice

    period, end = date(2026, 11, 1), datetime(2026, 12, 1, 3, tzinfo=tz.utc)
    customer = make_customer()
    ids = [make_contract(customer=customer).pk for _ in range(8)]
    Contract.objects.filter(pk__in=ids).update(status="A", activated_at=datetime(2026, 8, 1, 15, tzinfo=tz.utc))
    Contract.objects.filter(pk=ids[1]).update(status="C")  # not active
    Contract.objects.filter(pk=ids[2]).update(activated_at=end)  # activated after the period
    for pk, billed in ((ids[3], period), (ids[4], date(2026, 10, 1))):  # billed; billed before only
        Invoice.objects.create(contract_id=pk, customer=customer, period=billed, issued_on=billed,
                               due_date=billed, amount="10.00")
    for after, limit in ((0, 10), (0, 2), (ids[4], 10), (ids[-1], 10)):
        orm = list(sql.contracts_to_bill_orm(period, after, end)[:limit])
        assert sql.contracts_to_bill(period=period, after=after, activated_before=end, limit=limit) == orm
    assert [row[0] for row in sql.contracts_to_bill(period=period, after=0, activated_before=end, limit=10)] == [
        ids[0], *ids[4:]]


def test_contract_items_equals_the_orm(active_contract, internet):
    from agrega.contracts.models import ContractProduct

    contracts = [active_contract() for _ in range(6)]
    begins, ends = at(months_ago(1), 0), at(months_ago(0), 0)
    first = ContractProduct.objects.filter(contract=contracts[0]).order_by("id")
    first.filter(pk=first[0].pk).update(removed_at=at(months_ago(2)))  # removed before the period
    ContractProduct.objects.filter(contract=contracts[1]).update(removed_at=at(months_ago(1), 15))  # during it
    ContractProduct.objects.filter(contract=contracts[2]).update(added_at=at(months_ago(0), 1))  # after it
    ids = [c.pk for c in contracts]

    def orm(chunk):
        return [tuple(row) for row in ContractProduct.objects.filter(sql.chunk_condition(chunk), added_at__lt=ends)
                .exclude(removed_at__lt=begins).order_by("id")
                .values_list("contract_id", "id", "product_id", "price", "added_at", "removed_at")]

    for chunk in (ids, ids[:1], [ids[0], ids[-1]], ids[1:4], []):  # an id range, and ids spread out
        got = [tuple(row) for row in sql.contract_items(chunk, period_begins=begins, period_ends=ends)]
        assert got == orm(chunk) if chunk else got == []
    assert {row[0] for row in sql.contract_items(ids, period_begins=begins, period_ends=ends)} == set(ids) - {ids[2]}
