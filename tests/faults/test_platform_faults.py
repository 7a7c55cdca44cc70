"""The platform misbehaves while a real `agrega worker` process converges users and
operators keep changing contracts: bursts of 5xx, answers lost after the change was
applied, 429 storms, the platform down for a while (docs/faults.md)."""

import time

import pytest

from agrega.integrations.connectors.base import Capability, ErrorCode
from agrega.integrations.connectors.registry import platform_allows

from .harness import MUTATING, WORKER_ENV, circuit_opened

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CONCURRENCY = 8


def swap_products(run, contracts) -> None:
    """Remove the SVA product and add it again at once (as when a plan is changed): the
    new SVA user has the customer's e-mail while the old one may still hold it on the
    platform, so its creation can be refused with duplicate_email until the old one
    is deleted."""
    for contract in contracts:
        contract.refresh_from_db()
        if contract.status != "A":
            run.fleet.change(contract, "activate")
        if not contract.products.filter(removed_at__isnull=True, product=run.fleet.product).exists():
            run.fleet.change(contract, "add_product")
        run.fleet.change(contract, "remove_product")
        run.fleet.change(contract, "add_product")


def test_bursts_of_5xx(fault_run):
    run = fault_run("5xx bursts", size=60, seed=11)
    run.workers.start(1, concurrency=CONCURRENCY, wait=False)
    run.faults(error_rate=0.6, seed=11)
    run.fleet.activate_all()
    run.workers.wait_started()
    run.fleet.run_program(1.5)
    run.clear_faults()  # a pause between the bursts: some work gets through
    run.fleet.run_program(1.0)
    run.faults(error_rate=0.8, seed=12)
    swap_products(run, run.fleet.contracts[:10])
    run.fleet.run_program(1.5)
    run.clear_faults()
    run.converge(bound=30)
    run.finish()

    answered_5xx = run.error_calls("platform_error", "platform_unavailable")
    assert answered_5xx, "the timelines show the 5xx answers"
    assert len(answered_5xx) <= run.delta["faults"]["error"]  # nothing recorded that did not happen
    assert run.refused_external_ids == 0  # a 5xx applies nothing: no creation is sent twice


def test_lost_responses_are_settled_by_lookup(fault_run):
    """The platform applies the change and the answer never arrives (the connector gives
    up after the integration's 1 s timeout), or hangs without applying: the worker must
    look the user up by its external id before doing anything else to it."""
    run = fault_run("lost responses and timeouts", size=50, seed=21)
    run.workers.start(1, concurrency=CONCURRENCY, wait=False)
    run.faults(lost_response_rate=0.3, timeout_rate=0.1, hang_seconds=1.5, seed=21)
    run.fleet.activate_all()
    run.workers.wait_started()
    run.fleet.run_program(2.0)
    swap_products(run, run.fleet.contracts[:8])
    run.fleet.run_program(1.5)
    run.clear_faults()
    run.converge(bound=40)
    run.finish()

    unknown = run.error_calls(ErrorCode.TIMEOUT_UNKNOWN_OUTCOME)
    assert unknown, "the timelines show the calls whose outcome was unknown"
    assert run.delta["faults"].get("lost_response", 0) > 0
    lookup = platform_allows(run.integration.platform, Capability.LOOKUP_BY_EXTERNAL_ID)
    for call in unknown:
        assert call.operation in MUTATING
        later = [c for c in run.calls[call.sva_user_id] if c.id > call.id and c.operation != "auth_token"]
        if not later:
            continue
        if lookup:  # the next call settles the unknown outcome: a lookup (or an idempotent delete)
            assert later[0].operation in ("get_user", "delete_user"), (call.operation, later[0].operation)
        else:  # no lookup: the whole state is sent again (an upsert) or the user deleted
            assert later[0].operation in ("create_user", "delete_user"), (call.operation, later[0].operation)
    assert run.refused_external_ids == 0, "a creation was sent again without a lookup"


