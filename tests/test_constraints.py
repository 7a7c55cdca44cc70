"""The database itself enforces the one-to-one rules, even if a service check is bypassed
(two requests racing past the check, or a bug): tested with plain ORM writes."""

import pytest
from django.db import IntegrityError, transaction

from agrega.catalog.models import Product
from agrega.contracts.services import contract_add_product, contract_transition
from agrega.sva.models import SvaUser

pytestmark = pytest.mark.django_db


@pytest.mark.queue_out_of_step  # rows made with the ORM, to test the database's constraints
def test_one_live_sva_user_per_contract_product(integration, make_product, make_contract):
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
def test_external_id_is_unique(integration, make_product, make_contract):
    contract = make_contract()
    product = make_product(integration)
    a = contract_add_product(contract=contract, product_id=product.pk)
    b = contract_add_product(contract=contract, product_id=make_product(integration, package="EXA-BACKUP-100").pk)
    SvaUser.objects.create(integration=integration, contract=contract, contract_product=a, origin="manual",
                           external_id="agr-fixed")
    with pytest.raises(IntegrityError), transaction.atomic():
        SvaUser.objects.create(integration=integration, contract=contract, contract_product=b, origin="manual",
                               external_id="agr-fixed")


def test_one_product_per_package_and_integration(integration, make_product):
    make_product(integration, package="EXA-SEG-FAMILIA")
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(name="Outro", sva_integration=integration, sva_package_code="EXA-SEG-FAMILIA")
    with pytest.raises(IntegrityError), transaction.atomic():  # integration and package go together
        Product.objects.create(name="Sem pacote", sva_integration=integration, sva_package_code="")
