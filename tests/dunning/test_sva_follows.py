"""SVA access follows the money, end to end against the real EXA sandbox: a título goes
overdue, the sweep blocks the contract, the worker blocks the user on the platform, a
payment releases both; a trust release opens access until it expires unpaid."""

import threading
from datetime import date, timedelta

import pytest
from django.db import connection, transaction

from agrega.billing.services import billing_run, payment_register
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.choices import ContractStatus as CS
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate, contract_add_product
from agrega.dunning.services import dunning_sweep, expire_trust_releases, trust_release
from tests.fixtures import default_platform_only
from tests.billing.fixtures_billing import at

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


PERIOD = date(2026, 10, 1)
DUE = date(2026, 10, 10)


@pytest.fixture
def sva_contract(platform_integration, make_product, make_contract):
    """An active contract with internet + an EXA product, billed for October."""
    internet = make_product(name="Internet 500 Mega", price="99.90", fiscal_class="SCM")
    exa = make_product(platform_integration, name="EXA Segurança", price="9.90", fiscal_class="SVA")
    contract = make_contract(billing_day=10)
    contract_add_product(contract=contract, product_id=internet.pk)
    contract_add_product(contract=contract, product_id=exa.pk)
    contract_activate(contract=contract)
    Contract.objects.filter(pk=contract.pk).update(activated_at=at(date(2026, 8, 1)))
    contract.products.update(added_at=at(date(2026, 8, 1)))
    billing_run(period=PERIOD)
    return contract


def platform_status(platform_account, contract):
    user = contract.sva_users.get()
    return platform_account.user(user.external_id)["status"]


def test_overdue_blocks_on_the_platform_and_payment_releases(sva_contract, platform_account, converge):
    converge()
    assert platform_status(platform_account, sva_contract) == "active"
    dunning_sweep(today=DUE + timedelta(days=1))  # notice only
    converge()
    assert platform_status(platform_account, sva_contract) == "active"
    dunning_sweep(today=DUE + timedelta(days=16))  # partial suspension: FA
    converge()
    assert platform_status(platform_account, sva_contract) == "blocked"
    invoice = sva_contract.invoices.get()
    assert invoice.amount.to_eng_string() == "109.80"
    payment_register(invoice_id=invoice.pk, amount="109,80", external_id="e2e-1", provider="pix")
    sva_contract.refresh_from_db()
    assert sva_contract.access_status == AS.ACTIVE
    converge()
    assert platform_status(platform_account, sva_contract) == "active"


def test_trust_release_opens_access_until_it_expires_unpaid(sva_contract, platform_account, converge):
    dunning_sweep(today=DUE + timedelta(days=50))  # total suspension: CA
    converge()
    assert platform_status(platform_account, sva_contract) == "blocked"
    release = trust_release(contract_id=sva_contract.pk, days=2)
    converge()
    assert platform_status(platform_account, sva_contract) == "active"
    assert expire_trust_releases(now=release.ends_at - timedelta(minutes=1)) == 0
    assert expire_trust_releases(now=release.ends_at + timedelta(minutes=1)) == 1
    sva_contract.refresh_from_db()
    assert sva_contract.access_status == AS.AUTOMATIC_BLOCK
    converge()
    assert platform_status(platform_account, sva_contract) == "blocked"
    timeline = [c.operation for c in sva_contract.sva_users.get().calls.order_by("id") if c.operation != "auth_token"]
    assert timeline == ["create_user", "unblock_user", "block_user"]  # created blocked, opened, blocked again


def test_rescission_blocks_the_user_and_negativates_the_contract(sva_contract, platform_account, converge):
    converge()
    dunning_sweep(today=DUE + timedelta(days=76))
    sva_contract.refresh_from_db()
    assert (sva_contract.status, sva_contract.access_status) == (CS.NEGATIVADO, AS.DISABLED)
    assert sva_contract.ended_at is not None
    converge()
    assert platform_status(platform_account, sva_contract) == "blocked"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["payment", "sweep"])
def test_a_payment_during_the_sweep_leaves_the_contract_released(first, make_product, make_contract):
    """Whichever commits first, a paid contract ends released (PostgreSQL row locks;
    SQLite serialises writers)."""
    product = make_product(name="Internet", price="100.00", fiscal_class="SCM")
    contract = make_contract(billing_day=10)
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    Contract.objects.filter(pk=contract.pk).update(activated_at=at(date(2026, 8, 1)))
    contract.products.update(added_at=at(date(2026, 8, 1)))
    billing_run(period=PERIOD)
    invoice = contract.invoices.get()
    holding, release_hold, errors = threading.Event(), threading.Event(), []

    def pay():
        try:
            with transaction.atomic():
                payment_register(invoice_id=invoice.pk, amount="100.00")
                if first == "payment":
                    holding.set()
                    release_hold.wait(10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def sweep():
        try:
            with transaction.atomic():
                dunning_sweep(today=DUE + timedelta(days=20))
                if first == "sweep":
                    holding.set()
                    release_hold.wait(10)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    order = (pay, sweep) if first == "payment" else (sweep, pay)
    a = threading.Thread(target=order[0])
    a.start()
    assert holding.wait(10)
    b = threading.Thread(target=order[1])
    b.start()
    b.join(0.5)  # b is now waiting for a's lock (or, on SQLite, for the write lock)
    release_hold.set()
    a.join(20)
    b.join(20)
    assert not errors, errors
    contract.refresh_from_db()
    assert (contract.status, contract.access_status) == (CS.ACTIVE, AS.ACTIVE)
    assert contract.oldest_open_due is None
