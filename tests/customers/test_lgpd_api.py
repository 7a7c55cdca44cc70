"""LGPD: export a customer's personal data; anonymise it without breaking contracts,
títulos or the revenue figures; the platform account is removed."""

from datetime import date

import pytest

from agrega.billing.models import Invoice
from agrega.billing.services import billing_run, payment_register
from agrega.contracts.services import contract_activate, contract_add_product, contract_deactivate
from agrega.core.models import ChangeRecord
from agrega.customers.models import Customer
from agrega.sva.models import SvaCall, SvaUser

from tests.fixtures import default_platform_only
from tests.fixtures_api import ApiClient, error

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


@pytest.fixture
def served(make_customer, make_contract, make_product, platform_integration, converge):
    """A customer with an EXA account on the sandbox, billed and paid for a month."""
    customer = make_customer(name="Joana Titular", email="joana.titular@example.com.br",
                             mobile_phone="(11) 97777-1234")
    contract = make_contract(customer=customer)
    contract_add_product(contract=contract, product_id=make_product(name="Internet", price="80.00",
                                                                    fiscal_class="SCM").pk)
    contract_add_product(contract=contract, product_id=make_product(platform_integration, price="10.00").pk)
    contract_activate(contract=contract)
    converge()
    billing_run(period=date.today().replace(day=1))
    invoice = Invoice.objects.get(contract=contract)
    payment_register(invoice_id=invoice.pk, amount=invoice.amount)
    return customer, contract, invoice


def test_export_has_the_holders_data_and_no_secrets(api, served, platform_integration):
    customer, contract, invoice = served
    data = api.get(f"/customers/{customer.pk}/personal-data").json()
    assert data["customer"]["email"] == "joana.titular@example.com.br"
    assert data["contracts"][0]["id"] == contract.pk and len(data["contracts"][0]["products"]) == 2
    assert data["invoices"][0]["amount"] == f"{invoice.amount:.2f}" and data["payments"]
    assert data["sva_accounts"][0]["email"] == "joana.titular@example.com.br"
    text = str(data)
    assert platform_integration.credentials["client_secret"] not in text and "credentials" not in text


def test_anonymise_is_refused_while_the_contract_is_active(api, served):
    customer, *_ = served
    assert error(api.post(f"/customers/{customer.pk}/anonymize", {}), 409)["code"] == "customer_has_active_contracts"
    assert Customer.objects.get(pk=customer.pk).name == "Joana Titular"


def test_anonymise_erases_personal_data_keeps_invoices_and_removes_the_platform_account(
        api, served, platform_account, converge):
    customer, contract, invoice = served
    external_id = SvaUser.objects.get(contract=contract).external_id
    contract_deactivate(contract=contract)
    response = api.post(f"/customers/{customer.pk}/anonymize", {"reason": "pedido por e-mail"})
    assert response.status_code == 200, response.content
    converge()
    customer.refresh_from_db()
    assert customer.name == "Titular anonimizado" and customer.email == customer.mobile_phone == ""
    assert customer.document.startswith("ANON") and customer.anonymized_at
    assert platform_account.user(external_id) is None  # removed from the platform
    kept = Invoice.objects.get(pk=invoice.pk)
    assert (kept.amount, kept.status, kept.lines.count()) == (invoice.amount, "paid", 2)
    everything = str(api.get(f"/customers/{customer.pk}/personal-data").json())
    everything += str(list(SvaCall.objects.filter(sva_user__contract=contract).values("request", "response")))
    everything += str(list(ChangeRecord.objects.values("changes")))
    everything += str(list(SvaUser.objects.filter(contract=contract).values()))
    for secret in ("joana.titular@example.com.br", "Joana Titular", "977771234"):
        assert secret not in everything
    assert error(api.patch(f"/customers/{customer.pk}", {"name": "Outra"}), 409)["code"] == "customer_anonymized"


def test_only_administrators_handle_lgpd_requests(served, db):
    from django.contrib.auth import get_user_model

    from agrega.core.models import ApiToken
    from agrega.core.roles import assign_role

    customer, *_ = served
    user = get_user_model().objects.create_user("op-lgpd")
    assign_role(user, "operador")
    operator = ApiClient(ApiToken.issue(user=user, name="t")[1])
    assert error(operator.get(f"/customers/{customer.pk}/personal-data"), 403)["code"] == "forbidden"
    assert error(operator.post(f"/customers/{customer.pk}/anonymize", {}), 403)["code"] == "forbidden"
