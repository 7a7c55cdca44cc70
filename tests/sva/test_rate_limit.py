"""A platform that limits requests per second: the connector paces its calls to the
limit set on the integration, and the worker retries a call refused with 429 in the
same pass instead of writing the user back as failed."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.core.errors import ValidationFailed
from agrega.integrations.connectors.pacing import RatePacer, shared_pacer
from agrega.integrations.services import connector_for, integration_update
from agrega.sva.controller.worker import SvaWorker
from agrega.sva.models import SvaCall, SvaUser
from tests.fixtures import default_platform_only

sva_platform = default_platform_only()


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_pacer_spaces_calls_at_the_rate_after_a_small_burst():
    clock = FakeClock()
    pacer = RatePacer(10, burst=3, clock=clock, sleep=clock.sleep)
    waits = [pacer.reserve() for _ in range(6)]  # six callers at the same instant
    assert waits[:3] == [0, 0, 0]  # the burst
    assert waits[3:] == pytest.approx([0.1, 0.2, 0.3])  # then one slot every 1/rate
    clock.now += 10  # idle: the burst is available again, and no more than it
    assert [pacer.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


def test_pacer_holds_every_call_for_the_platforms_retry_after():
    clock = FakeClock()
    pacer = RatePacer(100, clock=clock, sleep=clock.sleep)
    pacer.hold(2.0)
    first, second = pacer.reserve(), pacer.reserve()
    assert first == pytest.approx(2.0)
    assert second >= first
    assert pacer.acquire() > 0 and clock.now > 101.9  # acquire sleeps the wait


def test_shared_pacer_is_one_per_account_and_none_without_a_limit():
    assert shared_pacer(("exa", "http://x", "p"), 0) is None
    a = shared_pacer(("exa", "http://x", "p1"), 5)
    assert shared_pacer(("exa", "http://x", "p1"), 5) is a
    assert shared_pacer(("exa", "http://x", "p2"), 5) is not a
    assert shared_pacer(("exa", "http://x", "p1"), 8) is a and a.rate == 8


def _block_calls(connector, external_ids, threads=8):
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda ext: _outcome(connector.get_user, ext), external_ids))


def _outcome(call, *args):
    try:
        call(*args)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - the kind is what the test counts
        return getattr(exc, "code", type(exc).__name__)


@pytest.mark.django_db
def test_connector_paced_at_the_platforms_limit_meets_no_429(make_platform_integration, platform_account,
                                                             platform_admin):
    """Same calls, same limit: without pacing the platform refuses some; paced, none."""
    platform_admin.set_faults(prefix=platform_account.prefix, rate_limit_rps=10)
    external_ids = [f"ext-{i}" for i in range(30)]
    integration = make_platform_integration()
    unpaced = connector_for(integration)
    try:
        outcomes = _block_calls(unpaced, external_ids)
    finally:
        unpaced.close()
    assert outcomes.count("rate_limited") > 0  # the limit is real
    platform_admin.set_faults(prefix=platform_account.prefix, rate_limit_rps=10)  # a fresh bucket
    limited_before = platform_admin.stats()["faults_injected"].get("rate_limit", 0)
    integration = integration_update(integration=integration, rate_limit_rps=10)
    paced = connector_for(integration)
    try:
        outcomes = _block_calls(paced, external_ids)
    finally:
        paced.close()
    assert outcomes.count("rate_limited") == 0, outcomes
    assert platform_admin.stats()["faults_injected"].get("rate_limit", 0) == limited_before


@pytest.mark.django_db
def test_rate_limit_setting_is_validated(platform_integration):
    with pytest.raises(ValidationFailed) as info:
        integration_update(integration=platform_integration, rate_limit_rps=-1)
    assert [e.code for e in info.value.fields["rate_limit_rps"]] == ["rate_limit_invalid"]
    assert integration_update(integration=platform_integration, rate_limit_rps=250).rate_limit_rps == 250


@pytest.mark.django_db
def test_worker_retries_a_429_in_the_same_pass(platform_integration, make_product, make_contract, platform_account,
                                               platform_admin, fast_retries):
    """The platform lets 5 calls a second through and the integration sets no pacing:
    users refused with 429 wait for the Retry-After and are tried again by the thread
    that holds them; none is written back as failed."""
    product = make_product(platform_integration)
    for _ in range(8):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
    platform_admin.set_faults(prefix=platform_account.prefix, rate_limit_rps=5)
    worker = SvaWorker(concurrency=2)
    try:
        worker.run(until_idle=True, max_seconds=60)
    finally:
        worker.close()
    assert SvaCall.objects.filter(status_code=429).exists(), "the limit was met"
    assert worker.stats.failed == 0
    users = list(SvaUser.objects.all())
    assert len(users) == 8
    assert all(u.version == u.synced_version and u.confirmed_state == "active" for u in users)
    assert all(u.last_error_code == "" for u in users)
    for call in SvaCall.objects.filter(status_code=429):  # each refused call was followed by its retry
        assert SvaCall.objects.filter(sva_user_id=call.sva_user_id, id__gt=call.id, status_code=201).exists()
    assert sorted(u["status"] for u in platform_account.users()) == ["active"] * 8
