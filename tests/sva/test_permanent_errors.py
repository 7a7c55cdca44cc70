"""Permanent platform errors stop: a user whose data the platform refuses for good (400,
409, 413, 422) gets one call, is shown in "erro" with "sem novas tentativas até corrigir
os dados", is not tried again until its data or contract changes, never counts towards
the integration's circuit breaker, and does not slow the other users down.

The refusal is the real sandbox's ``refuse_emails`` switch over HTTP, on every platform
whose connector ships a sandbox (how a platform answers is its connector's to map).
"""

import time

import pytest

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.customers.services import customer_update
from agrega.integrations.connectors.base import Capability
from agrega.integrations.models import SvaIntegration
from agrega.sva import selectors
from agrega.sva.choices import SyncStatus
from agrega.sva.controller.worker import SvaWorker
from agrega.sva.models import SvaCall, SvaPendingWork, SvaUser
from tests.fixtures import sandbox_platforms_with

pytestmark = pytest.mark.django_db

CODES = {400: "invalid_request", 409: "duplicate_email", 413: "payload_too_large", 422: "invalid_fields"}


def run_passes(max_passes: int = 20) -> tuple[int, int, float]:
    """Run the worker pass by pass (each until nothing is due) until the queue is empty:
    (passes, users claimed, seconds). A user waiting for a retry keeps the queue busy."""
    started = time.monotonic()
    passes = claimed = 0
    worker = SvaWorker()
    try:
        while SvaPendingWork.objects.exists():
            assert passes < max_passes, f"still {SvaPendingWork.objects.count()} pending after {passes} passes"
            worker.run(until_idle=True, max_seconds=30)
            passes += 1
            time.sleep(0.05)
        claimed = worker.stats.claimed
    finally:
        worker.close()
    return passes, claimed, time.monotonic() - started


def make_users(make_contract, make_customer, product, count, **customer):
    contracts = []
    for _ in range(count):
        contract = make_contract(make_customer(**customer) if customer else None)
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
        contracts.append(contract)
    return contracts


def platform_calls(user) -> list[SvaCall]:
    return list(SvaCall.objects.filter(sva_user=user).exclude(operation="auth_token").order_by("id"))


@pytest.mark.parametrize("status", sorted(CODES))
def test_refused_data_gets_one_call_and_stops(status, platform_integration, make_product, make_contract,
                                              make_customer, platform_account, platform_admin, fast_retries):
    product = make_product(platform_integration)
    bad_email = f"recusado{status}.{platform_account.prefix}@example.com.br"
    platform_admin.set_faults(prefix=platform_account.prefix, refuse_emails=[bad_email], refuse_status=status)
    [bad] = make_users(make_contract, make_customer, product, 1, email=bad_email)
    make_users(make_contract, make_customer, product, 6)
    before = platform_admin.stats()["faults_injected"].get("refuse", 0)

    passes, _, _ = run_passes()
    assert passes == 1
    user = SvaUser.objects.get(contract=bad)
    calls = platform_calls(user)
    assert [(c.operation, c.status_code, c.error_code) for c in calls] == [("create_user", status, CODES[status])]
    assert platform_admin.stats()["faults_injected"]["refuse"] - before == 1
    shown = selectors.sva_user_get(user.pk)
    assert selectors.sync_status(shown) == SyncStatus.ERROR
    assert selectors.retries_stopped(shown)
    assert shown.last_error_code == CODES[status] and shown.last_error_message.startswith("A plataforma ")
    assert "recusou" in shown.last_error_message  # in the connector's words
    row = SvaIntegration.objects.get(pk=platform_integration.pk)
    assert row.consecutive_failures == 0 and row.circuit_open_until is None  # the breaker did not count it
    # the others converged in the same pass
    assert SvaUser.objects.filter(integration=platform_integration, confirmed_state="active").count() == 6

    # Well past the longest backoff (0.4 s here): still no new attempt.
    time.sleep(0.6)
    assert run_passes()[0] == 0
    worker = SvaWorker()
    try:
        worker.run(until_idle=True, max_seconds=5)
    finally:
        worker.close()
    assert len(platform_calls(user)) == 1

    # The data changes (the customer's e-mail is corrected): one new attempt, which passes.
    customer_update(customer=bad.customer, email=f"corrigido{status}.{platform_account.prefix}@example.com.br")
    # Until the worker tries, the user is "Pendente", not "Erro" with the message of the
    # data that was just fixed — in the selector, in the list filters and in the counts.
    queued = selectors.sva_user_get(user.pk)
    assert selectors.sync_status(queued) == SyncStatus.PENDING and not selectors.retries_stopped(queued)
    assert list(selectors.sva_user_list(sync_status=SyncStatus.PENDING, contract_id=bad.pk)) == [queued]
    assert not selectors.sva_user_list(sync_status=SyncStatus.ERROR, contract_id=bad.pk).exists()
    assert run_passes()[0] == 1
    user.refresh_from_db()
    assert user.confirmed_state == "active" and user.last_error_code == ""
    assert len(platform_calls(user)) == 2
    assert not selectors.retries_stopped(selectors.sva_user_get(user.pk))


