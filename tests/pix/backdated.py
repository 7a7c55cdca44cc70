"""A contract active for months with a título billed two months back: the setup the PIX
notice and access tests share (the régua then finds the título overdue)."""

from __future__ import annotations

from agrega.billing.models import Invoice
from agrega.billing.services import billing_run
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate
from tests.billing.fixtures_billing import at, months_ago


def activated_months_ago(contract: Contract, months: int = 4) -> None:
    """Activate ``contract`` and date it and its products back to the first of that month."""
    contract_activate(contract=contract)
    start = months_ago(months)
    Contract.objects.filter(pk=contract.pk).update(activated_at=at(start))
    contract.products.update(added_at=at(start))


def billed_months_ago(contract: Contract, months: int = 2) -> Invoice:
    """The billing run of that month's period, and the contract's título from it."""
    billing_run(period=months_ago(months))
    return Invoice.objects.get(contract=contract)
