"""One platform account per customer where the platform allows only one (connector flag
``one_account_per_customer``; EXA keys accounts by e-mail): a second product of the same
integration for the same customer is refused when it is added — or, on the same contract
and a platform that changes packages in place (``can_change_package``), replaces the first
and keeps its account. A database constraint, so concurrent adds never make two."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connections, transaction

from agrega.contracts.models import ContractProduct
from agrega.contracts.services import contract_add_product, contract_transition
from agrega.core.errors import ApplicationError
from agrega.integrations.connectors.base import Capability
from agrega.sva import selectors
from agrega.sva.models import SvaUser
from tests.cli.helpers import run
from tests.fixtures import platforms_with
from tests.fixtures_api import error

# every platform that keeps one account per customer, and that one only
sva_platform = platforms_with(Capability.ONE_ACCOUNT_PER_CUSTOMER)


def _refusal(call) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value


@pytest.mark.django_db
def test_second_product_of_the_integration_on_another_contract_is_refused(platform_integration, sandbox_kit,
                                                                          make_product, make_contract, make_customer):
    customer = make_customer()
    product = make_product(platform_integration)
    other = make_product(platform_integration, package=sandbox_kit.package_codes[2])
    first = make_contract(customer)
    contract_add_product(contract=first, product_id=product.pk)
    contract_transition(contract=first, action="activate")
    user = SvaUser.objects.get(contract=first)
    second = make_contract(customer)
    for candidate in (product, other):
        exc = _refusal(lambda: contract_add_product(contract=second, product_id=candidate.pk))
        assert exc.code == "sva_account_exists" and exc.status_code == 409
        assert f"usuário SVA {user.pk}" in exc.message and f"contrato {first.pk}" in exc.message
        assert exc.extra == {"contract_id": first.pk, "contract_product_id": user.contract_product_id,
                             "sva_user_id": user.pk}
    assert not second.products.exists()
    # A product without SVA, and a product of another integration, are not concerned.
    contract_add_product(contract=second, product_id=make_product().pk)


@pytest.mark.django_db
def test_the_same_product_twice_on_one_contract_is_refused(platform_integration, make_product, make_contract):
    product = make_product(platform_integration)
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=product.pk)
    exc = _refusal(lambda: contract_add_product(contract=contract, product_id=product.pk))
    assert exc.code == "sva_account_exists"
    assert "usuário SVA ainda não criado" in exc.message and f"contrato {contract.pk}" in exc.message
    assert list(contract.products.values_list("pk", flat=True)) == [item.pk]


@pytest.mark.django_db
def test_the_constraint_holds_without_the_service(platform_integration, make_product, make_contract, make_customer):
    """The rule is the database's: an INSERT that skips the service is refused too."""
    customer = make_customer()
    product = make_product(platform_integration)
    item = contract_add_product(contract=make_contract(customer), product_id=product.pk)
    assert (item.sva_account_customer, item.sva_account_integration) == (customer.pk, platform_integration.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        ContractProduct.objects.create(contract=make_contract(customer), product=product, kind="SVA",
                                       sva_account_customer=customer.pk, sva_account_integration=platform_integration.pk)


@pytest.mark.django_db
def test_another_package_on_the_same_contract_changes_the_account_in_place(platform_integration, sandbox_kit,
                                                                           make_product, make_contract,
                                                                           platform_account, converge):
    basic = make_product(platform_integration)
    family = make_product(platform_integration, package=sandbox_kit.package_codes[1])
    contract = make_contract()
    old = contract_add_product(contract=contract, product_id=basic.pk)
    contract_transition(contract=contract, action="activate")
    converge()
    user = SvaUser.objects.get(contract=contract)
    assert platform_account.user(user.external_id)["package_code"] == sandbox_kit.package_codes[0]

    new = contract_add_product(contract=contract, product_id=family.pk)
    old.refresh_from_db()
    assert old.removed_at is not None
    moved = SvaUser.objects.get(contract=contract, deleted_at__isnull=True)
    assert (moved.pk, moved.external_id, moved.contract_product_id) == (user.pk, user.external_id, new.pk)
    converge()
    remote = platform_account.user(user.external_id)
    assert remote["package_code"] == sandbox_kit.package_codes[1] and remote["status"] == "active"
    assert len(platform_account.users()) == 1
    actions = list(contract.events.order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["remove_product", "add_product"]


@pytest.mark.django_db
def test_a_cancelled_contract_frees_the_account_and_its_user_goes_at_once(platform_integration, make_product,
                                                                          make_contract, make_customer,
                                                                          platform_account, converge):
    customer = make_customer()
    product = make_product(platform_integration)
    first = make_contract(customer)
    contract_add_product(contract=first, product_id=product.pk)
    contract_transition(contract=first, action="activate")
    converge()
    old_user = SvaUser.objects.get(contract=first)
    contract_transition(contract=first, action="cancel")
    second = make_contract(customer)
    contract_add_product(contract=second, product_id=product.pk)
    contract_transition(contract=second, action="activate")
    old_user.refresh_from_db()
    assert old_user.deleted_at is not None  # the customer is back: no waiting for the retention period
    converge()
    [remote] = platform_account.users()
    assert remote["external_id"] == SvaUser.objects.get(contract=second).external_id
    assert remote["status"] == "active"


@pytest.mark.django_db
def test_api_and_cli_report_the_refusal_the_same_way(api, platform_integration, make_product, make_contract,
                                                     make_customer):
    customer = make_customer()
    product = make_product(platform_integration)
    first = make_contract(customer)
    contract_add_product(contract=first, product_id=product.pk)
    second = make_contract(customer)
    response = api.post(f"/contracts/{second.pk}/products", {"product_id": product.pk})
    body = error(response, 409)
    assert body["code"] == "sva_account_exists" and f"contrato {first.pk}" in body["message"]
    result = run("contract", "add-product", second.pk, "--product", product.pk)
    assert result.code == 2 and result.err.startswith("erro [sva_account_exists]: ")


def _parallel_adds(contracts, product_id) -> tuple[list, list]:
    """One thread per contract, each with its own database connection, all released at
    once: (items added, refusal codes)."""
    start = threading.Barrier(len(contracts))
    added, refused, crashed = [], [], []

    def add(contract_id):
        try:
            start.wait()
            added.append(contract_add_product(contract=contract_id, product_id=product_id).pk)
        except ApplicationError as exc:
            refused.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - reported below
            crashed.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(c.pk,)) for c in contracts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not crashed, crashed
    return added, refused


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_contract", [True, False], ids=["same-contract", "ten-contracts"])
def test_ten_parallel_adds_make_one_account(same_contract, platform_integration, make_product, make_contract,
                                            make_customer):
    customer = make_customer()
    product = make_product(platform_integration)
    contracts = [make_contract(customer) for _ in range(1 if same_contract else 10)]
    for contract in contracts:
        contract_transition(contract=contract, action="activate")
    targets = contracts * 10 if same_contract else contracts
    added, refused = _parallel_adds(targets, product.pk)
    assert len(added) == 1, (added, refused)
    assert refused == ["sva_account_exists"] * 9
    assert ContractProduct.objects.filter(product=product, removed_at__isnull=True).count() == 1
    assert SvaUser.objects.filter(integration=platform_integration, deleted_at__isnull=True).count() == 1
    user = SvaUser.objects.get(integration=platform_integration)
    assert user.contract_product_id == added[0]
    assert selectors.desired_for(user).state == "active"


@pytest.mark.django_db
def test_csv_import_refuses_a_second_account_per_line(platform_integration, sandbox_kit, make_product, make_customer):
    """Imports insert items in bulk: the constraint refuses the batch, the line alone is
    then rejected with the same code and a message naming the holder."""
    from agrega.imports import services as imports
    from agrega.imports.models import ImportRow
    from tests.imports.helpers import csv_bytes, row

    product = make_product(platform_integration)
    other = make_product(platform_integration, package=sandbox_kit.package_codes[2])
    existing = make_customer()
    content = csv_bytes([
        row(1, produtos=str(product.pk)),                              # line 2: applied
        row(2, cpf_cnpj=row(1)["cpf_cnpj"], produtos=str(product.pk)),  # line 3: same customer again
        row(3, produtos=f"{product.pk}|{other.pk}"),                     # line 4: two of the integration
        row(4, cpf_cnpj=existing.document, produtos=str(other.pk)),      # line 5: applied
    ])
    job = imports.import_job_create(file_name="clientes.csv", content=content, mapping=None, actor=None)
    job = imports.import_job_run(job_id=job.pk, batch_size=10)
    assert (job.applied, job.rejected) == (2, 2)
    rows = {r.ref: r for r in ImportRow.objects.filter(job=job)}
    for ref in ("CT-000002", "CT-000003"):
        assert rows[ref].status == "rejected"
        assert rows[ref].messages[-1]["code"] == "sva_account_exists", rows[ref].messages
    holder = ContractProduct.objects.get(product=product)
    assert f"contrato {holder.contract_id}" in rows["CT-000002"].messages[-1]["message"]
    assert ContractProduct.objects.filter(product__sva_integration=platform_integration).count() == 2
