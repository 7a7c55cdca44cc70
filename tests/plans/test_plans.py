"""Planos de Venda: the rules of a plan's items, and a contract created from a plan —
its products at the plan's prices, in one transaction; activation then runs the SVA
flow against the real EXA sandbox."""

from decimal import Decimal

import pytest

from agrega.catalog.services import product_update
from agrega.contracts.models import Contract, ContractProduct
from agrega.contracts.services import contract_activate
from agrega.core.errors import ApplicationError
from agrega.core.models import ChangeRecord
from agrega.plans.models import SalesPlan
from agrega.plans.selectors import plan_total
from agrega.plans.services import (
    contract_create_from_plan,
    plan_add_item,
    plan_create,
    plan_delete,
    plan_remove_item,
    plan_update,
)
from agrega.sva.models import SvaUser

from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


def field_codes(exc) -> dict[str, list[str]]:
    return {name: [e.code for e in errors] for name, errors in exc.value.fields.items()}


@pytest.fixture
def products(make_platform_integration, make_product, sandbox_kit):
    integration = make_platform_integration(auto_create_users=True)
    internet = make_product(name="Internet 500 Mega", price="99.90", fiscal_class="SCM")
    exa = make_product(integration, name="EXA Segurança", price="14.90")
    backup = make_product(integration, name="EXA Backup", price="9.90", package=sandbox_kit.package_codes[2])
    return internet, exa, backup


@pytest.fixture
def seller(django_user_model):
    return django_user_model.objects.create_user("vendedora", password="x")


def test_create_plan_with_items_and_prices(products, seller):
    internet, exa, backup = products
    plan = plan_create(name="Combo Família", description="Internet + segurança", actor=seller, items=[
        {"product_id": internet.pk, "price": "89.90"}, {"product_id": exa.pk},
    ])
    items = list(plan.items.order_by("id"))
    assert [(i.product_id, i.price) for i in items] == [(internet.pk, Decimal("89.90")), (exa.pk, None)]
    assert plan_total(plan) == Decimal("89.90") + Decimal("14.90")
    free = plan_create(name="Backup grátis", items=[{"product_id": backup.pk, "price": 0}])
    assert [i.price for i in free.items.all()] == [Decimal("0.00")] and plan_total(free) == 0
    audit = ChangeRecord.objects.get(object_type="plans.salesplan", object_id=str(plan.pk))
    assert audit.actor_label == "vendedora" and audit.changes["name"] == [None, "Combo Família"]


def test_item_rules_name_each_row_and_write_nothing(products, make_product):
    internet, exa, backup = products
    old = make_product(name="Internet antiga", active=False)
    with pytest.raises(ApplicationError) as exc:
        plan_create(name="  ", items=[
            {"product_id": internet.pk, "price": "-1"}, {"product_id": old.pk}, {"product_id": exa.pk},
            {"product_id": exa.pk}, {"product_id": 999999}, {"product_id": backup.pk},
        ])
    assert field_codes(exc) == {
        "name": ["name_required"],
        "items.0.price": ["amount_invalid"],
        "items.1.product_id": ["product_inactive"],
        "items.3.product_id": ["duplicate_product"],
        "items.4.product_id": ["product_not_found"],
        # EXA holds one user (one package) per customer e-mail: one package per integration
        "items.5.product_id": ["sva_integration_repeated"],
    }
    assert not SalesPlan.objects.exists()


def test_name_is_unique_ignoring_case(products):
    plan_create(name="Combo Família")
    with pytest.raises(ApplicationError) as exc:
        plan_create(name="combo família")
    assert exc.value.code == "plan_name_exists" and exc.value.status_code == 409


