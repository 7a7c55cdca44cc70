"""Reconciliation end to end: drift made on the real EXA sandbox behind Agrega's back is
found, handed to the real worker and repaired; what Agrega does not know is reported and
removed only when the policy says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agrega.contracts.services import contract_transition
from agrega.core.errors import ApplicationError
from agrega.core.jobs import run_job
from agrega.core.models import ChangeRecord
from agrega.integrations.connectors.base import RemoteStatus
from agrega.integrations.services import integration_update
from agrega.sva.models import ReconciliationRun, SvaUser
from agrega.sva.reconcile.services import _start, reconcile_integration
from agrega.sva.services import sva_user_delete
from tests.fixtures import default_packages, default_platform_only

from .conftest import spec

sva_platform = default_platform_only()
PACKAGES = default_packages()

pytestmark = pytest.mark.django_db


def reconcile(integration, **kw):
    return reconcile_integration(integration, runner="test", **kw)


def items(run, **filters):
    return list(run.items.filter(**filters).order_by("id"))


def test_nothing_to_do_when_both_sides_agree(platform_integration, synced_users):
    synced_users(3)
    run = reconcile(platform_integration)
    assert run.status == "done" and run.finished_at is not None and run.lease_until is None
    assert run.counts["remote_users"] == 3 and run.counts["in_sync"] == 3
    assert run.counts["differences"] == 0 and items(run) == []
    assert run.counts["local_users"] == 3


def test_user_deleted_on_the_platform_is_recreated(platform_integration, synced_users, platform, platform_account,
                                                   converge):
    users = synced_users(3)
    gone = users[1]
    platform.delete_user(gone.external_id)
    assert platform_account.user(gone.external_id) is None

    run = reconcile(platform_integration)
    [item] = items(run)
    assert (item.kind, item.action, item.sva_user_id) == ("missing_on_platform", "marked_for_sync", gone.pk)
    assert "Ausente na plataforma" in item.message
    assert run.counts["missing_on_platform"] == 1 and run.counts["marked_for_sync"] == 1
    gone.refresh_from_db()
    assert gone.version > gone.synced_version  # handed to the worker, not fixed here
    assert gone.confirmed_state == "unknown"  # the worker will look it up, not trust the past
    assert ChangeRecord.objects.filter(object_type="sva.svauser", object_id=str(gone.pk),
                                       action="reconcile_marked").exists()

    converge()
    again = platform_account.user(gone.external_id)
    assert again is not None and again["status"] == "active"
    gone.refresh_from_db()
    assert gone.confirmed_state == "active"
    # The worker looked it up (not found), then created it again with the same id.
    ops = list(gone.calls.order_by("id").values_list("operation", "status_code"))
    assert ops[-2:] == [("get_user", 404), ("create_user", 201)]
    assert len(platform_account.users()) == 3
    assert reconcile(platform_integration).counts["differences"] == 0


def test_user_blocked_on_the_platform_while_active_here_is_released(platform_integration, synced_users, platform,
                                                                    platform_account, converge):
    user = synced_users(2)[0]
    platform.block_user(user.external_id)
    run = reconcile(platform_integration)
    [item] = items(run)
    assert (item.kind, item.action) == ("state_differs", "marked_for_sync")
    assert item.detail["fields"]["status"] == {"agrega": "active", "platform": "blocked"}
    assert "situação: Agrega ativo, plataforma bloqueado" in item.message
    converge()
    assert platform_account.user(user.external_id)["status"] == "active"
    user.refresh_from_db()
    assert user.calls.filter(operation="unblock_user", status_code=200).exists()


def test_user_active_on_the_platform_while_blocked_here_is_blocked(platform_integration, synced_users, platform,
                                                                   platform_account, converge):
    user = synced_users(1)[0]
    contract_transition(contract=user.contract, action="block_manual")
    converge()
    platform.unblock_user(user.external_id)
    [item] = items(reconcile(platform_integration))
    assert item.detail["fields"]["status"] == {"agrega": "blocked", "platform": "active"}
    converge()
    assert platform_account.user(user.external_id)["status"] == "blocked"


def test_other_email_and_package_on_the_platform_are_corrected(platform_integration, synced_users, platform,
                                                               platform_account, converge):
    user = synced_users(2)[1]
    before = platform_account.user(user.external_id)
    platform.update_user(spec(user.external_id, name=before["name"], email="outro@example.com.br",
                              phone=before["phone"], document=before["document"], package_code=PACKAGES[2]))
    run = reconcile(platform_integration)
    [item] = items(run)
    assert (item.kind, item.action) == ("data_differs", "marked_for_sync")
    assert set(item.detail["fields"]) == {"email", "package_code"}
    assert item.detail["fields"]["package_code"] == {"agrega": PACKAGES[0], "platform": PACKAGES[2]}
    converge()
    after = platform_account.user(user.external_id)
    assert after["email"] == user.contract.customer.email and after["package_code"] == PACKAGES[0]
    assert reconcile(platform_integration).counts["differences"] == 0


def test_unknown_user_under_our_prefix_is_reported_and_removed_only_with_the_policy(platform_integration,
                                                                                    synced_users, platform,
                                                                                    platform_account):
    synced_users(1)
    stranger = platform.create_user(spec())
    run = reconcile(platform_integration)
    [item] = items(run)
    assert (item.kind, item.action, item.sva_user_id) == ("unknown_on_platform", "reported", None)
    assert item.external_id == stranger.external_id and item.detail["platform"]["email"] == stranger.email
    assert platform_account.user(stranger.external_id) is not None  # only reported

    # Asked once, from the CLI or the API, without changing the policy.
    run = reconcile(platform_integration, remove_unknown=True)
    assert [(i.kind, i.action) for i in items(run)] == [("unknown_on_platform", "removed")]
    assert platform_account.user(stranger.external_id) is None

    # The integration's policy.
    other = platform.create_user(spec())
    integration_update(integration=platform_integration, reconcile_remove_unknown=True)
    run = reconcile(platform_integration)
    assert run.remove_unknown is True
    assert [(i.external_id, i.action) for i in items(run)] == [(other.external_id, "removed")]
    assert platform_account.user(other.external_id) is None
    assert len(platform_account.users()) == 1
    # …and an explicit "no" wins over the policy.
    third = platform.create_user(spec())
    assert [i.action for i in items(reconcile(platform_integration, remove_unknown=False))] == ["reported"]
    assert platform_account.user(third.external_id) is not None


def test_users_of_another_prefix_are_ignored(platform_integration, synced_users, platform, sandbox_kit,
                                             platform_account, platform_admin, converge):
    """Another account on the same platform holds a user with one of our external ids and
    one Agrega does not know: neither is touched, even with removal on; ours is still
    found missing under our prefix."""
    from agrega.integrations.connectors.base import IntegrationConfig
    from agrega.integrations.connectors.registry import build_connector

    users = synced_users(2)
    account = sandbox_kit.new_account(platform_admin)
    prefix = account.prefix
    other = build_connector(platform_integration.platform, IntegrationConfig(**account.integration_fields()))
    try:
        ours = users[0]
        before = platform_account.user(ours.external_id)
        other.create_user(spec(ours.external_id, name=before["name"], email=before["email"],
                               phone=before["phone"], document=before["document"]))
        stranger = other.create_user(spec())
    finally:
        other.close()
    platform.delete_user(ours.external_id)

    run = reconcile(platform_integration, remove_unknown=True)
    assert [(i.external_id, i.kind) for i in items(run)] == [(ours.external_id, "missing_on_platform")]
    assert run.counts["remote_users"] == 1
    theirs = {u["external_id"] for u in platform_admin.users(prefix)}
    assert theirs == {ours.external_id, stranger.external_id}
    converge()
    assert platform_account.user(ours.external_id)["status"] == "active"
    assert {u["external_id"] for u in platform_admin.users(prefix)} == theirs


def test_user_of_another_integration_of_agrega_is_never_removed(make_platform_integration, platform_integration,
                                                                synced_users, platform_account):
    """Two integrations pointing to the same account (the URL spelt differently): the
    users of one are "unknown" to the other, but never removed by it."""
    users = synced_users(1)
    twin = make_platform_integration(name="Mesma conta", base_url=platform_account.url.replace("127.0.0.1", "localhost"),
                            auto_create_users=False)
    run = reconcile(twin, remove_unknown=True)
    [item] = items(run)
    assert (item.kind, item.action) == ("unknown_on_platform", "reported")
    assert item.detail["other_integration_id"] == platform_integration.pk
    assert platform_account.user(users[0].external_id) is not None


def test_user_deleted_here_but_present_there(platform_integration, synced_users, platform, platform_account, converge):
    user = synced_users(2)[0]
    sva_user_delete(sva_user=user)
    converge()
    assert platform_account.user(user.external_id) is None
    # Someone recreates it on the platform with our id.
    platform.create_user(spec(user.external_id))

    run = reconcile(platform_integration)
    [item] = items(run)
    assert (item.kind, item.action, item.sva_user_id) == ("deleted_here_present_there", "reported", user.pk)
    assert platform_account.user(user.external_id) is not None

    integration_update(integration=platform_integration, reconcile_remove_unknown=True)
    [item] = items(reconcile(platform_integration))
    assert (item.kind, item.action) == ("deleted_here_present_there", "removed")
    assert platform_account.user(user.external_id) is None
    # The removal is in the user's timeline, like the worker's calls.
    assert user.calls.filter(operation="delete_user", status_code=204, worker__startswith="reconcile:").exists()


def test_pending_user_is_not_corrected_twice(platform_integration, synced_users, platform, platform_account, converge):
    """The contract was just blocked (the worker has not run yet) and someone also blocked
    the user on the platform: reconciliation reports "already pending" and leaves it."""
    user, other = synced_users(2)
    contract_transition(contract=user.contract, action="block_manual")  # pending for the worker
    platform.update_user(spec(user.external_id, name="Outro Nome", email=user.contract.customer.email,
                              phone=user.contract.customer.mobile_phone, document=user.contract.customer.document))
    user.refresh_from_db()
    version = user.version
    platform.block_user(other.external_id)

    run = reconcile(platform_integration)
    by_user = {i.sva_user_id: i for i in items(run)}
    assert by_user[user.pk].action == "already_pending" and by_user[user.pk].kind == "state_differs"
    assert by_user[other.pk].action == "marked_for_sync"
    user.refresh_from_db()
    assert user.version == version  # untouched: the worker already has it
    assert user.confirmed_state == "active"
    assert run.counts["already_pending"] == 1 and run.counts["marked_for_sync"] == 1
    converge()
    assert platform_account.user(user.external_id)["status"] == "blocked"
    assert platform_account.user(other.external_id)["status"] == "active"
    # The worker converged from what it knew; the name changed behind its back is found
    # by the next run, once the user is no longer pending.
    [item] = items(reconcile(platform_integration))
    assert (item.sva_user_id, item.kind, item.action) == (user.pk, "data_differs", "marked_for_sync")
    assert set(item.detail["fields"]) == {"name"}
    converge()
    assert platform_account.user(user.external_id)["name"] == user.contract.customer.name


def test_new_users_waiting_for_the_worker_are_not_differences(platform_integration, synced_users, make_contract,
                                                              make_product):
    synced_users(1)
    product = make_product(platform_integration, package=PACKAGES[1])
    from agrega.contracts.services import contract_add_product

    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    contract_transition(contract=contract, action="activate")  # a new user, not yet on the platform
    run = reconcile(platform_integration)
    assert run.counts["awaiting_creation"] == 1 and run.counts["differences"] == 0


def test_pagination_with_more_users_than_a_page(platform_integration, synced_users, platform, platform_account,
                                                converge):
    users = synced_users(7)
    platform.block_user(users[5].external_id)  # on the third page of two
    platform.delete_user(users[2].external_id)
    stranger = platform.create_user(spec())  # the last page
    run = reconcile(platform_integration, page_size=2)
    assert run.page_size == 2
    assert run.counts["pages"] == 4 and run.counts["remote_users"] == 7
    assert {(i.external_id, i.kind) for i in items(run)} == {
        (users[5].external_id, "state_differs"), (users[2].external_id, "missing_on_platform"),
        (stranger.external_id, "unknown_on_platform"),
    }
    assert run.counts["in_sync"] == 5
    converge()
    assert reconcile(platform_integration, page_size=3).counts["differences"] == 1  # the stranger, reported again
    assert {u["status"] for u in platform_account.users() if u["external_id"] != stranger.external_id} == {"active"}
    from agrega.sva.models import ReconciliationSeen

    assert not ReconciliationSeen.objects.exists()  # the run's working set is gone


def test_second_run_is_refused_while_one_runs(platform_integration, synced_users):
    synced_users(1)
    running = _start(platform_integration, runner="outra-maquina:123", actor=None, remove_unknown=False, page_size=10)
    with pytest.raises(ApplicationError) as refused:
        reconcile(platform_integration)
    assert refused.value.code == "reconcile_running" and refused.value.status_code == 409
    assert "já em execução" in refused.value.message and "outra-maquina:123" in refused.value.message
    assert ReconciliationRun.objects.filter(integration=platform_integration).count() == 1
    # Once it ends, the next run goes.
    running.status = "done"
    running.save()
    assert reconcile(platform_integration).status == "done"


def test_a_run_whose_process_died_stops_blocking_after_its_lease(platform_integration, synced_users):
    synced_users(1)
    dead = _start(platform_integration, runner="morta:1", actor=None, remove_unknown=False, page_size=10)
    ReconciliationRun.objects.filter(pk=dead.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    run = reconcile(platform_integration)
    assert run.status == "done"
    dead.refresh_from_db()
    assert dead.status == "interrupted" and dead.error_code == "lease_expired"


def test_platform_down_fails_the_run_and_frees_the_lock(platform_integration, synced_users, platform, platform_admin):
    users = synced_users(2)
    platform.delete_user(users[0].external_id)
    platform_admin.set_faults(down=True, prefix=platform_integration.prefix)
    run = reconcile(platform_integration)
    assert run.status == "failed" and run.error_code == "platform_unavailable"
    assert "indisponível" in run.error_message
    assert run.counts["differences"] == 0  # nothing concluded from a listing it could not read
    users[0].refresh_from_db()
    assert users[0].version == users[0].synced_version
    platform_admin.clear_faults()
    run = reconcile(platform_integration)
    assert run.status == "done" and run.counts["missing_on_platform"] == 1


def test_transient_errors_while_listing_are_retried(platform_integration, synced_users, platform_admin):
    synced_users(4)
    before = platform_admin.stats()["faults_injected"].get("rate_limit", 0)
    # The platform's rate limit: beyond 2 calls a second it answers 429 with Retry-After.
    platform_admin.set_faults(rate_limit_rps=2, prefix=platform_integration.prefix)
    run = reconcile(platform_integration, page_size=1)
    platform_admin.clear_faults()
    assert run.status == "done" and run.counts["remote_users"] == 4, (run.error_code, run.error_message)
    assert run.counts["in_sync"] == 4
    assert platform_admin.stats()["faults_injected"]["rate_limit"] > before


def test_inactive_integration_is_refused(platform_integration, synced_users):
    synced_users(1)
    integration_update(integration=platform_integration, active=False)
    with pytest.raises(ApplicationError) as refused:
        reconcile(platform_integration)
    assert refused.value.code == "integration_inactive"
    assert not ReconciliationRun.objects.exists()


def test_periodic_job_reconciles_every_active_integration(platform_integration, synced_users, platform, converge,
                                                          platform_account, settings):
    users = synced_users(2)
    platform.block_user(users[0].external_id)
    # Last season's report is purged by the job (settings.RECONCILE_KEEP_DAYS).
    old = reconcile(platform_integration)
    ReconciliationRun.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=91))
    old.items.get()  # the blocked user, marked
    converge()
    platform.block_user(users[0].external_id)
    job = run_job("sva.reconcile", force=True)
    assert job.last_ok, job.last_error
    assert not ReconciliationRun.objects.filter(pk=old.pk).exists()
    assert job.last_result["purged_rows"] >= 2  # the run and its item
    [entry] = job.last_result["runs"]
    assert entry["integration_id"] == platform_integration.pk and entry["differences"] == 1
    run = ReconciliationRun.objects.get(pk=entry["run_id"])
    assert run.runner.startswith("job:")
    converge()
    assert platform_account.user(users[0].external_id)["status"] == "active"


def test_policy_change_is_audited(platform_integration):
    integration_update(integration=platform_integration, reconcile_remove_unknown=True)
    platform_integration.refresh_from_db()
    assert platform_integration.reconcile_remove_unknown is True
    record = ChangeRecord.objects.filter(object_type="integrations.svaintegration", action="update").first()
    assert record.changes["reconcile_remove_unknown"] == [False, True]


def test_platform_listing_is_bounded_by_the_page_size(platform_integration, synced_users, platform_admin):
    synced_users(5)
    before = platform_admin.stats()["requests"].get("list_users", 0)
    run = reconcile(platform_integration, page_size=2)
    assert run.counts["pages"] == 3
    assert platform_admin.stats()["requests"]["list_users"] - before == 3


def test_user_bumped_between_read_and_write_is_not_overwritten(platform_integration, synced_users, platform):
    """A row bumped between the run's read and its write (here: "Sincronizar agora" by an
    operator) is not overwritten; the difference is reported as already pending."""
    from agrega.sva.reconcile.services import ReconciliationStatus, _Reconciliation
    from agrega.sva.services import sva_user_request_sync

    user = synced_users(1)[0]
    platform.block_user(user.external_id)
    run = _start(platform_integration, runner="test", actor=None, remove_unknown=False, page_size=10)
    work = _Reconciliation(run, platform_integration)
    try:
        fetched_at = timezone.now()
        remote = platform.get_user(user.external_id)
        stale = SvaUser.objects.get(pk=user.pk)  # what the run read
        sva_user_request_sync(sva_user=user)  # …then the operator's bump
        work._compare(stale, remote, fetched_at)
        work._flush()
        work._finish(ReconciliationStatus.DONE)
    finally:
        work.close()
    [item] = list(run.items.all())
    assert (item.kind, item.action) == ("state_differs", "already_pending")
    user.refresh_from_db()
    assert user.confirmed_state == "active"  # not overwritten with the run's observation
    assert platform.get_user(user.external_id).status == RemoteStatus.BLOCKED


def test_a_platform_that_cannot_list_its_users_is_not_reconciled(db):
    """Reconciliation needs the ``list_users`` capability (the connector's declaration):
    on a platform without it, the run is refused with its own code and nothing is listed."""
    from agrega.core.errors import ApplicationError
    from agrega.integrations.connectors.registry import PLATFORMS, platform_allows
    from agrega.integrations.services import integration_create
    from agrega.sva.reconcile.services import reconcile_integration

    unable = [p for p in PLATFORMS if not platform_allows(p, "list_users")]
    if not unable:
        pytest.skip("every registered platform lists its users")
    from agrega.integrations.connectors.registry import connector_class

    required = {f.name: "segredo-de-teste" for f in connector_class(unable[0]).credential_fields if f.required}
    integration = integration_create(name="Sem listagem", platform=unable[0], base_url="http://127.0.0.1:9/hooks/x",
                                     prefix="conta", credentials=required)
    with pytest.raises(ApplicationError) as info:
        reconcile_integration(integration, runner="teste")
    assert info.value.code == "reconcile_not_supported"
    assert not integration.reconciliation_runs.exists()


def test_the_reconciliation_page_says_when_the_platform_cannot_list_its_users(db, role_user, platform_integration):
    """The page of an integration whose platform lacks ``list_users`` says so in Portuguese
    and offers no button; a POST is refused with the same words and queues nothing. An
    integration whose platform lists its users keeps the button and no such notice."""
    from django.urls import reverse

    from agrega.core.roles import Role
    from agrega.integrations.connectors.registry import PLATFORMS, connector_class, platform_allows
    from agrega.integrations.services import integration_create
    from agrega.sva.reconcile.services import NOT_SUPPORTED_MESSAGE
    from tests.fixtures import logged_in_client

    unable = [p for p in PLATFORMS if not platform_allows(p, "list_users")]
    if not unable:
        pytest.skip("every registered platform lists its users")
    cls = connector_class(unable[0])
    required = {f.name: "segredo-de-teste" for f in cls.credential_fields if f.required}
    other = integration_create(name="Sem listagem", platform=unable[0], base_url="http://127.0.0.1:9/hooks/y",
                               prefix="conta", credentials=required)
    client = logged_in_client(role_user("adm-rec", Role.ADMIN))

    page = client.get(reverse("reconcile:list", args=[other.pk])).content.decode()
    assert NOT_SUPPORTED_MESSAGE in page and f"A plataforma {cls.label} recebe" in page
    assert 'id="reconcile-form"' not in page
    answer = client.post(reverse("reconcile:list", args=[other.pk]), follow=True)
    assert NOT_SUPPORTED_MESSAGE in answer.content.decode()
    assert not other.reconciliation_runs.exists()

    able = client.get(reverse("reconcile:list", args=[platform_integration.pk])).content.decode()
    assert 'id="reconcile-form"' in able and NOT_SUPPORTED_MESSAGE not in able