def test_429_storm_honours_retry_after(fault_run):
    run = fault_run("429 storm", size=50, seed=31)
    run.workers.start(1, concurrency=CONCURRENCY, wait=False)
    run.faults(throttle_rate=0.6, retry_after_seconds=1, rate_limit_rps=40, seed=31)
    run.fleet.activate_all()
    run.workers.wait_started()
    run.fleet.run_program(3.0)
    time.sleep(1.0)  # the storm goes on without changes: users are retried after Retry-After
    run.clear_faults()
    run.converge(bound=30)
    run.finish()

    throttled = run.error_calls("rate_limited")
    assert throttled, "the timelines show the 429 answers"
    faults = run.delta["faults"]
    assert len(throttled) <= faults.get("throttle", 0) + faults.get("rate_limit", 0)
    # A user refused with 429 is not tried again before Retry-After (at least 1 s here)
    # has passed, unless a contract change asked for it again meanwhile (a change clears
    # the backoff). Both times are the worker's write times of the two attempts.
    checked = 0
    for user_id, calls in run.calls.items():
        for call in calls:
            if call.error_code != "rate_limited":
                continue
            retry = next((c for c in calls if c.created_at > call.created_at), None)
            if retry is None or run.fleet.changed_between(user_id, call.created_at, retry.created_at):
                continue
            waited = (retry.created_at - call.created_at).total_seconds()
            assert waited >= 1.0, f"user {user_id} retried {waited:.2f}s after a 429 with Retry-After 1"
            checked += 1
    assert checked, "no 429 was followed by a retry without a change in between"


def test_platform_down_for_a_while(fault_run):
    """The platform answers 503 to everything for a few seconds. The circuit breaker
    opens instead of hammering it, lets one probe through at a time, and closes when
    the platform is back — also when the users first in line need no call at all."""
    run = fault_run("platform down", size=60, seed=41)
    run.workers.start(1, concurrency=CONCURRENCY, wait=False)
    run.fleet.activate_all()
    quiet, busy = run.fleet.contracts[:20], run.fleet.contracts[20:]
    for contract in quiet:
        run.fleet.change(contract, "mark_overdue")
    assert run.converge(bound=30) is not None
    run.faults(down=True)
    started = time.monotonic()
    for contract in busy[:10]:  # changes that need calls: they fail until the breaker opens
        run.fleet.change(contract, "block_manual")
    deadline = time.monotonic() + 15
    while not circuit_opened(run.integration):
        assert time.monotonic() < deadline, "the circuit breaker did not open"
        time.sleep(0.05)
    # Overdue (FA) → manual block (CM): the users stay blocked, no call is needed. They
    # have the lowest ids, so they come first when the breaker half-opens; the probe
    # slot must not stay taken by a user that made no call.
    for contract in quiet:
        run.fleet.change(contract, "block_manual")
    run.fleet.run_program(2.0, among=busy[10:])
    down_for = time.monotonic() - started
    run.clear_faults()
    run.converge(bound=30)
    run.finish()

    refused = run.delta["faults"]["down"]
    # Without a breaker every waiting user is retried every 0.2–2 s; with it, a handful of
    # calls open it, then one probe per open period (1 s) and the calls already in flight.
    threshold = int(WORKER_ENV["AGREGA_SVA_CIRCUIT_THRESHOLD"])
    open_seconds = float(WORKER_ENV["AGREGA_SVA_CIRCUIT_OPEN"])
    assert refused <= threshold + CONCURRENCY + 2 * down_for / open_seconds, (refused, down_for)
    assert run.error_calls("platform_unavailable"), "the timelines show the 503 answers"


def test_one_customer_whose_data_is_refused_for_good(fault_run):
    """The platform refuses one customer's data for good (413) while 80 others are
    activated and changed: that user gets one call per change of its contract (none
    between), ends in "erro" with no attempt pending; the others converge; the circuit
    breaker never opens (it is for the platform's health, not one user's data)."""
    from agrega.sva.models import SvaUser

    run = fault_run("data refused for good (413)", size=81, seed=51)
    bad_contract, others = run.fleet.contracts[0], run.fleet.contracts[1:]
    run.fleet.refused_customers.add(bad_contract.customer_id)
    run.faults(refuse_emails=[bad_contract.customer.email], refuse_status=413)
    run.workers.start(1, concurrency=CONCURRENCY, wait=False)
    run.fleet.activate_all()
    run.workers.wait_started()
    opened = False
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        run.fleet.run_program(0.3, among=others)
        opened = opened or circuit_opened(run.integration)
    for action in ("block_manual", "release"):  # two changes of the refused contract: two attempts
        run.fleet.change(bad_contract, action)
        time.sleep(0.5)
    run.converge(bound=30)
    opened = opened or circuit_opened(run.integration)
    run.finish()

    assert not opened, "a refused user's data opened the circuit breaker"
    user = SvaUser.objects.get(contract=bad_contract)
    attempts = [c for c in run.calls[user.pk] if c.operation != "auth_token"]
    assert [c.error_code for c in attempts] == ["payload_too_large"] * 3, attempts
    assert run.delta["faults"]["refuse"] == 3
