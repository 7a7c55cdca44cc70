"""Activation creates the automatic SVA users of all the contract's products at once
(sva.services.sva_users_auto_create_for_contract): one INSERT for the users, one for
their queue rows, one for their audit records, however many products; and a status
action queues the live users of its contract (services.bump_contracts) in one statement."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agrega.contracts.services import contract_add_product, contract_remove_product, contract_transition
from agrega.core.models import ChangeRecord
from agrega.sva import pending
from agrega.sva.models import SvaPendingWork, SvaUser
from agrega.sva.services import bump_contracts, sva_user_create, sva_user_delete
from tests.fixtures import default_packages, default_platform_only

sva_platform = default_platform_only()

pytestmark = pytest.mark.django_db


PACKAGES = default_packages()  # the sandbox's catalogue
_used: dict[str, itertools.count] = {}


def _sva_product(make_product, integration):
    """A product of ``integration`` with a package of its own (a package maps to one product)."""
    return make_product(integration, package=PACKAGES[next(_used.setdefault(integration.prefix, itertools.count()))])


@pytest.fixture
def integrations(make_platform_integration, platform_account):
    """Three integrations creating users automatically: a contract holds one product of
    each at most (EXA allows one account per customer, contracts.services)."""
    return [make_platform_integration(auto_create_users=True, name=f"EXA auto {n}", prefix=f"{platform_account.prefix}a{n}")
            for n in range(3)]


def _products(make_product, integrations, count=3):
    """One SVA product of each of the first ``count`` integrations."""
    return [_sva_product(make_product, integration) for integration in integrations[:count]]


def _live(contract) -> dict[int, SvaUser]:
    return {u.contract_product_id: u for u in SvaUser.objects.filter(contract=contract, deleted_at__isnull=True)}


def test_activation_creates_a_user_for_each_eligible_product_only(make_platform_integration, make_product,
                                                                  make_contract, make_customer, platform_account):
    auto, auto_also, auto_removed = (make_platform_integration(auto_create_users=True, name=f"EXA {n}",
                                                      prefix=f"{platform_account.prefix}{n}") for n in (1, 3, 4))
    auto_too = make_platform_integration(auto_create_users=True, name="EXA 2", prefix=platform_account.prefix + "b")
    consent = make_platform_integration(auto_create_users=True, requires_consent=True, name="EXA consentimento",
                               prefix=platform_account.prefix + "c")
    manual_only = make_platform_integration(auto_create_users=False, name="EXA manual", prefix=platform_account.prefix + "m")
    inactive = make_platform_integration(auto_create_users=True, name="EXA inativa", prefix=platform_account.prefix + "i")
    contract = make_contract(make_customer(mobile_phone=""))
    eligible = [contract_add_product(contract=contract, product_id=_sva_product(make_product, i).pk)
                for i in (auto, auto_also)]
    gated = contract_add_product(contract=contract, product_id=_sva_product(make_product, consent).pk)
    not_auto = contract_add_product(contract=contract, product_id=_sva_product(make_product, manual_only).pk)
    removed = contract_add_product(contract=contract, product_id=_sva_product(make_product, auto_removed).pk)
    contract_remove_product(contract=contract, contract_product_id=removed.pk)
    already = contract_add_product(contract=contract, product_id=_sva_product(make_product, auto_too).pk)
    existing = sva_user_create(contract_id=contract.pk, integration_id=auto_too.pk, contract_product_id=already.pk,
                               use_customer_data=False, email="proprio@example.com.br",
                               phone="(11) 91234-5678", document="52998224725")
    off = contract_add_product(contract=contract, product_id=_sva_product(make_product, inactive).pk)
    inactive.active = False
    inactive.save(update_fields=["active"])
    other = make_contract()  # another customer
    contract_add_product(contract=other, product_id=_sva_product(make_product, auto).pk)

    contract_transition(contract=contract, action="activate")

    live = _live(contract)
    assert set(live) == {*(i.pk for i in eligible), gated.pk, already.pk}
    assert live[already.pk].pk == existing.pk and live[already.pk].origin == "manual"  # not created twice
    assert not_auto.pk not in live and removed.pk not in live and off.pk not in live
    assert not SvaUser.objects.filter(contract=other).exists()  # another contract's products untouched
    created = [live[i.pk] for i in eligible] + [live[gated.pk]]
    for user in created:
        assert user.origin == "automatic" and user.use_customer_data
        assert user.integration_id == user.contract_product.product.sva_integration_id
        # the customer has no mobile phone: every user keeps the problem, visible on the contract
        assert "mobile_phone" in {p["field"] for p in user.registration_problems}
        assert SvaPendingWork.objects.filter(sva_user=user, bumps=0).exists()
        record = ChangeRecord.objects.get(object_type="sva.svauser", object_id=str(user.pk), action="create")
        assert record.changes == {"origin": [None, "automatic"], "use_customer_data": [None, True],
                                  "contract_product_id": [None, user.contract_product_id]}
    assert "consent" in {p["field"] for p in live[gated.pk].registration_problems}
    assert "consent" not in {p["field"] for p in live[eligible[0].pk].registration_problems}


def _pre_contract(make_contract, products):
    contract = make_contract()
    for product in products:
        contract_add_product(contract=contract, product_id=product.pk)
    return contract


def test_activation_costs_the_same_statements_for_one_product_or_three(integrations, make_product, make_contract):
    products = _products(make_product, integrations)
    counts = []
    for some in (products[:1], products):
        contract = _pre_contract(make_contract, some)
        contract_transition(contract=contract, action="activate")  # the first warms what is read once per process
        contract = _pre_contract(make_contract, some)
        with CaptureQueriesContext(connection) as queries:
            contract_transition(contract=contract, action="activate")
        assert len(_live(contract)) == len(some)
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_reactivation_creates_a_new_user_where_the_old_one_was_deleted(integrations, make_product, make_contract):
    contract = _pre_contract(make_contract, _products(make_product, integrations, 2))
    contract_transition(contract=contract, action="activate")
    first = _live(contract)
    gone = next(iter(first.values()))
    sva_user_delete(sva_user=gone)
    contract_transition(contract=contract, action="deactivate")
    contract_transition(contract=contract, action="activate")
    again = _live(contract)
    assert set(again) == set(first)
    assert again[gone.contract_product_id].pk != gone.pk  # a new user for the deleted one
    kept = next(pk for pk in first if pk != gone.contract_product_id)
    assert again[kept].pk == first[kept].pk


def test_bump_contracts_queues_the_live_users_of_those_contracts_only(integrations, make_product, make_contract,
                                                                      monkeypatch):
    products = _products(make_product, integrations, 2)
    contracts = [_pre_contract(make_contract, products) for _ in range(5)]
    for contract in contracts:
        contract_transition(contract=contract, action="activate")
    deleted = SvaUser.objects.filter(contract=contracts[0]).first()
    sva_user_delete(sva_user=deleted)
    before = dict(SvaPendingWork.objects.values_list("sva_user_id", "bumps"))
    monkeypatch.setattr(pending, "SQLITE_CHUNK", 1)  # three ids per statement on SQLite: several chunks
    wanted = [c.pk for c in contracts[:4]]
    assert bump_contracts(wanted) == 7  # 4 contracts × 2 users, one of them deleted
    after = dict(SvaPendingWork.objects.values_list("sva_user_id", "bumps"))
    for user in SvaUser.objects.filter(contract__in=contracts):
        expected = before[user.pk] + 1 if user.contract_id in wanted and user.pk != deleted.pk else before[user.pk]
        assert after[user.pk] == expected, user
    assert bump_contracts([]) == 0
