"""Helpers shared by the billing entry-point tests (imported, not a conftest): contracts
billed by the real billing run, blocked by the real dunning sweep, users with roles."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone


def months_ago(n: int, today: date | None = None) -> date:
    """First day of the month ``n`` months before today's."""
    day = (today or timezone.localdate()).replace(day=1)
    for _ in range(n):
        day = (day - timedelta(days=1)).replace(day=1)
    return day


def at(day: date, hour: int = 12):
    return timezone.make_aware(datetime.combine(day, datetime.min.time()).replace(hour=hour))


@pytest.fixture
def internet(make_product):
    return make_product(name="Internet 300 Mega", price="99.90", fiscal_class="SCM")


@pytest.fixture
def security(make_product):
    return make_product(name="Segurança Digital", price="10.00", fiscal_class="SVA")


@pytest.fixture
def active_contract(make_contract, internet, security):
    """An active contract (Internet 99,90 SCM + Segurança 10,00 SVA) activated long ago."""
    from agrega.contracts.models import Contract
    from agrega.contracts.services import contract_activate, contract_add_product

    def make(*, billing_day: int = 10, products=None, activated_on: date | None = None, **kw):
        contract = make_contract(billing_day=billing_day, **kw)
        for product in products or (internet, security):
            contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        start = activated_on or months_ago(6)
        Contract.objects.filter(pk=contract.pk).update(activated_at=at(start))
        contract.products.update(added_at=at(start))
        contract.refresh_from_db()
        return contract

    return make


@pytest.fixture
def billed(active_contract):
    """An active contract and its open título (109,90) for a period ``months`` back."""
    from agrega.billing.models import Invoice
    from agrega.billing.services import billing_run

    def make(*, months: int = 2, **kw):
        contract = active_contract(**kw)
        billing_run(period=months_ago(months))
        contract.refresh_from_db()
        return contract, Invoice.objects.get(contract=contract, period=months_ago(months))

    return make


@pytest.fixture
def blocked(billed):
    """A contract the régua put in FA (financeiro em atraso) for its unpaid título."""
    from agrega.dunning.services import dunning_sweep

    def make(days_late: int = 20, **kw):
        contract, invoice = billed(**kw)
        dunning_sweep(today=invoice.due_date + timedelta(days=days_late))
        contract.refresh_from_db()
        return contract, invoice

    return make


@pytest.fixture
def billed_long_ago(make_contract, make_product):
    """An active contract (one SCM product, 80,00, billing day 10) whose título of three
    months ago is open: ``(contract, due date)``, for a sweep to find it overdue."""
    from agrega.billing.services import billing_run
    from agrega.contracts.models import Contract
    from agrega.contracts.services import contract_activate, contract_add_product

    def make():
        period = months_ago(3)
        contract = make_contract(billing_day=10)
        contract_add_product(contract=contract, product_id=make_product(price="80.00", fiscal_class="SCM").pk)
        contract_activate(contract=contract)
        since = at(period - timedelta(days=40), hour=0)
        Contract.objects.filter(pk=contract.pk).update(activated_at=since)
        contract.products.update(added_at=since)
        billing_run(period=period)
        return contract, period.replace(day=10)

    return make
