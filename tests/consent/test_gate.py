"""The consent gate, end to end against the real EXA sandbox (HTTP): an integration that
requires consent creates no user on the platform until the customer's consent is
recorded; manual creation is refused; a change of the customer's data keeps the gate;
revoking does not remove an existing account."""

import pytest

from agrega.consent.selectors import sva_without_consent
from agrega.consent.services import consent_record, consent_revoke
from agrega.contracts.services import contract_activate, contract_add_product
from agrega.core.errors import ApplicationError
from agrega.customers.services import customer_update
from agrega.integrations.services import integration_update
from agrega.sva import selectors
from agrega.sva.models import SvaUser
from agrega.sva.services import sva_user_create

from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


CONSENT = "consent_missing"


def only_user(contract) -> SvaUser:
    return SvaUser.objects.get(contract=contract, deleted_at__isnull=True)


def codes(user) -> list[str]:
    user.refresh_from_db()
    return [p["code"] for p in user.registration_problems]


@pytest.fixture
def gated(make_platform_integration, make_product, sandbox_kit):
    integration = make_platform_integration(auto_create_users=True, requires_consent=True)
    return integration, make_product(integration, name="Família", package=sandbox_kit.package_codes[1])


def test_activation_waits_for_consent_then_converges(gated, make_contract, platform_account, converge):
    integration, product = gated
    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    user = only_user(contract)
    assert codes(user) == [CONSENT]
    assert user.registration_problems[0]["field"] == "consent"
    assert "Consentimento do cliente não registrado" in user.registration_problems[0]["message"]

    converge()
    user.refresh_from_db()
    assert platform_account.users() == []  # nothing on the platform without consent
    assert user.confirmed_state == "absent" and selectors.sync_status(user) == "registration"
    assert codes(user) == [CONSENT]  # the worker kept the gate
    assert not user.calls.filter(operation="create_user").exists()

    consent_record(contract_id=contract.pk, product_id=product.pk, channel="telefone", evidence_ref="Prot. 77")
    assert codes(user) == []
    converge()
    user.refresh_from_db()
    remote = platform_account.user(user.external_id)
    assert remote is not None and remote["status"] == "active"
    assert remote["package_code"] == product.sva_package_code
    assert user.confirmed_state == "active" and selectors.sync_status(user) == "synced"
    assert user.last_error_code == ""


def test_without_the_rule_nothing_waits(make_platform_integration, make_product, make_contract, platform_account,
                                        converge):
    integration = make_platform_integration(auto_create_users=True)  # requires_consent off
    product = make_product(integration)
    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    assert codes(only_user(contract)) == []
    converge()
    assert platform_account.user(only_user(contract).external_id)["status"] == "active"
    # …but the charge shows in the report until consent is recorded
    assert list(sva_without_consent().values_list("contract_id", flat=True)) == [contract.pk]


def test_manual_creation_is_refused_without_consent(make_platform_integration, make_product, make_contract,
                                                    platform_account, converge):
    integration = make_platform_integration(auto_create_users=False, requires_consent=True)
    product = make_product(integration)
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    with pytest.raises(ApplicationError) as exc:
        sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk)
    assert exc.value.code == CONSENT and exc.value.status_code == 422
    assert [e.code for e in exc.value.fields["contract_product_id"]] == [CONSENT]
    assert not SvaUser.objects.filter(contract=contract).exists()

    consent_record(contract_id=contract.pk, product_id=product.pk, channel="presencial", evidence_ref="Loja 3")
    user = sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk)
    converge()
    assert platform_account.user(user.external_id)["status"] == "active"


def test_correcting_the_customer_keeps_the_consent_gate(gated, make_customer, make_contract, platform_account,
                                                       converge):
    integration, product = gated
    customer = make_customer(email="")
    contract = make_contract(customer=customer)
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    user = only_user(contract)
    assert codes(user) == ["email_required", CONSENT]
    converge()
    customer_update(customer=customer, email="corrigido@example.com.br")
    assert codes(user) == [CONSENT]  # the registration check did not wipe the consent gate
    converge()
    assert platform_account.users() == []
    assert codes(user) == [CONSENT]

    consent_record(contract_id=contract.pk, product_id=product.pk, channel="email", evidence_ref="msg-1")
    converge()
    user.refresh_from_db()
    assert platform_account.user(user.external_id)["email"] == "corrigido@example.com.br"
    assert user.confirmed_state == "active"


def test_revoking_keeps_the_existing_account_and_reports_the_charge(gated, make_contract, platform_account,
                                                                   converge):
    integration, product = gated
    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    record = consent_record(contract_id=contract.pk, product_id=product.pk, channel="site", evidence_ref="ip")
    contract_activate(contract=contract)
    user = only_user(contract)
    assert codes(user) == []
    converge()
    assert platform_account.user(user.external_id)["status"] == "active"

    consent_revoke(consent_id=record.pk, reason="pedido do cliente")
    converge()
    user.refresh_from_db()
    assert codes(user) == []  # an account already on the platform is not gated
    assert platform_account.user(user.external_id)["status"] == "active"
    assert user.deleted_at is None
    assert list(sva_without_consent().values_list("contract_id", flat=True)) == [contract.pk]


def test_switching_the_rule_gates_only_users_not_yet_created(make_platform_integration, make_product, make_customer,
                                                            make_contract, platform_account, converge):
    integration = make_platform_integration(auto_create_users=True)
    product = make_product(integration)
    created = make_contract()
    contract_add_product(contract=created, product_id=product.pk)
    contract_activate(contract=created)
    waiting_customer = make_customer(mobile_phone="")
    waiting = make_contract(customer=waiting_customer)
    contract_add_product(contract=waiting, product_id=product.pk)
    contract_activate(contract=waiting)
    converge()
    assert codes(only_user(waiting)) == ["mobile_required"]

    integration_update(integration=integration, requires_consent=True)
    assert codes(only_user(created)) == []
    assert codes(only_user(waiting)) == ["mobile_required", CONSENT]
    customer_update(customer=waiting_customer, mobile_phone="(11) 98888-7777")
    converge()
    assert codes(only_user(waiting)) == [CONSENT]
    assert platform_account.user(only_user(waiting).external_id) is None

    integration_update(integration=integration, requires_consent=False)
    assert codes(only_user(waiting)) == []
    converge()
    assert platform_account.user(only_user(waiting).external_id)["status"] == "active"
    assert platform_account.user(only_user(created).external_id)["status"] == "active"


def test_the_activation_confirmation_says_the_user_waits_for_consent(gated, make_contract):
    integration, product = gated
    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    effects = selectors.sva_effects_of(contract, to_status="A", to_access_status="A")
    assert [e.kind for e in effects] == ["pending"]
    assert "consentimento do cliente ser registrado" in effects[0].message
    consent_record(contract_id=contract.pk, product_id=product.pk, channel="site", evidence_ref="x")
    assert [e.kind for e in selectors.sva_effects_of(contract, to_status="A", to_access_status="A")] == ["create"]