def test_update_add_remove_delete(products, make_contract):
    internet, exa, backup = products
    plan = plan_create(name="Básico", items=[{"product_id": internet.pk}])
    plan_update(plan=plan, name="Básico+", active=False, items=[{"product_id": exa.pk, "price": "5"}])
    plan.refresh_from_db()
    assert (plan.name, plan.active) == ("Básico+", False)
    assert [(i.product_id, i.price) for i in plan.items.all()] == [(exa.pk, Decimal("5.00"))]
    with pytest.raises(ApplicationError) as exc:
        plan_add_item(plan=plan.pk, product_id=backup.pk)
    assert exc.value.code == "sva_integration_repeated" and exc.value.status_code == 409
    item = plan_add_item(plan=plan.pk, product_id=internet.pk, price="3.00")
    assert item.price == Decimal("3.00")
    with pytest.raises(ApplicationError) as exc:
        plan_add_item(plan=plan.pk, product_id=internet.pk)
    assert exc.value.code == "plan_product_exists"
    plan_remove_item(plan=plan.pk, item_id=item.pk)
    assert list(plan.items.values_list("product_id", flat=True)) == [exa.pk]

    plan_update(plan=plan, active=True)
    contract_create_from_plan(customer_id=make_contract().customer_id, plan_id=plan.pk)
    with pytest.raises(ApplicationError) as exc:
        plan_delete(plan=plan)
    assert exc.value.code == "plan_in_use"
    unused = plan_create(name="Sem uso")
    plan_delete(plan=unused)
    assert not SalesPlan.objects.filter(pk=unused.pk).exists()


def test_contract_from_plan_has_the_plans_products_and_prices(products, make_customer, seller):
    internet, exa, backup = products
    plan = plan_create(name="Combo", items=[{"product_id": internet.pk, "price": "79.90"}, {"product_id": exa.pk}])
    customer = make_customer()
    contract = contract_create_from_plan(customer_id=customer.pk, plan_id=plan.pk, billing_day=15,
                                         description="venda loja", actor=seller)
    assert contract.status == "P" and contract.sales_plan_id == plan.pk
    assert Contract.objects.get(pk=contract.pk).sales_plan == plan
    assert (contract.billing_day, contract.description, contract.customer_id) == (15, "venda loja", customer.pk)
    items = list(contract.products.order_by("id"))
    assert [(i.product_id, i.kind, i.price) for i in items] == [
        (internet.pk, "OUTRO", Decimal("79.90")), (exa.pk, "SVA", None)]
    assert set(contract.events.values_list("actor_label", flat=True)) == {"vendedora"}
    assert ChangeRecord.objects.filter(object_type="contracts.contract", object_id=str(contract.pk),
                                       action="create_from_plan", actor_label="vendedora").exists()


def test_inactive_empty_or_unsellable_plans_are_refused_with_nothing_written(products, make_customer):
    internet, exa, _ = products
    customer = make_customer()
    inactive = plan_create(name="Antigo", active=False, items=[{"product_id": internet.pk}])
    empty = plan_create(name="Vazio")
    stale = plan_create(name="Produto desativado", items=[{"product_id": internet.pk}, {"product_id": exa.pk}])
    product_update(product=exa, active=False)
    for plan, code in ((inactive, "plan_inactive"), (empty, "plan_empty"), (stale, "plan_product_unavailable")):
        with pytest.raises(ApplicationError) as exc:
            contract_create_from_plan(customer_id=customer.pk, plan_id=plan.pk)
        assert exc.value.code == code and "plan_id" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        contract_create_from_plan(customer_id=customer.pk, plan_id=999999)
    assert exc.value.code == "plan_not_found" and exc.value.status_code == 404
    good = plan_create(name="Bom", items=[{"product_id": internet.pk}])
    with pytest.raises(ApplicationError) as exc:
        contract_create_from_plan(customer_id=999999, plan_id=good.pk, billing_day=40)
    assert field_codes(exc) == {"customer_id": ["customer_not_found"], "billing_day": ["billing_day_invalid"]}
    assert not Contract.objects.exists() and not ContractProduct.objects.exists()


def test_activating_a_contract_from_a_plan_runs_the_sva_flow(products, make_customer, platform_account, converge,
                                                             sandbox_kit):
    internet, exa, backup = products
    plan = plan_create(name="Combo Segurança", items=[{"product_id": internet.pk}, {"product_id": backup.pk}])
    customer = make_customer()
    contract = contract_create_from_plan(customer_id=customer.pk, plan_id=plan.pk)
    assert not SvaUser.objects.filter(contract=contract).exists()  # pre-contract: nothing yet
    contract_activate(contract=contract)
    user = SvaUser.objects.get(contract=contract)
    assert user.contract_product.product_id == backup.pk and user.origin == "automatic"
    converge()
    remote = platform_account.user(user.external_id)
    assert (remote["package_code"], remote["status"], remote["email"]) == (
        sandbox_kit.package_codes[2], "active", customer.email)
