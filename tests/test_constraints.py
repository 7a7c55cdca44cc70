"""The database itself enforces the one-to-one rules, even if a service check is bypassed
(two requests racing past the check, or a bug): tested with plain ORM writes."""

import pytest
from django.db import IntegrityError, transaction

from agrega.catalog.models import Product
from agrega.contracts.services import contract_add_product, contract_transition
from agrega.sva.models import SvaUser
from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db
sva_platform = default_platform_only()  # the database's rules, not a platform's


@pytest.mark.queue_out_of_step  # rows made with the ORM, to test the database's constraints
def test_one_live_sva_user_per_contract_product(platform_integration, make_product, make_contract):
    integration = platform_integration
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=make_product(integration).pk)
    contract_transition(contract=contract, action="activate")
    first = SvaUser.objects.get(contract_product=item)
    with pytest.raises(IntegrityError), transaction.atomic():
        SvaUser.objects.create(integration=integration, contract=contract, contract_product=item, origin="manual")
    # A removed user does not count: a new one may follow it.
    SvaUser.objects.filter(pk=first.pk).update(deleted_at=first.created_at)
    SvaUser.objects.create(integration=integration, contract=contract, contract_product=item, origin="manual")


@pytest.mark.queue_out_of_step  # rows made with the ORM, to test the database's constraints
def test_external_id_is_unique(platform_integration, make_product, make_contract, sandbox_kit):
    integration = platform_integration
    contract = make_contract()
    product = make_product(integration)
    a = contract_add_product(contract=contract, product_id=product.pk)
    other = make_product(integration, package=sandbox_kit.package_codes[2])
    b = contract_add_product(contract=contract, product_id=other.pk)
    SvaUser.objects.create(integration=integration, contract=contract, contract_product=a, origin="manual",
                           external_id="agr-fixed")
    with pytest.raises(IntegrityError), transaction.atomic():
        SvaUser.objects.create(integration=integration, contract=contract, contract_product=b, origin="manual",
                               external_id="agr-fixed")


def test_one_product_per_package_and_integration(platform_integration, make_product, sandbox_kit):
    integration = platform_integration
    make_product(integration, package=sandbox_kit.package_codes[1])
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(name="Outro", sva_integration=integration,
                               sva_package_code=sandbox_kit.package_codes[1])
    with pytest.raises(IntegrityError), transaction.atomic():  # integration and package go together
        Product.objects.create(name="Sem pacote", sva_integration=integration, sva_package_code="")
