"""Any sequence of contract events leads to the SVA state the rules table gives.

The oracle below is written from PRODUCT.md's rules table and the manual ("permanece
ativo … liberação do contrato"; "permanece bloqueado … em atraso … bloqueio manual/
automático e inativação"), not from the code under test."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agrega.contracts.services import contract_add_product, contract_remove_product, contract_transition
from agrega.core.errors import ApplicationError
from agrega.sva.models import SvaUser
from agrega.sva.selectors import desired_for
from agrega.sva.services import sva_user_delete

from tests.fixtures import default_platform_only

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


# action: (statuses it accepts, access statuses it accepts or None for any, new status, new access)
RULES = {
    "activate": ({"P", "I", "N"}, None, "A", "A"),
    "block_manual": ({"A"}, {"A", "FA", "CA"}, None, "CM"),
    "block_automatic": ({"A"}, {"A", "FA"}, None, "CA"),
    "mark_overdue": ({"A"}, {"A"}, None, "FA"),
    "release": ({"A"}, {"CM", "CA", "FA"}, None, "A"),
    "deactivate": ({"A"}, None, "I", "D"),
    "cancel": ({"P", "A", "I", "N"}, None, "D", "D"),
    "rescind": ({"A"}, None, "N", "D"),
}
EVENTS = [*RULES, "remove_product", "delete_user"]


def expected_sva_state(status, access, removed, deleted):
    if removed or deleted:
        return "absent"
    return "active" if (status, access) == ("A", "A") else "blocked"


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(EVENTS), min_size=1, max_size=12))
# found by this test: activating again after the operator deleted the user creates a new one
@example(events=["activate", "deactivate", "delete_user", "activate"])
def test_any_sequence_of_events_gives_the_rules_table_state(platform_integration, make_product, make_contract, events):
    from agrega.catalog.models import Product

    # fixtures run once for all examples: one product (one package per platform_integration)
    product = Product.objects.filter(sva_integration=platform_integration).first() or make_product(platform_integration)
    contract = make_contract()
    # the customer owes an overdue título, so rescission for debt is possible
    type(contract).objects.filter(pk=contract.pk).update(oldest_open_due="2020-01-10")
    item = contract_add_product(contract=contract, product_id=product.pk)
    status, access, removed, deleted, ever_active = "P", "AA", False, False, False
    for event in events:
        if event == "remove_product":
            if not removed:
                contract_remove_product(contract=contract, contract_product_id=item.pk)
                removed = True
            continue
        if event == "delete_user":
            user = SvaUser.objects.filter(contract=contract, deleted_at__isnull=True).first()
            if user is not None:
                sva_user_delete(sva_user=user)
                deleted = True
            continue
        statuses, accesses, new_status, new_access = RULES[event]
        allowed = status in statuses and (accesses is None or access in accesses)
        try:
            contract_transition(contract=contract, action=event)
            done = True
        except ApplicationError:
            done = False
        assert done == allowed, (event, status, access)
        if done:
            status, access = new_status or status, new_access
            ever_active = ever_active or event == "activate"
            if event == "activate" and not removed:
                deleted = False  # automatic creation: a new user beside the deleted one
        contract.refresh_from_db()
        assert (contract.status, contract.access_status) == (status, access)
        users = list(SvaUser.objects.filter(contract=contract).select_related(
            "contract__customer", "contract_product__product"))
        # automatic creation happens once the contract is activated with the product on it
        if ever_active and not removed and not deleted:
            assert len([u for u in users if u.deleted_at is None]) == 1
        for user in users:
            gone = user.deleted_at is not None
            assert desired_for(user).state == expected_sva_state(status, access, removed, gone or deleted), (
                events, status, access)


@pytest.mark.django_db
def test_rescission_needs_an_overdue_titulo(make_contract):
    from agrega.contracts.services import contract_activate

    contract = make_contract()
    contract_activate(contract=contract)
    with pytest.raises(ApplicationError) as exc:
        contract_transition(contract=contract, action="rescind")
    assert exc.value.code == "rescind_without_debt"
    contract.refresh_from_db()
    assert (contract.status, contract.access_status) == ("A", "A")


# ---------------------------------------------------------------- set-based vs row by row

SET_ACTIONS = ["block_manual", "block_automatic", "mark_overdue", "release", "deactivate", "rescind"]
START_STATES = [("P", "AA"), ("A", "A"), ("A", "FA"), ("A", "CA"), ("A", "CM"), ("I", "D"), ("N", "D"),
                ("D", "D")]


def _history(contract_ids):
    from agrega.contracts.models import Contract, ContractEvent

    position = {pk: n for n, pk in enumerate(contract_ids)}
    contracts = {c.pk: c for c in Contract.objects.filter(pk__in=contract_ids)}
    rows = [(contracts[pk].status, contracts[pk].access_status, contracts[pk].version,
             contracts[pk].ended_at is not None) for pk in contract_ids]
    events = sorted((position[e.contract_id], e.id, e.action, e.from_status, e.to_status, e.from_access_status,
                     e.to_access_status, e.actor_label, e.detail)
                    for e in ContractEvent.objects.filter(contract_id__in=contract_ids).exclude(action="create"))
    return rows, [e[:1] + e[2:] for e in events]


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(START_STATES), min_size=1, max_size=6),
       st.lists(st.sampled_from(SET_ACTIONS), min_size=1, max_size=8), st.booleans())
def test_set_based_service_gives_what_the_row_by_row_actions_give(make_contract, make_customer, states, actions,
                                                                   owing):
    """contracts.transitions.transition_action_many on a set of contracts in random
    states ends in the statuses, versions and Histórico that contract_transition gives
    applying the same actions one contract at a time (refusals skipped), and in the
    state the rules table (RULES, above) gives."""
    from agrega.contracts.models import Contract
    from agrega.contracts.transitions import transition_action_many

    customer = make_customer()
    due = "2020-01-10" if owing else None

    def make_set():
        ids = []
        for status, access in states:
            contract = make_contract(customer=customer)
            Contract.objects.filter(pk=contract.pk).update(status=status, access_status=access, oldest_open_due=due)
            ids.append(contract.pk)
        return ids

    by_set, by_row = make_set(), make_set()
    expected = list(states)
    for action in actions:
        statuses, accesses, new_status, new_access = RULES[action]
        changed = set(transition_action_many(by_set, action, note="lote"))
        for n, pk in enumerate(by_row):
            status, access = expected[n]
            allowed = status in statuses and (accesses is None or access in accesses) and (
                action != "rescind" or owing)
            try:
                contract_transition(contract=pk, action=action, note="lote")
                done = True
            except ApplicationError:
                done = False
            assert done == allowed == (by_set[n] in changed), (action, status, access)
            if done:
                expected[n] = (new_status or status, new_access)
    rows_set, events_set = _history(by_set)
    assert (rows_set, events_set) == _history(by_row)
    assert [(s, a) for s, a, *_ in rows_set] == expected
