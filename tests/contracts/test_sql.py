"""contracts.sql against the ORM: the set-based write of ``contracts.transitions`` gives
the same contracts, the same rows returned and the same Histórico as the row-by-row ORM
path (``transition_rows``), on SQLite and on PostgreSQL (``DATABASE_URL``)."""

from __future__ import annotations

from datetime import date, datetime, timezone as dt_timezone

import pytest

from agrega.contracts import sql, transitions
from agrega.contracts.models import Contract, ContractEvent
from agrega.contracts.transitions import Change, Expect, Step

pytestmark = pytest.mark.django_db(transaction=False)

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=dt_timezone.utc)
# (status, access, level, oldest_open_due, trust until, policy) of each contract of a set
STATES = [
    ("A", "A", 0, date(2026, 11, 1), None), ("A", "A", 0, date(2026, 12, 1), None),
    ("A", "FA", 1, date(2026, 10, 1), None), ("A", "CM", 0, date(2026, 10, 1), None),
    ("A", "A", 0, None, None), ("P", "AA", 0, None, None),
    ("A", "A", 0, date(2026, 10, 1), NOW), ("A", "FA", 1, date(2026, 11, 1), None),
]


def make_set(make_contract, customer) -> list[int]:
    ids = []
    for status, access, level, due, trust in STATES:
        contract = make_contract(customer=customer)
        Contract.objects.filter(pk=contract.pk).update(status=status, access_status=access, dunning_level=level,
                                                       oldest_open_due=due, trust_release_until=trust)
        ids.append(contract.pk)
    return ids


def snapshot(ids):
    rows = {c.pk: c for c in Contract.objects.filter(pk__in=ids)}
    contracts = [(rows[i].status, rows[i].access_status, rows[i].dunning_level, rows[i].trust_release_until,
                  rows[i].version, rows[i].ended_at is not None, rows[i].updated_at == NOW) for i in ids]
    position = {pk: n for n, pk in enumerate(ids)}
    events = [(position[e.contract_id], e.action, e.actor_label, e.from_status, e.to_status,
               e.from_access_status, e.to_access_status, e.detail)
              for e in ContractEvent.objects.filter(contract_id__in=ids, action__in=transitions.SET_ACTIONS)
              .order_by("id")]
    return contracts, events


