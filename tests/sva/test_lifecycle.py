"""The seed's flow and rules table, end to end: services → worker → a platform's sandbox
(HTTP), once per connector that ships a sandbox (the platform-neutral fixtures)."""

import pytest

from agrega.contracts.services import (
    contract_add_product,
    contract_remove_product,
    contract_transition,
)
from agrega.core.errors import ApplicationError, Conflict
from agrega.customers.services import customer_update
from agrega.catalog.services import product_update
from agrega.sva import selectors
from agrega.sva.models import SvaUser
from agrega.sva.services import sva_user_create, sva_user_delete

pytestmark = pytest.mark.django_db


def remote(platform_account, user):
    return platform_account.user(user.external_id)


def only_user(contract):
    users = list(SvaUser.objects.filter(contract=contract, deleted_at__isnull=True))
    assert len(users) == 1, users
    return users[0]


@pytest.fixture
def sva_contract(platform_integration, make_product, make_contract):
    """A contract holding an SVA product of an auto-create integration, not yet active."""
    product = make_product(platform_integration)
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=product.pk)
    return contract, item, product


def test_activation_creates_the_user_automatically_and_active(sva_contract, platform_account, converge):
    contract, item, product = sva_contract
    assert not SvaUser.objects.filter(contract=contract).exists()  # pre-contract: nothing yet
    contract_transition(contract=contract, action="activate")
    user = only_user(contract)
    assert user.origin == "automatic" and user.contract_product_id == item.pk
    converge()
    user.refresh_from_db()
    held = remote(platform_account, user)
    assert held["status"] == "active"
    assert held["package_code"] == product.sva_package_code
    assert held["email"] == contract.customer.email
    assert held["phone"] == contract.customer.mobile_phone
    assert held["document"] == contract.customer.document
    assert user.confirmed_state == "active" and selectors.sync_status(user) == "synced"
    assert user.calls.filter(operation="create_user", status_code=201).count() == 1


def test_adding_sva_product_to_active_contract_creates_user(platform_integration, make_product, make_contract,
                                                           platform_account, converge):
    contract = make_contract()
    contract_transition(contract=contract, action="activate")
    item = contract_add_product(contract=contract, product_id=make_product(platform_integration).pk)
    assert only_user(contract).contract_product_id == item.pk
    converge()
    assert remote(platform_account, only_user(contract))["status"] == "active"


def test_flag_nao_creates_nothing_automatically(make_platform_integration, make_product, make_contract, converge,
                                                platform_account):
    integration = make_platform_integration(auto_create_users=False)
    contract = make_contract()
    contract_add_product(contract=contract, product_id=make_product(integration).pk)
    contract_transition(contract=contract, action="activate")
    assert not SvaUser.objects.filter(contract=contract).exists()
    converge()
    assert platform_account.users() == []


@pytest.mark.parametrize(
    "actions, expected",
    [
        (["activate"], "active"),
        (["activate", "mark_overdue"], "blocked"),  # financeiro em atraso (FA)
        (["activate", "block_manual"], "blocked"),  # CM
        (["activate", "block_automatic"], "blocked"),  # CA
        (["activate", "deactivate"], "blocked"),  # inativação
        (["activate", "cancel"], "blocked"),  # cancelamento bloqueia
        (["activate", "mark_overdue", "release"], "active"),  # liberação após atraso
        (["activate", "block_automatic", "release"], "active"),  # desbloqueio após inadimplência
        (["activate", "block_manual", "release"], "active"),
        (["activate", "deactivate", "activate"], "active"),  # reativação
        (["activate", "mark_overdue", "block_automatic"], "blocked"),
    ],
)
def test_rules_table(sva_contract, platform_account, converge, actions, expected):
    contract, _, _ = sva_contract
    for action in actions:
        contract_transition(contract=contract, action=action)
    converge()
    user = only_user(contract)
    assert selectors.desired_for(user).state == expected
    assert remote(platform_account, user)["status"] == expected
    user.refresh_from_db()
    assert user.confirmed_state == expected


def test_each_change_is_applied_even_when_worker_sees_only_the_last(sva_contract, platform_account, converge):
    """Level-triggered: many changes between two passes end in the last state, one call each way."""
    contract, _, _ = sva_contract
    contract_transition(contract=contract, action="activate")
    converge()
    for action in ["block_manual", "release", "mark_overdue", "release", "block_automatic"]:
        contract_transition(contract=contract, action=action)
    converge()
    user = only_user(contract)
    assert remote(platform_account, user)["status"] == "blocked"
    assert user.calls.filter(operation="block_user").count() == 1


