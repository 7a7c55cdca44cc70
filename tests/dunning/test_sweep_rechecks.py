"""The sweep's write re-checks the state it read (docs/decisions/0006, 5): what an
operator, a payment or another sweep did between the sweep's read and its write wins.

The interleaving is made deterministic by running the other action right after the
sweep has read its candidates (``_write_groups`` is where the writes begin); everything
else is the real sweep on the real database."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from agrega.billing.services import billing_run, payment_register
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.choices import ContractStatus as CS
from agrega.contracts.models import Contract, ContractEvent
from agrega.contracts.services import contract_activate, contract_add_product, contract_block_manual
from agrega.dunning import services
from agrega.dunning.models import DunningNotice, DunningPolicy
from agrega.dunning.services import dunning_sweep
from tests.billing.fixtures_billing import at

PERIOD = date(2026, 10, 1)
DUE = date(2026, 10, 10)


@pytest.fixture
def overdue(make_contract, make_product):
    """An active contract with one open título (R$ 100,00) due on DUE."""
    product = make_product(name="Internet", price="100.00", fiscal_class="SCM")
    contract = make_contract(billing_day=10)
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    Contract.objects.filter(pk=contract.pk).update(activated_at=at(date(2026, 8, 1)))
    contract.products.update(added_at=at(date(2026, 8, 1)))
    billing_run(period=PERIOD, today=PERIOD)
    contract.refresh_from_db()
    return contract


@pytest.fixture
def between_read_and_write(monkeypatch):
    """Run ``action`` once, after the sweep read its candidates and before it writes."""

    def install(action):
        real = services._write_groups
        done = []

        def write_groups(*args, **kwargs):
            if not done:
                done.append(True)
                action()
            return real(*args, **kwargs)

        monkeypatch.setattr(services, "_write_groups", write_groups)

    return install


def state(contract):
    contract.refresh_from_db()
    return contract.status, contract.access_status, contract.dunning_level


def test_a_payment_between_read_and_write_leaves_the_contract_alone(overdue, between_read_and_write):
    invoice = overdue.invoices.get()
    between_read_and_write(lambda: payment_register(invoice_id=invoice.pk, amount="100,00",
                                                    paid_on=DUE + timedelta(days=19)))
    result = dunning_sweep(today=DUE + timedelta(days=20))
    assert state(overdue) == (CS.ACTIVE, AS.ACTIVE, 0)
    assert result.access_changed == 0 and not DunningNotice.objects.filter(contract=overdue).exists()


def test_a_manual_block_between_read_and_write_stays_manual(overdue, between_read_and_write):
    between_read_and_write(lambda: contract_block_manual(contract=overdue, note="pedido do cliente"))
    dunning_sweep(today=DUE + timedelta(days=20))
    # read again after the skip: the stages are recorded, the manual block kept, and the
    # one notice is the notice stage's (the FA stage that changed nothing sends none)
    assert state(overdue) == (CS.ACTIVE, AS.MANUAL_BLOCK, 2)
    assert list(DunningNotice.objects.filter(contract=overdue).values_list("level", flat=True)) == [1]


def test_another_sweep_between_read_and_write_is_not_repeated(overdue, between_read_and_write):
    day = DUE + timedelta(days=1)  # the notice stage: no access change, only the level tells
    between_read_and_write(lambda: dunning_sweep(today=day))
    dunning_sweep(today=day)
    assert state(overdue) == (CS.ACTIVE, AS.ACTIVE, 1)
    assert DunningNotice.objects.filter(contract=overdue).count() == 1
    assert ContractEvent.objects.filter(contract=overdue, action="dunning_notice").count() == 1


def test_a_policy_without_stages_is_skipped(overdue):
    """A régua saved without stages (e.g. from the admin) does not stop the sweep."""
    DunningPolicy.objects.create(name="Vazia")
    result = dunning_sweep(today=DUE + timedelta(days=20))
    assert state(overdue) == (CS.ACTIVE, AS.OVERDUE, 2) and result.access_changed == 1


def test_nothing_is_applied_after_a_rescission(overdue):
    """A régua may list stages after the rescission; a negativado contract goes through
    none of them."""
    from agrega.dunning.services import policy_create, policy_replace_stages

    policy = policy_create(preset="simples", name="Rescinde cedo", make_default=True)
    policy_replace_stages(policy_id=policy.pk, stages=[{"days_after_due": 5, "action": "rescind"},
                                                       {"days_after_due": 10, "action": "notice"}])
    dunning_sweep(today=DUE + timedelta(days=20))
    assert state(overdue) == (CS.NEGATIVADO, AS.DISABLED, 1)
    assert not DunningNotice.objects.filter(contract=overdue).exists()
    assert list(ContractEvent.objects.filter(contract=overdue, action__in=["rescind", "dunning_notice",
                                                                            "dunning_stage"])
                .values_list("action", flat=True)) == ["rescind"]


@pytest.mark.parametrize("kw,code", [
    ({"preset": "desconhecido"}, "preset_unknown"),
    ({"preset": "anatel", "block_after_days": 10}, "days_not_applicable"),
    ({"preset": "simples", "block_after_days": 0}, "days_invalid"),
    ({"preset": "simples", "block_after_days": 366}, "days_invalid"),
    ({"preset": "simples", "block_after_days": "10"}, "days_invalid"),
])
def test_the_service_refuses_a_bad_preset_or_block_days_itself(db, kw, code):
    """``policy_from_preset`` is also called without the configuration's checks
    (``default_policy``): it keeps its own."""
    from agrega.core.errors import ApplicationError
    from agrega.dunning.services import policy_from_preset

    count = DunningPolicy.objects.count()
    with pytest.raises(ApplicationError) as caught:
        policy_from_preset(name="Nova", **kw)
    assert caught.value.code == code and DunningPolicy.objects.count() == count


# ---------------------------------------------------------------- release and trust releases

def test_a_titulo_due_today_is_not_overdue_so_the_contract_is_released(overdue):
    from agrega.dunning.services import release_settled

    billing_run(period=date(2026, 11, 1), today=date(2026, 11, 1))  # due 10/11
    dunning_sweep(today=DUE + timedelta(days=20))
    assert state(overdue) == (CS.ACTIVE, AS.OVERDUE, 2)
    october = overdue.invoices.get(period=PERIOD)
    payment_register(invoice_id=october.pk, amount="100,00", paid_on=date(2026, 11, 9))
    assert release_settled(today=date(2026, 11, 10), contract_ids=[overdue.pk]) == 1
    assert state(overdue) == (CS.ACTIVE, AS.ACTIVE, 0)


def test_paying_a_rescinded_contract_keeps_its_status_and_stage(overdue):
    dunning_sweep(today=DUE + timedelta(days=80))
    assert state(overdue) == (CS.NEGATIVADO, AS.DISABLED, 4)
    payment_register(invoice_id=overdue.invoices.get().pk, amount="100,00", paid_on=DUE + timedelta(days=40))
    assert state(overdue) == (CS.NEGATIVADO, AS.DISABLED, 4)


def test_payment_ends_the_trust_release_at_that_moment(overdue):
    from agrega.dunning.models import TrustRelease
    from agrega.dunning.services import trust_release

    dunning_sweep(today=DUE + timedelta(days=20))
    release = trust_release(contract_id=overdue.pk)
    before = timezone.now()
    payment_register(invoice_id=overdue.invoices.get().pk, amount="100,00")
    release = TrustRelease.objects.get(pk=release.pk)
    assert release.ended_reason == "paid" and release.ended_at is not None and release.ended_at >= before


def test_a_manual_block_during_a_trust_release_survives_its_expiry(overdue):
    from agrega.dunning.services import expire_trust_releases, trust_release

    dunning_sweep(today=DUE + timedelta(days=20))
    now = at(DUE + timedelta(days=20))
    trust_release(contract_id=overdue.pk, days=2, now=now)
    contract_block_manual(contract=overdue, note="fraude")
    assert expire_trust_releases(now=now + timedelta(days=2), today=DUE + timedelta(days=22)) == 0
    assert state(overdue) == (CS.ACTIVE, AS.MANUAL_BLOCK, 2)
