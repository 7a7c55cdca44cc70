"""What the platform accepts (EXA's DataRules) applied at entry and in the registration
check, end to end against the sandbox: refused with the platform's reason before
anything is sent, or converted (IDN domain → punycode) and synced without drift.

On the exa_* fixtures: the rules checked are EXA's own (docs/connectors/exa.md)."""

import pytest

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.core.errors import ApplicationError, ValidationFailed
from agrega.customers.models import Customer
from agrega.customers.services import customer_update
from agrega.sva import selectors
from agrega.sva.models import SvaUser
from agrega.sva.services import sva_user_create

pytestmark = pytest.mark.django_db


def codes(exc) -> dict[str, list[str]]:
    return {name: [e.code for e in errs] for name, errs in exc.fields.items()}


@pytest.fixture
def manual(make_integration, make_product, make_contract):
    """An active contract with an SVA product of a manual EXA integration."""
    def make(customer=None):
        integration = make_integration(auto_create_users=False)
        contract = make_contract(customer)
        item = contract_add_product(contract=contract, product_id=make_product(integration).pk)
        contract_transition(contract=contract, action="activate")
        return contract, item, integration
    return make


def test_manual_user_with_an_email_exa_cannot_take_is_refused_naming_the_platform(manual):
    contract, item, integration = manual()
    with pytest.raises(ValidationFailed) as caught:
        sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk,
                        use_customer_data=False, email="joão@exemplo.com.br", phone="21 99999-1111",
                        document="529.982.247-25")
    assert codes(caught.value) == {"email": ["email_local_not_accepted"]}
    message = caught.value.fields["email"][0].message
    assert "A plataforma EXA não aceita acentos" in message and "informe outro e-mail" in message
    assert not SvaUser.objects.exists()


def test_manual_user_with_customer_data_exa_cannot_take_is_refused(manual, make_customer):
    customer = make_customer(name="Loja 😀 Feliz", email="joão@exemplo.com.br")
    contract, item, integration = manual(customer)
    with pytest.raises(ApplicationError) as caught:
        sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk,
                        use_customer_data=True)
    assert caught.value.code == "registration_incomplete"
    assert codes(caught.value) == {"name": ["name_character_not_accepted"], "email": ["email_local_not_accepted"]}
    assert "retire «😀» do nome" in caught.value.fields["name"][0].message
    assert not SvaUser.objects.exists()


def test_idn_domain_is_sent_in_punycode_and_stays_in_sync(manual, make_customer, exa_account, converge):
    customer = make_customer(email="maria@café.com.br")
    contract, item, integration = manual(customer)
    user = sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk,
                           use_customer_data=True)
    converge()
    user.refresh_from_db()
    assert exa_account.user(user.external_id)["email"] == "maria@xn--caf-dma.com.br"
    assert user.confirmed_email == "maria@café.com.br"
    assert selectors.sync_status(user) == "synced"
    assert user.calls.filter(operation="update_user").count() == 0  # no false drift
    # a second pass changes nothing either
    SvaUser.objects.filter(pk=user.pk).update(version=user.version + 1)
    from agrega.sva import pending
    pending.mark([user.pk])
    converge()
    assert user.calls.filter(operation="update_user").count() == 0


def test_customer_change_exa_cannot_take_is_refused_when_the_customer_has_a_user(manual, make_customer):
    customer = make_customer()
    contract, item, integration = manual(customer)
    sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk,
                    use_customer_data=True)
    before = Customer.objects.get(pk=customer.pk)
    with pytest.raises(ValidationFailed) as caught:
        customer_update(customer=Customer.objects.get(pk=customer.pk), email="joão@exemplo.com.br",
                        name="Cliente 🚀", city="Sorocaba")
    assert codes(caught.value) == {"email": ["email_local_not_accepted"], "name": ["name_character_not_accepted"]}
    assert "EXA" in caught.value.message
    after = Customer.objects.get(pk=customer.pk)
    assert (after.email, after.name, after.city) == (before.email, before.name, before.city)
    # an IDN domain EXA takes in punycode is fine
    customer_update(customer=after, email="novo@café.com.br")


def test_without_a_user_the_customer_takes_the_email_and_a_later_user_shows_the_problem(
        integration, make_product, make_customer, make_contract, exa_account, converge):
    customer = make_customer()
    customer_update(customer=customer, email="joão@exemplo.com.br")  # no SVA user: nothing to refuse
    contract = make_contract(customer)
    contract_add_product(contract=contract, product_id=make_product(integration).pk)
    contract_transition(contract=contract, action="activate")  # the automatic user: held back
    user = SvaUser.objects.get(contract=contract)
    assert [p["code"] for p in user.registration_problems] == ["email_local_not_accepted"]
    assert "E-mail principal no cadastro do cliente: A plataforma EXA" in user.registration_problems[0]["message"]
    converge()
    user.refresh_from_db()
    assert selectors.sync_status(user) == "registration" and exa_account.users() == []
    customer_update(customer=Customer.objects.get(pk=customer.pk), email="joao@exemplo.com.br")
    converge()
    user.refresh_from_db()
    assert selectors.sync_status(user) == "synced"
    assert exa_account.user(user.external_id)["email"] == "joao@exemplo.com.br"