def test_registration_check_failure_is_a_visible_pending_problem_then_retried(
    platform_integration, make_product, make_customer, make_contract, platform_account, converge
):
    customer = make_customer(mobile_phone="", email="")
    contract = make_contract(customer)
    contract_add_product(contract=contract, product_id=make_product(platform_integration).pk)
    contract_transition(contract=contract, action="activate")
    user = only_user(contract)
    fields = {p["field"] for p in user.registration_problems}
    assert fields == {"mobile_phone", "email"}
    assert any("Telefone celular" in p["message"] for p in user.registration_problems)
    converge()
    user.refresh_from_db()
    assert selectors.sync_status(user) == "registration"
    assert user.last_error_code == "registration_incomplete"
    assert platform_account.users() == []  # nothing created with incomplete data
    customer_update(customer=customer, mobile_phone="(11) 91234-5678", email="corrigido@example.com.br")
    user.refresh_from_db()
    assert user.registration_problems == []
    converge()
    user.refresh_from_db()
    assert remote(platform_account, user)["phone"] == "+5511912345678"
    assert selectors.sync_status(user) == "synced"


def test_manual_creation_with_customer_data(make_platform_integration, make_product, make_contract, platform_account, converge):
    integration = make_platform_integration(auto_create_users=False)
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=make_product(integration).pk)
    contract_transition(contract=contract, action="activate")
    user = sva_user_create(contract_id=contract.pk, integration_id=integration.pk,
                           contract_product_id=item.pk, use_customer_data=True)
    assert user.origin == "manual" and user.contract_id == contract.pk
    converge()
    held = remote(platform_account, user)
    assert held["email"] == contract.customer.email and held["status"] == "active"


def test_manual_creation_with_own_data(make_platform_integration, make_product, make_contract, platform_account, converge):
    integration = make_platform_integration(auto_create_users=False)
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=make_product(integration).pk)
    contract_transition(contract=contract, action="activate")
    user = sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk,
                           use_customer_data=False, email="outro@example.com.br", phone="21 99999-1111",
                           document="529.982.247-25")
    converge()
    held = remote(platform_account, user)
    assert (held["email"], held["phone"], held["document"]) == (
        "outro@example.com.br", "+5521999991111", "52998224725")


def test_manual_creation_names_every_bad_field_and_writes_nothing(make_platform_integration, make_product, make_contract):
    integration = make_platform_integration(auto_create_users=False)
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=make_product(integration).pk)
    with pytest.raises(ApplicationError) as err:
        sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk,
                        use_customer_data=False, email="nao-e-email", phone="11 3333-4444", document="123")
    assert set(err.value.fields) == {"email", "phone", "document"}
    assert err.value.fields["phone"][0].code == "mobile_not_mobile"
    assert not SvaUser.objects.exists()


def test_manual_creation_with_customer_missing_celular_names_it(make_platform_integration, make_product, make_contract,
                                                                make_customer):
    integration = make_platform_integration(auto_create_users=False)
    contract = make_contract(make_customer(mobile_phone=""))
    item = contract_add_product(contract=contract, product_id=make_product(integration).pk)
    with pytest.raises(ApplicationError) as err:
        sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk)
    assert err.value.code == "registration_incomplete"
    assert list(err.value.fields) == ["mobile_phone"]
    assert "Telefone celular" in err.value.message


def test_product_must_be_on_the_contract(make_platform_integration, make_product, make_contract):
    integration = make_platform_integration(auto_create_users=False)
    contract, other = make_contract(), make_contract()
    item = contract_add_product(contract=other, product_id=make_product(integration).pk)
    with pytest.raises(ApplicationError) as err:
        sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk)
    assert "contract_product_id" in err.value.fields


def test_one_sva_user_per_contract_product(sva_contract):
    contract, item, product = sva_contract
    contract_transition(contract=contract, action="activate")
    with pytest.raises(Conflict) as err:
        sva_user_create(contract_id=contract.pk, integration_id=product.sva_integration_id,
                        contract_product_id=item.pk)
    assert err.value.code == "sva_user_exists"


