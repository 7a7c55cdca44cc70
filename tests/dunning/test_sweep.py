"""The régua: stages applied by the daily sweep at their boundaries, release on
payment, trust releases and their limits."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agrega.billing.services import billing_run, invoice_cancel, payment_register
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.choices import ContractStatus as CS
from agrega.contracts.models import Contract, ContractEvent
from agrega.contracts.services import contract_activate, contract_add_product, contract_block_manual
from agrega.core.errors import ApplicationError
from agrega.dunning.models import DunningNotice, DunningPolicy, TrustRelease
from agrega.dunning.services import dunning_sweep, expire_trust_releases, policy_from_preset, trust_release
from tests.billing.fixtures_billing import at

PERIOD = date(2026, 10, 1)
DUE = date(2026, 10, 10)


@pytest.fixture
def billed(make_contract, make_product):
    """An active contract with one open título due on DUE."""
    product = make_product(name="Internet", price="100.00", fiscal_class="SCM")

    def make(**kw):
        contract = make_contract(billing_day=10, **kw)
        contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        Contract.objects.filter(pk=contract.pk).update(activated_at=at(date(2026, 8, 1)))
        contract.products.update(added_at=at(date(2026, 8, 1)))
        billing_run(period=PERIOD)
        contract.refresh_from_db()
        return contract

    return make


def state(contract):
    contract.refresh_from_db()
    return contract.status, contract.access_status, contract.dunning_level


def test_anatel_preset_is_the_default_with_its_four_stages(db):
    policy = DunningPolicy.objects.get(is_default=True)
    assert policy.preset == "anatel"
    assert [(s.days_after_due, s.action) for s in policy.stages.all()] == [
        (1, "notice"), (16, "partial_suspension"), (46, "block_automatic"), (76, "rescind")]


@pytest.mark.parametrize("days_late,expected", [
    (0, (CS.ACTIVE, AS.ACTIVE, 0)),          # due today: not overdue
    (1, (CS.ACTIVE, AS.ACTIVE, 1)),          # notice
    (15, (CS.ACTIVE, AS.ACTIVE, 1)),         # one day before partial suspension
    (16, (CS.ACTIVE, AS.OVERDUE, 2)),
    (45, (CS.ACTIVE, AS.OVERDUE, 2)),
    (46, (CS.ACTIVE, AS.AUTOMATIC_BLOCK, 3)),
    (47, (CS.ACTIVE, AS.AUTOMATIC_BLOCK, 3)),
    (75, (CS.ACTIVE, AS.AUTOMATIC_BLOCK, 3)),
    (76, (CS.NEGATIVADO, AS.DISABLED, 4)),
])
def test_anatel_stage_boundaries(billed, days_late, expected):
    contract = billed()
    dunning_sweep(today=DUE + timedelta(days=days_late))
    assert state(contract) == expected


def test_sweep_is_idempotent_and_records_each_stage_once(billed):
    contract = billed()
    for _ in range(3):
        dunning_sweep(today=DUE + timedelta(days=50))
    actions = list(ContractEvent.objects.filter(contract=contract, actor_label="régua de cobrança")
                   .order_by("id").values_list("action", "to_access_status"))
    assert actions == [("dunning_notice", "A"), ("dunning_stage", "FA"), ("dunning_stage", "CA")]
    assert DunningNotice.objects.filter(contract=contract).count() == 1
    assert contract.invoices.get().due_date == DUE


def test_manual_block_stays_manual_but_the_stage_is_recorded(billed):
    contract = billed()
    contract_block_manual(contract=contract)
    dunning_sweep(today=DUE + timedelta(days=20))
    assert state(contract) == (CS.ACTIVE, AS.MANUAL_BLOCK, 2)
    payment_register(invoice_id=contract.invoices.get().pk, amount="100.00")
    assert state(contract) == (CS.ACTIVE, AS.MANUAL_BLOCK, 0)


def test_payment_releases_at_once_and_partial_payment_does_not(billed):
    contract = billed()
    dunning_sweep(today=DUE + timedelta(days=50))
    invoice = contract.invoices.get()
    out = payment_register(invoice_id=invoice.pk, amount="40,00", external_id="pix-1", provider="banco")
    assert out.created and state(contract)[1] == AS.AUTOMATIC_BLOCK
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("60.00") and invoice.status == "open"
    payment_register(invoice_id=invoice.pk, amount="60.00", external_id="pix-2", provider="banco")
    assert state(contract) == (CS.ACTIVE, AS.ACTIVE, 0)
    event = ContractEvent.objects.filter(contract=contract).first()
    assert (event.action, event.from_access_status, event.to_access_status) == ("payment_release", "CA", "A")


def test_payment_of_the_oldest_leaves_the_contract_blocked_while_a_newer_is_overdue(billed):
    contract = billed()
    billing_run(period=date(2026, 11, 1))
    dunning_sweep(today=date(2026, 11, 20))  # October 41 days late, November 10
    assert state(contract)[1] == AS.OVERDUE
    oldest = contract.invoices.order_by("due_date").first()
    payment_register(invoice_id=oldest.pk, amount="100.00")
    contract.refresh_from_db()
    assert contract.oldest_open_due == date(2026, 11, 10) and contract.access_status == AS.OVERDUE


def test_cancelling_the_overdue_invoice_releases_too(billed):
    contract = billed()
    dunning_sweep(today=DUE + timedelta(days=20))
    invoice_cancel(invoice_id=contract.invoices.get().pk, reason="cobrança indevida")
    assert state(contract) == (CS.ACTIVE, AS.ACTIVE, 0)


def test_simple_preset_blocks_after_n_days_only(billed):
    policy = policy_from_preset(preset="simples", block_after_days=5)
    contract = billed()
    Contract.objects.filter(pk=contract.pk).update(dunning_policy=policy)
    dunning_sweep(today=DUE + timedelta(days=4))
    assert state(contract) == (CS.ACTIVE, AS.ACTIVE, 0)
    dunning_sweep(today=DUE + timedelta(days=5))
    assert state(contract) == (CS.ACTIVE, AS.AUTOMATIC_BLOCK, 1)
    assert not DunningNotice.objects.filter(contract=contract).exists()


def test_overpayment_becomes_credit_on_the_next_invoice(billed):
    from agrega.billing.services import contract_credit_balance

    contract = billed()
    payment_register(invoice_id=contract.invoices.get().pk, amount="130.00")
    assert contract_credit_balance(contract.pk) == Decimal("30.00")
    billing_run(period=date(2026, 11, 1))
    nov = contract.invoices.get(period=date(2026, 11, 1))
    assert (nov.credit_applied, nov.amount) == (Decimal("30.00"), Decimal("70.00"))
    assert contract_credit_balance(contract.pk) == Decimal("0.00")


def test_payment_id_applies_once_and_cannot_be_reused_for_other_data(billed):
    contract = billed()
    invoice = contract.invoices.get()
    first = payment_register(invoice_id=invoice.pk, amount="50.00", external_id="abc", provider="gw")
    again = payment_register(invoice_id=invoice.pk, amount="50.00", external_id="abc", provider="gw")
    assert first.created and not again.created and again.payment.pk == first.payment.pk
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("50.00")
    with pytest.raises(ApplicationError) as exc:
        payment_register(invoice_id=invoice.pk, amount="51.00", external_id="abc", provider="gw")
    assert exc.value.code == "payment_id_reused"


# "1.001" is R$ 1.001,00 (a thousands group, core/money.py); three decimals are written "1,001"
@pytest.mark.parametrize("amount", ["0", "-1", "abc", "1,001", "1.0015", "NaN", "Infinity"])
def test_bad_amounts_are_refused_and_change_nothing(billed, amount):
    contract = billed()
    with pytest.raises(ApplicationError):
        payment_register(invoice_id=contract.invoices.get().pk, amount=amount)
    assert contract.invoices.get().paid_amount == 0


def test_trust_release_for_n_days_then_blocked_again_when_it_expires_unpaid(billed):
    contract = billed()
    dunning_sweep(today=DUE + timedelta(days=20))
    now = at(DUE + timedelta(days=20))
    release = trust_release(contract_id=contract.pk, days=2, now=now)
    assert state(contract) == (CS.ACTIVE, AS.ACTIVE, 2)
    # the sweep leaves it alone while the release lasts
    dunning_sweep(today=DUE + timedelta(days=21), now=now + timedelta(days=1))
    assert state(contract)[1] == AS.ACTIVE
    assert expire_trust_releases(now=now + timedelta(days=2), today=DUE + timedelta(days=22)) == 1
    assert state(contract) == (CS.ACTIVE, AS.OVERDUE, 2)
    release.refresh_from_db()
    assert release.ended_reason == "expired"


def test_trust_release_ends_by_payment(billed):
    contract = billed()
    dunning_sweep(today=DUE + timedelta(days=50))
    release = trust_release(contract_id=contract.pk)
    payment_register(invoice_id=contract.invoices.get().pk, amount="100.00")
    release.refresh_from_db()
    contract.refresh_from_db()
    assert release.ended_reason == "paid" and contract.trust_release_until is None
    assert expire_trust_releases(now=timezone.now() + timedelta(days=30)) == 0
    assert state(contract) == (CS.ACTIVE, AS.ACTIVE, 0)


def test_trust_release_is_limited_per_period_and_only_for_dunning_blocks(billed):
    contract = billed()
    with pytest.raises(ApplicationError) as exc:
        trust_release(contract_id=contract.pk)
    assert exc.value.code == "trust_release_not_blocked"
    dunning_sweep(today=DUE + timedelta(days=20))
    now = at(DUE + timedelta(days=20))
    trust_release(contract_id=contract.pk, days=1, now=now)
    expire_trust_releases(now=now + timedelta(days=1), today=DUE + timedelta(days=21))
    with pytest.raises(ApplicationError) as exc:
        trust_release(contract_id=contract.pk, now=now + timedelta(days=2))
    assert exc.value.code == "trust_release_limit"
    with pytest.raises(ApplicationError) as exc:
        trust_release(contract_id=contract.pk, days=99, now=now + timedelta(days=40))
    assert exc.value.code == "trust_days_invalid"
    # a new period: allowed again
    trust_release(contract_id=contract.pk, now=now + timedelta(days=31))
    assert TrustRelease.objects.filter(contract=contract).count() == 2
