"""Convergence under platform faults, with the real sandbox's fault switches.

What must hold after the faults clear: every SVA user's confirmed state equals its
desired state, no user exists twice on the platform, and the timeline shows the failures.
"""

import time

import pytest
from django.utils import timezone

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.integrations.models import SvaIntegration
from agrega.sva import selectors
from agrega.sva.controller.worker import SvaWorker
from agrega.sva.models import SvaCall, SvaUser
from tests.fixtures import default_platform_only

sva_platform = default_platform_only()

pytestmark = pytest.mark.django_db

N = 12


@pytest.fixture
def contracts(platform_integration, make_product, make_contract):
    product = make_product(platform_integration)
    result = []
    for _ in range(N):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        result.append(contract)
    return result


def activate_all(contracts):
    for contract in contracts:
        contract_transition(contract=contract, action="activate")


def assert_converged(platform_account, expected_state):
    users = list(selectors.sva_user_queryset().filter(deleted_at__isnull=True))
    on_exa = platform_account.users()
    external_ids = [u["external_id"] for u in on_exa]
    assert len(external_ids) == len(set(external_ids)), "a user exists twice on the platform"
    assert sorted(external_ids) == sorted(u.external_id for u in users)
    by_id = {u["external_id"]: u for u in on_exa}
    for user in users:
        assert selectors.desired_for(user).state == expected_state
        assert by_id[user.external_id]["status"] == expected_state
        assert user.confirmed_state == expected_state
        assert user.version == user.synced_version


def test_bursts_of_5xx_are_retried_until_converged(contracts, platform_account, platform_admin, converge):
    platform_admin.set_faults(error_rate=0.6, seed=7)
    activate_all(contracts)
    converge(timeout=3, allow_errors=True)
    assert SvaCall.objects.filter(status_code__gte=500).exists()
    platform_admin.clear_faults()
    converge(timeout=20)
    assert_converged(platform_account, "active")


def test_applied_but_lost_responses_never_create_twice(contracts, platform_account, platform_admin, converge):
    """The platform applies the creation, the answer is lost (client timeout): the next
    pass looks the user up by external id instead of creating again."""
    platform_admin.set_faults(lost_response_rate=0.5, hang_seconds=1.5, seed=3)
    activate_all(contracts)
    converge(timeout=6, allow_errors=True)
    assert SvaCall.objects.filter(error_code="timeout_unknown_outcome").exists()
    platform_admin.clear_faults()
    converge(timeout=20)
    assert_converged(platform_account, "active")
    stats = platform_admin.stats()
    creates = sum(v for k, v in stats["requests"].items() if "create" in k)
    assert creates >= N
    # Every lost creation was settled by a lookup, never by a second POST that got refused:
    lost = SvaCall.objects.filter(operation="create_user", error_code="timeout_unknown_outcome")
    for call in lost:
        later = SvaCall.objects.filter(sva_user_id=call.sva_user_id, id__gt=call.id).order_by("id").first()
        if later is not None:
            assert later.operation == "get_user"


def test_lost_block_responses_converge(contracts, platform_account, platform_admin, converge):
    activate_all(contracts)
    converge()
    platform_admin.set_faults(lost_response_rate=0.7, hang_seconds=1.5, seed=5)
    for contract in contracts:
        contract_transition(contract=contract, action="block_manual")
    converge(timeout=5, allow_errors=True)
    platform_admin.clear_faults()
    converge(timeout=20)
    assert_converged(platform_account, "blocked")


def test_timeouts_without_applying_converge(contracts, platform_account, platform_admin, converge):
    platform_admin.set_faults(timeout_rate=0.5, hang_seconds=1.5, seed=11)
    activate_all(contracts)
    converge(timeout=5, allow_errors=True)
    platform_admin.clear_faults()
    converge(timeout=20)
    assert_converged(platform_account, "active")


def test_429_honours_retry_after(contracts, platform_account, platform_admin, converge):
    platform_admin.set_faults(throttle_rate=1.0, retry_after_seconds=2)
    activate_all(contracts)
    before = timezone.now()
    worker = SvaWorker(concurrency=2)
    try:
        worker.run(until_idle=True, max_seconds=1.0)
    finally:
        worker.close()
    throttled = SvaCall.objects.filter(status_code=429)
    assert throttled.exists()
    waiting = SvaUser.objects.filter(last_error_code__isnull=False).exclude(last_error_code="")
    assert waiting.exists()
    for user in waiting:
        assert user.next_attempt_at is not None
        assert (user.next_attempt_at - before).total_seconds() >= 2.0
    platform_admin.clear_faults()
    converge(timeout=20)
    assert_converged(platform_account, "active")


def test_rate_limited_platform_still_converges(contracts, platform_account, platform_admin, converge):
    platform_admin.set_faults(rate_limit_rps=10)
    activate_all(contracts)
    converge(timeout=30)
    assert_converged(platform_account, "active")


def test_platform_down_opens_the_circuit_then_recovers(contracts, platform_account, platform_admin, converge,
                                                       fast_retries):
    platform_admin.set_faults(down=True)
    activate_all(contracts)
    converge(timeout=1.5, allow_errors=True)
    integration = SvaIntegration.objects.get(pk=platform_account.integration.pk)
    assert integration.consecutive_failures >= fast_retries["CIRCUIT_FAILURE_THRESHOLD"]
    assert integration.last_error_code == "platform_unavailable"
    calls_while_down = SvaCall.objects.count()
    # With the circuit open, a further second of work makes (almost) no calls.
    if integration.circuit_open_until and integration.circuit_open_until > timezone.now():
        converge(timeout=0.3, allow_errors=True)
        assert SvaCall.objects.count() - calls_while_down <= 2
    platform_admin.clear_faults()
    time.sleep(fast_retries["CIRCUIT_OPEN_SECONDS"])
    converge(timeout=20)
    assert_converged(platform_account, "active")
    integration.refresh_from_db()
    assert integration.consecutive_failures == 0 and integration.circuit_open_until is None


def test_user_deleted_on_platform_behind_our_back_is_recreated(contracts, platform_account, converge):
    from agrega.integrations.services import connector_for

    activate_all(contracts[:1])
    converge()
    user = SvaUser.objects.get(contract=contracts[0])
    # Someone removes it directly on the platform; the next change re-creates it.
    connector = connector_for(platform_account.integration)
    try:
        connector.delete_user(user.external_id)
    finally:
        connector.close()
    assert platform_account.user(user.external_id) is None
    contract_transition(contract=contracts[0], action="block_manual")
    converge(timeout=10)
    assert platform_account.user(user.external_id)["status"] == "blocked"


def test_secrets_never_in_timeline(contracts, platform_account, converge):
    activate_all(contracts[:2])
    converge()
    for call in SvaCall.objects.all():
        text = repr(call.request) + repr(call.response) + call.path
        assert not [name for name, value in platform_account.credentials.items()
                    if "secret" in name and value and value in text]