def test_deletion_removes_here_and_on_platform(sva_contract, platform_account, converge):
    contract, item, product = sva_contract
    contract_transition(contract=contract, action="activate")
    converge()
    user = only_user(contract)
    assert remote(platform_account, user) is not None
    sva_user_delete(sva_user=user)
    converge()
    assert remote(platform_account, user) is None
    user.refresh_from_db()
    assert selectors.sync_status(user) == "removed"
    assert not selectors.sva_user_list(contract_id=contract.pk).exists()
    # A new one can be created for the same product afterwards, with a new external id.
    again = sva_user_create(contract_id=contract.pk, integration_id=product.sva_integration_id,
                            contract_product_id=item.pk)
    converge()
    assert again.external_id != user.external_id and remote(platform_account, again)["status"] == "active"


def test_removing_product_removes_its_user(sva_contract, platform_account, converge):
    contract, item, _ = sva_contract
    contract_transition(contract=contract, action="activate")
    converge()
    user = only_user(contract)
    contract_remove_product(contract=contract, contract_product_id=item.pk)
    converge()
    assert remote(platform_account, user) is None
    assert not SvaUser.objects.filter(contract=contract, deleted_at__isnull=True).exists()


def test_deleting_before_first_sync_makes_no_call(sva_contract, platform_account, converge):
    contract, _, _ = sva_contract
    contract_transition(contract=contract, action="activate")
    user = only_user(contract)
    sva_user_delete(sva_user=user)
    converge()
    assert user.calls.count() == 0 and platform_account.users() == []


def test_customer_email_and_phone_changes_reach_the_platform(sva_contract, platform_account, converge):
    contract, _, _ = sva_contract
    contract_transition(contract=contract, action="activate")
    converge()
    customer_update(customer=contract.customer, email="novo@example.com.br", mobile_phone="(48) 98888-7777")
    converge()
    held = remote(platform_account, only_user(contract))
    assert held["email"] == "novo@example.com.br" and held["phone"] == "+5548988887777"


def test_own_data_users_do_not_follow_customer_changes(make_platform_integration, make_product, make_contract,
                                                        platform_account, converge):
    integration = make_platform_integration(auto_create_users=False)
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=make_product(integration).pk)
    contract_transition(contract=contract, action="activate")
    user = sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk,
                           use_customer_data=False, email="proprio@example.com.br", phone="11 98888-0000",
                           document=contract.customer.document)
    converge()
    customer_update(customer=contract.customer, email="cliente-novo@example.com.br")
    converge()
    assert remote(platform_account, user)["email"] == "proprio@example.com.br"


def test_package_change_reaches_the_platform(sva_contract, platform_account, sandbox_kit, converge):
    contract, _, product = sva_contract
    contract_transition(contract=contract, action="activate")
    converge()
    package = sandbox_kit.package_codes[2]
    product_update(product=product, sva_package_code=package)
    converge()
    assert remote(platform_account, only_user(contract))["package_code"] == package


def test_moving_a_product_with_users_to_another_integration_is_refused(sva_contract, make_platform_integration,
                                                                        platform_account):
    contract, _, product = sva_contract
    contract_transition(contract=contract, action="activate")
    other = make_platform_integration(name="Outra", prefix=platform_account.prefix + "x")
    with pytest.raises(Conflict) as err:
        product_update(product=product, sva_integration_id=other.pk)
    assert err.value.code == "product_has_sva_users"
    product.refresh_from_db()
    assert product.sva_integration_id != other.pk


def test_duplicate_email_on_platform_is_reported_and_parked(make_platform_integration, make_product, make_contract,
                                                            make_customer, platform_account, converge):
    integration = make_platform_integration()
    product = make_product(integration)
    first = make_contract(make_customer(email="mesmo@example.com.br"))
    second = make_contract(make_customer(email="mesmo@example.com.br"))
    for contract in (first, second):
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
    converge()
    users = {u.contract_id: u for u in SvaUser.objects.filter(contract__in=[first, second])}
    states = sorted(selectors.sync_status(u) for u in users.values())
    assert states == ["error", "synced"]
    failed = next(u for u in users.values() if u.last_error_code)
    assert failed.last_error_code == "duplicate_email"
    assert "e-mail" in failed.last_error_message.lower()
    assert len(platform_account.users()) == 1
    # Fixing the e-mail converges it.
    customer_update(customer=failed.contract.customer, email="diferente@example.com.br")
    converge()
    assert len(platform_account.users()) == 2
