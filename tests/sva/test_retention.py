"""Cancelled contracts leave no account behind: a cancellation (status D) blocks the SVA
users at once; the periodic job ``sva.remove_cancelled`` removes them, here and on the
platform, once the retention period (settings.SVA_CANCELLED_RETENTION_DAYS, 30 days) has
passed since the cancellation. The SVA tab, the user's page and the API show the date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agrega.contracts.models import Contract
from agrega.contracts.services import contract_add_product, contract_transition
from agrega.core.jobs import job_specs, run_job
from agrega.core.models import ChangeRecord
from agrega.sva import selectors
from agrega.sva.models import SvaPendingWork, SvaUser
from agrega.sva.selectors import sva_effects_of

from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


@pytest.fixture
def cancelled(platform_integration, make_product, make_contract, converge, platform_account):
    """An active contract whose SVA user is on the platform, then cancelled."""
    contract = make_contract()
    contract_add_product(contract=contract, product_id=make_product(platform_integration).pk)
    contract_transition(contract=contract, action="activate")
    converge()
    contract_transition(contract=contract, action="cancel")
    contract.refresh_from_db()
    return contract


def _age(contract, days: float) -> None:
    """As if the cancellation had happened ``days`` ago."""
    Contract.objects.filter(pk=contract.pk).update(ended_at=timezone.now() - timedelta(days=days))


def test_cancellation_blocks_at_once_and_shows_the_removal_date(cancelled, converge, platform_account, api):
    converge()
    user = SvaUser.objects.get(contract=cancelled)
    assert platform_account.user(user.external_id)["status"] == "blocked"
    expected = cancelled.ended_at + timedelta(days=30)
    assert selectors.scheduled_removal_at(selectors.sva_user_get(user.pk)) == expected
    body = api.get(f"/sva-users/{user.pk}").json()
    assert body["removal_scheduled_at"].startswith(timezone.localtime(expected).isoformat()[:16]) or \
        body["removal_scheduled_at"][:16] == expected.isoformat()[:16]


def test_the_job_removes_after_the_retention_period(cancelled, converge, platform_account):
    assert "sva.remove_cancelled" in job_specs()
    user = SvaUser.objects.get(contract=cancelled)
    _age(cancelled, 29.9)
    assert run_job("sva.remove_cancelled", force=True).last_result == {"removed": 0, "retention_days": 30}
    user.refresh_from_db()
    assert user.deleted_at is None

    _age(cancelled, 30.01)
    assert run_job("sva.remove_cancelled", force=True).last_result == {"removed": 1, "retention_days": 30}
    user.refresh_from_db()
    assert user.deleted_at is not None and SvaPendingWork.objects.filter(sva_user=user).exists()
    record = ChangeRecord.objects.filter(object_type="sva.svauser", object_id=str(user.pk), action="delete").get()
    assert record.changes == {"motivo": "retention"} and record.actor_label == "sistema"
    converge()
    assert platform_account.user(user.external_id) is None
    assert selectors.scheduled_removal_at(selectors.sva_user_get(user.pk)) is None
    # nothing left to do: a second run removes nothing
    assert run_job("sva.remove_cancelled", force=True).last_result["removed"] == 0


def test_the_retention_period_is_a_setting(cancelled, settings):
    settings.SVA_CANCELLED_RETENTION_DAYS = 0
    user = SvaUser.objects.get(contract=cancelled)
    assert selectors.scheduled_removal_at(selectors.sva_user_get(user.pk)) == cancelled.ended_at
    assert run_job("sva.remove_cancelled", force=True).last_result == {"removed": 1, "retention_days": 0}


def test_only_cancelled_contracts_are_concerned(platform_integration, make_product, make_contract):
    """Inactive (I) and rescinded (N) contracts may come back: their users stay."""
    product = make_product(platform_integration)
    contracts = []
    for action in ("deactivate", "block_manual"):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
        contract_transition(contract=contract, action=action)
        _age(contract, 365)
        contracts.append(contract)
    assert run_job("sva.remove_cancelled", force=True).last_result["removed"] == 0
    assert SvaUser.objects.filter(contract__in=contracts, deleted_at__isnull=True).count() == 2
    assert all(selectors.scheduled_removal_at(u) is None for u in selectors.sva_user_list())


def test_the_cancel_confirmation_announces_the_removal(platform_integration, make_product, make_contract):
    contract = make_contract()
    contract_add_product(contract=contract, product_id=make_product(platform_integration).pk)
    contract = contract_transition(contract=contract, action="activate")
    [effect] = sva_effects_of(contract, to_status="D", to_access_status="D")
    date = (timezone.localdate() + timedelta(days=30)).strftime("%d/%m/%Y")
    assert effect.kind == "block" and effect.message.endswith(f"ficará bloqueado na EXA e será removido em {date}")