CASES = [
    # the sweep's group: re-checks status, level, access, no trust release, owing since, policy
    (Change(status="A", access_status="FA", dunning_level=2, version=1),
     Expect(status="A", access_status="A", dunning_level=0, no_trust_release=True, owing_by=date(2026, 11, 15)),
     [Step("dunning_notice", "A", "A", "A", "A", {"level": 1}), Step("dunning_stage", "A", "A", "A", "FA",
                                                                        {"level": 2, "policy": "Anatel"})]),
    # rescission: ends the contract
    (Change(status="N", access_status="D", dunning_level=4, version=1, ended=True),
     Expect(status="A", access_status="FA", dunning_level=1),
     [Step("rescind", "A", "N", "FA", "D", {"level": 4})]),
    # release on payment / trust release expiry: access and trust release, no expectation
    (Change(access_status="A", dunning_level=0, trust_release_until=None, version=1), None,
     [Step("payment_release", "A", "A", "FA", "A", {"reason": "nada vencido em aberto"})]),
    (Change(access_status="A", trust_release_until=NOW, version=1), Expect(access_status="CM"),
     [Step("trust_release", "A", "A", "CM", "A", {"days": 3})]),
    # only the régua's fields, no event, no version
    (Change(dunning_level=0, trust_release_until=None), Expect(status="A"), []),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_set_based_write_equals_the_orm_row_by_row(make_contract, make_customer, case):
    change, expect, steps = CASES[case]
    customer = make_customer()
    sql_ids, orm_ids = make_set(make_contract, customer), make_set(make_contract, customer)
    assert snapshot(sql_ids) == snapshot(orm_ids)

    by_sql = transitions.transition_many(sql_ids, change, expect=expect, steps=steps, now=NOW,
                                         actor_label="régua de cobrança", returning=("status", "access_status"))
    by_orm = transitions.transition_rows(orm_ids, change, expect=expect, steps=steps, now=NOW,
                                         actor_label="régua de cobrança", returning=("status", "access_status"))

    position = lambda ids: {pk: n for n, pk in enumerate(ids)}  # noqa: E731
    assert [(position(sql_ids)[r[0]], *r[1:]) for r in by_sql] == [(position(orm_ids)[r[0]], *r[1:]) for r in by_orm]
    assert by_sql, "each case moves at least one contract"
    assert len(by_sql) < len(STATES) or expect is None, "and the expectation leaves some alone"
    assert snapshot(sql_ids) == snapshot(orm_ids)


def test_update_statement_skips_what_moved_and_returns_the_columns_asked(make_contract, make_customer):
    ids = make_set(make_contract, make_customer())
    expect = Expect(status="A", access_status="A", no_trust_release=True, owing_by=date(2026, 11, 30))
    wanted = list(Contract.objects.filter(pk__in=ids, status="A", access_status="A", trust_release_until=None,
                                          oldest_open_due__lte=date(2026, 11, 30))
                  .order_by("pk").values_list("pk", "oldest_open_due"))
    from django.db import connection

    rows = sql.update_returning(ids, Change(access_status="CA", version=1), expect,
                                stamp=connection.ops.adapt_datetimefield_value(NOW), returning=("oldest_open_due",))
    got = [(pk, due if isinstance(due, date) else date.fromisoformat(due)) for pk, due in rows]
    assert got == wanted and len(got) == 1
    assert list(Contract.objects.filter(pk__in=ids, access_status="CA").values_list("pk", flat=True)) == [got[0][0]]


def test_policy_expectation_takes_the_default_policy_as_no_policy(make_contract, make_customer):
    from agrega.dunning.services import default_policy, policy_from_preset

    default = default_policy()
    other = policy_from_preset(preset="simples", name="Outra")
    customer = make_customer()
    none, own_default, own_other = (make_contract(customer=customer) for _ in range(3))
    Contract.objects.filter(pk=own_default.pk).update(dunning_policy=default)
    Contract.objects.filter(pk=own_other.pk).update(dunning_policy=other)
    ids = [none.pk, own_default.pk, own_other.pk]
    for expect, orm in ((Expect(policy_id=default.pk, policy_or_default=True),
                         Contract.objects.filter(pk__in=ids, dunning_policy__isnull=True)
                         | Contract.objects.filter(pk__in=ids, dunning_policy=default)),
                        (Expect(policy_id=other.pk), Contract.objects.filter(pk__in=ids, dunning_policy=other))):
        got = [r[0] for r in transitions.transition_many(ids, Change(dunning_level=1), expect=expect, now=NOW)]
        assert got == sorted(orm.values_list("pk", flat=True))


def test_events_go_in_step_order_then_contract(make_contract, make_customer):
    customer = make_customer()
    ids = [make_contract(customer=customer).pk for _ in range(3)]
    Contract.objects.filter(pk__in=ids).update(status="A", access_status="A")
    steps = [Step("dunning_notice", "A", "A", "A", "A", {"level": 1}),
             Step("dunning_stage", "A", "A", "A", "FA", {"level": 2})]
    transitions.transition_many(list(reversed(ids)), Change(access_status="FA", dunning_level=2, version=1),
                                steps=steps, now=NOW)
    events = list(ContractEvent.objects.filter(contract_id__in=ids, action__in=["dunning_notice", "dunning_stage"])
                  .order_by("id").values_list("action", "contract_id"))
    assert events == [("dunning_notice", i) for i in ids] + [("dunning_stage", i) for i in ids]


def test_an_unknown_action_is_refused(make_contract):
    with pytest.raises(ValueError):
        transitions.transition_many([make_contract().pk], Change(dunning_level=1), steps=[Step("x", "A", "A", "A", "A")])
