"""Campanhas SVA: contracts chosen by filters get the SVA product at the campaign's
rate; contracts without the consent the integration requires are skipped and get no
SVA user; pause, resume, cancel; every contract ends with a reason. The consented ones
converge on the real EXA sandbox."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model

from agrega.campaigns import services
from agrega.campaigns.models import Campaign, CampaignItem
from agrega.catalog.services import product_update
from agrega.consent.services import consent_record
from agrega.contracts.models import ContractEvent, ContractProduct
from agrega.contracts.services import contract_add_product, contract_cancel, contract_transition
from agrega.core.errors import ApplicationError
from agrega.core.roles import assign_role
from agrega.plans.services import plan_create
from agrega.sva.models import SvaUser

from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


def active_contract(make_contract, make_customer, **customer):
    contract = make_contract(make_customer(**customer) if customer else None)
    contract_transition(contract=contract, action="activate")
    return contract


def items(campaign) -> dict[int, tuple[str, str]]:
    return {i.contract_id: (i.status, i.reason) for i in CampaignItem.objects.filter(campaign=campaign)}


@pytest.fixture
def operator(db):
    user = get_user_model().objects.create_user("campanhista", password="x")
    assign_role(user, "operador")
    return user


def test_filters_choose_contracts_and_the_preview_counts_what_will_be_skipped(
        platform_integration, make_product, make_contract, make_customer):
    sva = make_product(platform_integration, name="EXA Segurança")
    fiber = make_product(name="Fibra 300", fiscal_class="SCM")
    plan = plan_create(name="Plano Campinas", items=[{"product_id": fiber.pk}])
    campinas = [active_contract(make_contract, make_customer, city="Campinas") for _ in range(4)]
    elsewhere = active_contract(make_contract, make_customer, city="Sorocaba")
    for contract in campinas[:3] + [elsewhere]:
        contract_add_product(contract=contract, product_id=fiber.pk)
    contract_add_product(contract=campinas[0], product_id=sva.pk)  # already has it
    contract_cancel(contract=campinas[1])
    from agrega.contracts.models import Contract

    Contract.objects.filter(pk__in=[c.pk for c in campinas]).update(sales_plan=plan)

    chosen = services.selectors.contracts_for({"city": "campinas", "has_product_id": fiber.pk})
    assert sorted(chosen.values_list("pk", flat=True)) == sorted(c.pk for c in campinas[:3])
    assert list(services.selectors.contracts_for({"city": "Campinas", "lacks_product_id": fiber.pk})
                .values_list("pk", flat=True)) == [campinas[3].pk]
    assert services.selectors.contracts_for({"sales_plan_id": plan.pk}).count() == 4
    assert services.selectors.contracts_for({"status": "D"}).count() == 1
    preview = services.campaign_preview(product_id=sva.pk, filters={"city": "Campinas"})
    assert preview == {"total": 4, "already_has": 1, "cancelled": 1, "no_consent": 0, "not_active": 0,
                       "eligible": 2, "consent_required": False}
    with pytest.raises(ApplicationError) as exc:
        services.campaign_preview(product_id=fiber.pk, filters={"colour": "azul", "status": "Z"})
    assert exc.value.code == "validation_failed"
    assert set(exc.value.fields) == {"product_id", "colour", "status"}


def test_no_consent_no_user_and_the_consented_converge_on_the_sandbox(
        make_platform_integration, make_product, make_contract, make_customer, platform_account, converge, operator,
        sandbox_kit):
    integration = make_platform_integration(auto_create_users=True, requires_consent=True)
    sva = make_product(integration, name="EXA Família", package=sandbox_kit.package_codes[1])
    contracts = [active_contract(make_contract, make_customer, city="Jundiaí") for _ in range(4)]
    for contract in contracts[:2]:
        consent_record(contract_id=contract.pk, product_id=sva.pk, channel="telefone",
                       evidence_ref=f"gravação {contract.pk}")
    preview = services.campaign_preview(product_id=sva.pk, filters={"city": "Jundiaí"})
    assert (preview["no_consent"], preview["eligible"], preview["consent_required"]) == (2, 2, True)

    campaign = services.campaign_create(name="EXA Família Jundiaí", product_id=sva.pk,
                                        filters={"city": "Jundiaí"}, rate_per_second=50, actor=operator)
    services.campaign_start(campaign=campaign, actor=operator)
    done = services.campaign_run(campaign_id=campaign.pk)
    assert done.status == "done" and (done.added, done.skipped, done.failed) == (2, 2, 0)
    outcome = items(campaign)
    for contract in contracts[:2]:
        assert outcome[contract.pk] == ("added", "sva_user_created")
    for contract in contracts[2:]:
        assert outcome[contract.pk] == ("skipped", "no_consent")
        assert not ContractProduct.objects.filter(contract=contract, product=sva).exists()
        assert not SvaUser.objects.filter(contract=contract).exists()
    item = CampaignItem.objects.get(campaign=campaign, contract=contracts[3])
    assert item.message.startswith("Sem consentimento")
    event = ContractEvent.objects.get(contract=contracts[0], action="add_product")
    assert event.actor == operator  # the campaign's author is the author of each change

    converge()
    remote = {u["external_id"]: u for u in platform_account.users()}
    assert len(remote) == 2
    for contract in contracts[:2]:
        user = SvaUser.objects.get(contract=contract)
        assert remote[user.external_id]["status"] == "active"
        assert remote[user.external_id]["package_code"] == sandbox_kit.package_codes[1]


def test_every_contract_gets_a_reason(platform_integration, make_product, make_contract, make_customer,
                                      make_platform_integration, sandbox_kit):
    sva = make_product(platform_integration, name="EXA Backup", package=sandbox_kit.package_codes[2])
    ok = active_contract(make_contract, make_customer)
    has = active_contract(make_contract, make_customer)
    contract_add_product(contract=has, product_id=sva.pk)
    cancelled = make_contract()
    contract_cancel(contract=cancelled)
    pre = make_contract()
    incomplete = active_contract(make_contract, make_customer, email="")
    campaign = services.campaign_create(name="Todos", product_id=sva.pk, rate_per_second=100)
    services.campaign_start(campaign=campaign)
    assert services.campaign_run(campaign_id=campaign.pk).status == "done"
    outcome = items(campaign)
    assert outcome[ok.pk] == ("added", "sva_user_created")
    assert outcome[has.pk] == ("skipped", "already_has_product")
    assert outcome[cancelled.pk] == ("skipped", "contract_cancelled")
    assert outcome[pre.pk] == ("added", "awaiting_activation")
    assert outcome[incomplete.pk] == ("added", "registration_incomplete")
    warn = CampaignItem.objects.get(campaign=campaign, contract=incomplete)
    assert warn.warning and "E-mail principal" in warn.message and warn.sva_user_id
    campaign.refresh_from_db()
    assert (campaign.total, campaign.added, campaign.skipped, campaign.warnings) == (5, 3, 2, 1)
    assert SvaUser.objects.filter(contract=ok).count() == 1
    assert not SvaUser.objects.filter(contract=pre).exists()

    # the product inactivated while the campaign runs: each remaining contract fails, nothing added
    c3 = services.campaign_create(name="Inativo", product_id=sva.pk, filters={"lacks_product_id": sva.pk})
    services.campaign_start(campaign=c3)
    product_update(product=sva, active=False)
    c3 = services.campaign_run(campaign_id=c3.pk)
    assert c3.failed == c3.total > 0 and {r for _, r in items(c3).values()} == {"product_inactive"}


def test_an_integration_without_automatic_creation_is_reported(make_platform_integration, make_product, make_contract,
                                                               make_customer):
    manual = make_product(make_platform_integration(auto_create_users=False), name="Manual")
    contract = active_contract(make_contract, make_customer)
    campaign = services.campaign_create(name="Manual", product_id=manual.pk, filters={"status": "A"})
    services.campaign_start(campaign=campaign)
    services.campaign_run(campaign_id=campaign.pk)
    assert items(campaign)[contract.pk] == ("added", "manual_creation")
    item = CampaignItem.objects.get(campaign=campaign)
    assert item.warning and "aba SVA" in item.message and not SvaUser.objects.exists()


def test_pause_resume_and_cancel(platform_integration, make_product, make_contract, make_customer):
    sva = make_product(platform_integration)
    contracts = [active_contract(make_contract, make_customer) for _ in range(6)]
    campaign = services.campaign_create(name="Pausa", product_id=sva.pk, rate_per_second=100)
    with pytest.raises(ApplicationError) as exc:
        services.campaign_pause(campaign=campaign)
    assert exc.value.code == "invalid_transition"
    services.campaign_start(campaign=campaign)

    def pause_after_two(current):
        if current.processed == 2:
            services.campaign_pause(campaign=current)

    paused = services.campaign_run(campaign_id=campaign.pk, progress=pause_after_two)
    assert paused.status == "paused" and paused.processed == 2
    assert SvaUser.objects.filter(contract__in=contracts).count() == 2
    with pytest.raises(ApplicationError):
        services.campaign_run(campaign_id=campaign.pk)  # a paused campaign does not run
    services.campaign_resume(campaign=campaign)
    done = services.campaign_run(campaign_id=campaign.pk)
    assert done.status == "done" and done.added == 6
    assert SvaUser.objects.filter(contract__in=contracts).count() == 6

    more = [active_contract(make_contract, make_customer) for _ in range(3)]
    cancelled = services.campaign_create(name="Cancelada", product_id=sva.pk, rate_per_second=100,
                                         filters={"lacks_product_id": sva.pk})
    services.campaign_start(campaign=cancelled)
    services.campaign_run(campaign_id=cancelled.pk, progress=lambda c: services.campaign_cancel(campaign=c))
    cancelled.refresh_from_db()
    assert cancelled.status == "cancelled" and (cancelled.total, cancelled.added, cancelled.skipped) == (3, 1, 2)
    assert sorted(r for _, r in items(cancelled).values()) == ["campaign_cancelled", "campaign_cancelled",
                                                              "sva_user_created"]
    assert SvaUser.objects.filter(contract__in=more).count() == 1
    with pytest.raises(ApplicationError):
        services.campaign_resume(campaign=cancelled)


def test_the_rate_is_respected(platform_integration, make_product, make_contract, make_customer):
    sva = make_product(platform_integration)
    contracts = [active_contract(make_contract, make_customer) for _ in range(9)]
    campaign = services.campaign_create(name="Ritmo", product_id=sva.pk, rate_per_second=4)
    services.campaign_start(campaign=campaign)
    services.campaign_run(campaign_id=campaign.pk)
    created = sorted(SvaUser.objects.filter(contract__in=contracts).values_list("created_at", flat=True))
    assert len(created) == 9
    # 4 per second: the k-th user after any other comes at least k × 250 ms later (less
    # the jitter between a slot and the row's insert, which does not accumulate)
    for i, first in enumerate(created):
        for k, later in enumerate(created[i + 1:], start=1):
            assert (later - first).total_seconds() >= k * 0.25 - 0.1, (i, k, created)
    assert (created[-1] - created[0]).total_seconds() >= 8 * 0.25 - 0.1

    # skipped contracts cost no slot: a campaign over contracts that all have the product is quick
    again = services.campaign_create(name="Ritmo 2", product_id=sva.pk, rate_per_second=1)
    services.campaign_start(campaign=again)
    started = time.monotonic()
    again = services.campaign_run(campaign_id=again.pk)
    assert again.skipped == 9 and time.monotonic() - started < 6  # paced, it would take 8 s or more


def test_run_due_campaigns_takes_free_campaigns_only(platform_integration, make_product, make_contract,
                                                     make_customer):
    sva = make_product(platform_integration)
    contracts = [active_contract(make_contract, make_customer) for _ in range(2)]
    campaign = services.campaign_create(name="Periódica", product_id=sva.pk, rate_per_second=100)
    services.campaign_start(campaign=campaign)
    from django.utils import timezone

    Campaign.objects.filter(pk=campaign.pk).update(runner="outro:1:x", heartbeat_at=timezone.now())
    assert services.run_due_campaigns(max_seconds=5) == {"campaigns": []}
    with pytest.raises(ApplicationError) as exc:
        services.campaign_run(campaign_id=campaign.pk)
    assert exc.value.code == "campaign_running_elsewhere"
    Campaign.objects.filter(pk=campaign.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(minutes=5))
    assert services.run_due_campaigns(max_seconds=5) == {"campaigns": [campaign.pk]}
    assert Campaign.objects.get(pk=campaign.pk).status == "done"
    assert SvaUser.objects.filter(contract__in=contracts).count() == 2


def test_create_refuses_what_cannot_run(make_product, platform_integration):
    fiber = make_product(name="Fibra")
    with pytest.raises(ApplicationError) as exc:
        services.campaign_create(name="", product_id=fiber.pk, rate_per_second="0")
    assert set(exc.value.fields) == {"name", "product_id", "rate_per_second"}
    assert Campaign.objects.count() == 0
