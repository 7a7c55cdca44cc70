"""Configuring the régua (dunning.services; reads in dunning.selectors): presets, stages,
trust-release limits, the default, each change with its author; and the sweep run by hand, whose date never goes
into the future nor back before a manual run already made."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from agrega.billing.services import billing_run
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_activate, contract_add_product
from agrega.core.errors import ApplicationError, ValidationFailed
from agrega.core.models import ChangeRecord
from agrega.dunning import selectors, services
from agrega.dunning.models import DunningPolicy, DunningStage
from tests.billing.fixtures_billing import at

pytestmark = pytest.mark.django_db


def stages_of(policy) -> list[tuple[int, str]]:
    return list(DunningStage.objects.filter(policy_id=policy.pk).order_by("level")
                .values_list("days_after_due", "action"))


def fields_of(exc) -> dict[str, list[str]]:
    return {k: [e.code for e in v] for k, v in exc.fields.items()}


@pytest.fixture
def overdue(make_contract, make_product):
    """An active contract whose only título fell due about three months ago (a real
    past date, since the sweep run by hand refuses future dates); returns (contract, due)."""
    period = (timezone.localdate() - timedelta(days=90)).replace(day=1)
    product = make_product(name="Internet", price="100.00", fiscal_class="SCM")

    def make():
        contract = make_contract(billing_day=10)
        contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        since = at(period - timedelta(days=40))
        Contract.objects.filter(pk=contract.pk).update(activated_at=since)
        contract.products.update(added_at=since)
        billing_run(period=period)
        contract.refresh_from_db()
        return contract, period.replace(day=10)

    return make


def test_presets_installed_by_the_migration(db):
    names = list(selectors.policy_list().values_list("name", "is_default"))
    assert names[0] == ("Anatel (RGC)", True) and ("Simples (bloqueio após 15 dias)", False) in names


def test_create_simple_preset_as_default_records_the_author(admin_user):
    old_default = DunningPolicy.objects.get(is_default=True)
    policy = services.policy_create(preset="simples", name="  Bloqueio   em 20 dias ", block_after_days=20,
                                  make_default=True, actor=admin_user)
    assert policy.name == "Bloqueio em 20 dias" and policy.is_default and policy.preset == "simples"
    assert stages_of(policy) == [(20, "block_automatic")]
    assert not DunningPolicy.objects.get(pk=old_default.pk).is_default
    record = ChangeRecord.objects.get(object_type="dunning.dunningpolicy", object_id=str(policy.pk))
    assert record.action == "create" and record.actor == admin_user
    assert record.changes["stages"] == [None, "20d block_automatic"]


def test_create_anatel_copy_keeps_the_four_stages():
    policy = services.policy_create(preset="anatel", name="Anatel 2")
    assert stages_of(policy) == [(1, "notice"), (16, "partial_suspension"), (46, "block_automatic"),
                                 (76, "rescind")]
    assert not policy.is_default


@pytest.mark.parametrize("kw,fields", [
    ({"preset": "rigida"}, {"preset": ["preset_unknown"]}),
    ({"preset": "anatel", "block_after_days": 10}, {"block_after_days": ["block_days_not_applicable"]}),
    ({"preset": "simples", "block_after_days": 0}, {"block_after_days": ["value_out_of_range"]}),
    ({"preset": "simples", "block_after_days": 400}, {"block_after_days": ["value_out_of_range"]}),
    ({"preset": "simples", "name": "x" * 101}, {"name": ["text_too_long"]}),
])
def test_create_refuses_bad_input(kw, fields):
    before = DunningPolicy.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.policy_create(**kw)
    assert fields_of(caught.value) == fields
    assert DunningPolicy.objects.count() == before


def test_create_refuses_a_name_in_use():
    with pytest.raises(ApplicationError) as caught:
        services.policy_create(preset="anatel")  # "Anatel (RGC)" exists
    assert (caught.value.code, caught.value.status_code) == ("policy_exists", 409)


def test_replace_stages_and_refusals_leave_the_stages_as_they_were(admin_user):
    policy = DunningPolicy.objects.get(name="Simples (bloqueio após 15 dias)")
    services.policy_replace_stages(policy_id=policy.pk, actor=admin_user, stages=[
        {"days_after_due": 3, "action": "notice"}, {"days_after_due": 10, "action": "block_overdue"}])
    assert stages_of(policy) == [(3, "notice"), (10, "block_overdue")]
    record = ChangeRecord.objects.filter(object_id=str(policy.pk), action="stages").get()
    assert record.changes == {"stages": ["15d block_automatic", "3d notice, 10d block_overdue"]}
    with pytest.raises(ValidationFailed) as caught:
        services.policy_replace_stages(policy_id=policy.pk, stages=[
            {"days_after_due": 10, "action": "notice"}, {"days_after_due": 10, "action": "suspend_all"},
            {"days_after_due": 0, "action": "rescind"}])
    assert fields_of(caught.value) == {"stages.2.days_after_due": ["days_not_increasing"],
                                       "stages.2.action": ["action_invalid"],
                                       "stages.3.days_after_due": ["days_invalid"]}
    with pytest.raises(ValidationFailed) as caught:
        services.policy_replace_stages(policy_id=policy.pk, stages=[])
    assert fields_of(caught.value) == {"stages": ["stages_empty"]}
    assert stages_of(policy) == [(3, "notice"), (10, "block_overdue")]
    with pytest.raises(ApplicationError) as caught:
        services.policy_replace_stages(policy_id=999999, stages=[{"days_after_due": 1, "action": "notice"}])
    assert caught.value.code == "policy_not_found"


def test_update_trust_limits_and_move_the_default(admin_user):
    simple = DunningPolicy.objects.get(preset="simples")
    anatel = DunningPolicy.objects.get(is_default=True)
    policy = services.policy_update(policy_id=simple.pk, trust_release_days=5, trust_release_max_uses=2,
                                  trust_release_period_days=60, is_default=True, actor=admin_user)
    assert (policy.trust_release_days, policy.trust_release_max_uses, policy.trust_release_period_days,
            policy.is_default) == (5, 2, 60, True)
    assert not DunningPolicy.objects.get(pk=anatel.pk).is_default
    record = ChangeRecord.objects.filter(object_id=str(simple.pk), action="update").get()
    assert record.changes == {"is_default": [False, True], "trust_release_days": [3, 5],
                              "trust_release_max_uses": [1, 2], "trust_release_period_days": [30, 60]}
    # the default is moved, never removed
    with pytest.raises(ApplicationError) as caught:
        services.policy_update(policy_id=simple.pk, is_default=False)
    assert (caught.value.code, caught.value.status_code) == ("policy_default_required", 409)
    # nothing changed: nothing recorded
    services.policy_update(policy_id=simple.pk, trust_release_days=5)
    assert ChangeRecord.objects.filter(object_id=str(simple.pk), action="update").count() == 1


def test_update_refuses_limits_out_of_range_and_a_name_in_use():
    simple = DunningPolicy.objects.get(preset="simples")
    with pytest.raises(ValidationFailed) as caught:
        services.policy_update(policy_id=simple.pk, trust_release_days=0, trust_release_max_uses=31,
                             trust_release_period_days=366, name="Anatel (RGC)")
    assert fields_of(caught.value) == {"trust_release_days": ["value_out_of_range"],
                                       "trust_release_max_uses": ["value_out_of_range"],
                                       "trust_release_period_days": ["value_out_of_range"],
                                       "name": ["policy_exists"]}
    simple.refresh_from_db()
    assert simple.trust_release_days == 3


def test_edit_saves_all_or_nothing_and_reports_both_kinds_of_error():
    simple = DunningPolicy.objects.get(preset="simples")
    with pytest.raises(ValidationFailed) as caught:
        services.policy_edit(policy_id=simple.pk, name="Nova", trust_release_days=99,
                           stages=[{"days_after_due": 5, "action": "notice"}, {"days_after_due": 4, "action": "x"}])
    assert set(caught.value.fields) == {"trust_release_days", "stages.2.days_after_due", "stages.2.action"}
    # stages fine, a field wrong: the stages are not saved either
    with pytest.raises(ValidationFailed):
        services.policy_edit(policy_id=simple.pk, name="Nova", trust_release_days=99,
                           stages=[{"days_after_due": 5, "action": "notice"}])
    simple.refresh_from_db()
    assert simple.name == "Simples (bloqueio após 15 dias)" and stages_of(simple) == [(15, "block_automatic")]
    policy = services.policy_edit(policy_id=simple.pk, name="Nova", trust_release_days=7,
                                stages=[{"days_after_due": 5, "action": "notice"}])
    assert (policy.name, policy.trust_release_days, stages_of(policy)) == ("Nova", 7, [(5, "notice")])


def test_new_stages_are_what_the_sweep_applies(overdue, admin_user):
    contract, due = overdue()
    default = DunningPolicy.objects.get(is_default=True)
    services.policy_replace_stages(policy_id=default.pk, stages=[{"days_after_due": 5, "action": "block_automatic"}])
    result = services.sweep_run(today=due + timedelta(days=4), actor=admin_user)
    contract.refresh_from_db()
    assert contract.access_status == AS.ACTIVE and result.access_changed == 0
    result = services.sweep_run(today=due + timedelta(days=5), actor=admin_user)
    contract.refresh_from_db()
    assert (contract.access_status, contract.dunning_level) == (AS.AUTOMATIC_BLOCK, 1)
    assert result.access_changed == 1 and result.by_stage == {
        "Anatel (RGC) · 1: Suspensão total / bloqueio automático (CA)": 1}
    record = selectors.last_manual_sweep()
    assert record.object_id == (due + timedelta(days=5)).isoformat() and record.actor == admin_user
    assert record.changes["access_changed"] == 1


def test_sweep_date_is_never_in_the_future_nor_before_a_manual_run(overdue):
    contract, due = overdue()
    today = timezone.localdate()
    with pytest.raises(ApplicationError) as caught:
        services.sweep_run(today=today + timedelta(days=1))
    assert (caught.value.code, caught.value.status_code) == ("sweep_date_future", 422)
    services.sweep_run(today=due + timedelta(days=20))
    contract.refresh_from_db()
    assert (contract.access_status, contract.dunning_level) == (AS.OVERDUE, 2)
    # going back in time would lift the block of a contract that still owes
    with pytest.raises(ApplicationError) as caught:
        services.sweep_run(today=due - timedelta(days=1))
    assert caught.value.code == "sweep_date_before_last"
    contract.refresh_from_db()
    assert contract.access_status == AS.OVERDUE
    assert services.sweep_run().today == today  # today is always fine