def test_a_contract_change_is_a_new_attempt(platform_integration, make_product, make_contract, make_customer,
                                            platform_account, platform_admin, fast_retries):
    """The contract changes (a block): the user is queued again and tried once more."""
    product = make_product(platform_integration)
    bad_email = f"recusado.{platform_account.prefix}@example.com.br"
    platform_admin.set_faults(prefix=platform_account.prefix, refuse_emails=[bad_email], refuse_status=413)
    [bad] = make_users(make_contract, make_customer, product, 1, email=bad_email)
    run_passes()
    contract_transition(contract=bad, action="block_manual")
    assert run_passes()[0] == 1
    user = SvaUser.objects.get(contract=bad)
    assert [c.error_code for c in platform_calls(user)] == ["payload_too_large", "payload_too_large"]
    assert selectors.retries_stopped(selectors.sva_user_get(user.pk))


def test_many_refusals_never_open_the_circuit(platform_integration, make_product, make_contract, make_customer,
                                              platform_account, platform_admin, fast_retries):
    """More refused users than the breaker's threshold (5): the circuit stays closed and
    the good users are not deferred."""
    product = make_product(platform_integration)
    bad = [f"ruim{i}.{platform_account.prefix}@example.com.br" for i in range(12)]
    platform_admin.set_faults(prefix=platform_account.prefix, refuse_emails=bad, refuse_status=413)
    for email in bad:
        make_users(make_contract, make_customer, product, 1, email=email)
    make_users(make_contract, make_customer, product, 5)
    passes, claimed, _ = run_passes()
    assert (passes, claimed) == (1, 17)
    row = SvaIntegration.objects.get(pk=platform_integration.pk)
    assert row.consecutive_failures == 0 and row.circuit_open_until is None
    assert SvaUser.objects.filter(integration=platform_integration, confirmed_state="active").count() == 5
    assert SvaCall.objects.filter(sva_user__integration=platform_integration, operation="create_user").count() == 17


def test_one_bad_user_does_not_slow_the_others(make_platform_integration, make_product, make_contract, make_customer,
                                               sandbox_kit, platform_account, platform_admin, fast_retries):
    """Many users converge in the same number of worker passes, each user claimed once,
    with or without one user whose data the platform refuses; the circuit stays closed.
    (Passes and claims are the proof; the wall time belongs in bench/, not in a test.)"""
    size = 120
    base = sandbox_kit.new_account(platform_admin)  # an account of its own, without the refusal
    baseline_integration = make_platform_integration(name="base " + base.prefix, **base.integration_fields())
    make_users(make_contract, make_customer, make_product(baseline_integration), size)
    base_passes, base_claimed, base_seconds = run_passes()

    integration = make_platform_integration()
    product = make_product(integration)
    bad_email = f"recusado.{platform_account.prefix}@example.com.br"
    platform_admin.set_faults(prefix=platform_account.prefix, refuse_emails=[bad_email], refuse_status=413)
    [bad] = make_users(make_contract, make_customer, product, 1, email=bad_email)
    make_users(make_contract, make_customer, product, size)
    passes, claimed, seconds = run_passes()

    print(f"baseline {base_passes} passes {base_claimed} claimed {base_seconds:.2f}s; "
          f"with a refused user {passes} passes {claimed} claimed {seconds:.2f}s")
    assert (base_passes, base_claimed) == (1, size)
    assert (passes, claimed) == (1, size + 1)
    user = SvaUser.objects.get(contract=bad)
    assert len(platform_calls(user)) == 1
    assert SvaUser.objects.filter(integration=integration, confirmed_state="active").count() == size
    row = SvaIntegration.objects.get(pk=integration.pk)
    assert row.consecutive_failures == 0 and row.circuit_open_until is None


@pytest.mark.parametrize("sva_platform", sandbox_platforms_with(Capability.LIST_USERS))  # reconciliation lists
def test_reconciliation_reports_a_refused_user_without_trying_again(platform_integration, make_product, make_contract,
                                                                    make_customer, platform_account, platform_admin,
                                                                    fast_retries):
    """Missing on the platform because the platform refused it: reconciliation reports
    it, and does not hand it to the worker (that would repeat the refused call each run)."""
    from agrega.sva.models import ReconciliationItem
    from agrega.sva.reconcile.services import reconcile_integration

    product = make_product(platform_integration)
    bad_email = f"recusado.{platform_account.prefix}@example.com.br"
    platform_admin.set_faults(prefix=platform_account.prefix, refuse_emails=[bad_email], refuse_status=422)
    [bad] = make_users(make_contract, make_customer, product, 1, email=bad_email)
    make_users(make_contract, make_customer, product, 2)
    run_passes()
    time.sleep(0.05)
    run = reconcile_integration(platform_integration, runner="test")
    user = SvaUser.objects.get(contract=bad)
    item = ReconciliationItem.objects.get(run=run)
    assert (item.sva_user_id, item.kind, item.action) == (user.pk, "missing_on_platform", "reported")
    assert "sem novas tentativas até corrigir os dados" in item.message
    assert not SvaPendingWork.objects.exists()
    assert run_passes()[0] == 0 and len(platform_calls(user)) == 1
