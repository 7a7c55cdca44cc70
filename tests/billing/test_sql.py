"""billing.sql against the ORM, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.models import Q

from agrega.billing import sql
from agrega.contracts.models import Contract

pytestmark = pytest.mark.django_db

DUES = [None, date(2026, 10, 10), date(2026, 12, 10), date(2027, 1, 10)]


def test_lower_open_due_equals_the_orm_update(make_contract, make_customer):
    customer = make_customer()
    by_sql, by_orm = [], []
    for ids in (by_sql, by_orm):
        for due in DUES:
            contract = make_contract(customer=customer)
            Contract.objects.filter(pk=contract.pk).update(oldest_open_due=due)
            ids.append(contract.pk)
    new_due = date(2026, 12, 10)
    sql.lower_open_due(new_due, by_sql)
    Contract.objects.filter(pk__in=by_orm).filter(Q(oldest_open_due__isnull=True) | Q(oldest_open_due__gt=new_due)) \
        .update(oldest_open_due=new_due)

    def dues(ids):
        found = dict(Contract.objects.filter(pk__in=ids).values_list("pk", "oldest_open_due"))
        return [found[pk] for pk in ids]

    assert dues(by_sql) == dues(by_orm) == [new_due, date(2026, 10, 10), new_due, new_due]
    sql.lower_open_due(new_due, [])  # nothing to do


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
