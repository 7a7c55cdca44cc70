"""dunning.sql against the ORM, on SQLite and PostgreSQL: the sweep's candidates are the
contracts the ORM's filter names, and the notices are those an ORM loop would write."""

from __future__ import annotations

from datetime import date, datetime, timezone as dt_timezone

import pytest

from agrega.billing.models import Invoice, InvoiceStatus
from agrega.contracts.models import Contract
from agrega.dunning import sql
from agrega.dunning.models import DunningNotice
from agrega.dunning.services import default_policy, policy_from_preset

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=dt_timezone.utc)
CUTOFF = date(2026, 11, 20)


def orm_candidates(*, policy, default, cutoff, below_level, ids=None):
    owing = Invoice.objects.filter(status=InvoiceStatus.OPEN, due_date__lte=cutoff).values("contract_id")
    qs = Contract.objects.filter(status="A", oldest_open_due__lte=cutoff, dunning_level__lt=below_level,
                                 trust_release_until__isnull=True, pk__in=owing)
    qs = qs.filter(dunning_policy=policy) | qs.filter(dunning_policy__isnull=True) if default else \
        qs.filter(dunning_policy=policy)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return [tuple(r) for r in qs.order_by("pk").values_list("pk", "dunning_level", "access_status",
                                                             "oldest_open_due")]


@pytest.fixture
def contracts(make_contract, make_customer):
    """Contracts in every state the candidates' filter tells apart, each with one título."""

    default, other = default_policy(), policy_from_preset(preset="simples", name="Outra")
    customer = make_customer()
    made = []
    for status, level, due, invoice_status, trust, policy in [
        ("A", 0, date(2026, 11, 1), "open", None, None),
        ("A", 1, date(2026, 10, 1), "open", None, default),
        ("A", 4, date(2026, 8, 1), "open", None, None),  # at the last stage
        ("A", 0, date(2026, 11, 1), "paid", None, None),  # its título is paid
        ("A", 0, date(2026, 11, 30), "open", None, None),  # not due by the cutoff
        ("A", 0, date(2026, 11, 1), "open", NOW, None),  # trust release
        ("I", 0, date(2026, 11, 1), "open", None, None),  # not active
        ("A", 0, date(2026, 11, 1), "open", None, other),  # another régua
    ]:
        contract = make_contract(customer=customer)
        Contract.objects.filter(pk=contract.pk).update(status=status, access_status="A", dunning_level=level,
                                                       oldest_open_due=due, trust_release_until=trust,
                                                       dunning_policy=policy)
        Invoice.objects.create(contract=contract, customer=customer, period=date(2026, 11, 1), issued_on=due,
                               due_date=due,
                               amount="10.00", status=invoice_status)
        made.append(contract.pk)
    return default, other, made


def test_sweep_candidates_equal_the_orm_filter(contracts):
    default, other, ids = contracts
    for policy, is_default in ((default, True), (other, False)):
        got = sql.sweep_candidates(policy_id=policy.pk, default=is_default, first_cutoff=CUTOFF, below_level=4)
        got = [(pk, level, access, due if isinstance(due, date) else date.fromisoformat(due))
               for pk, level, access, due in got]
        want = orm_candidates(policy=policy, default=is_default, cutoff=CUTOFF, below_level=4)
        assert got == want and got
    assert len(sql.sweep_candidates(policy_id=default.pk, default=True, first_cutoff=CUTOFF, below_level=4)) == 2
    some = ids[:1]
    again = sql.sweep_candidates(policy_id=default.pk, default=True, first_cutoff=CUTOFF, below_level=4, ids=some)
    assert [row[0] for row in again] == [row[0] for row in orm_candidates(
        policy=default, default=True, cutoff=CUTOFF, below_level=4, ids=some)] == some
    assert sql.sweep_candidates(policy_id=default.pk, default=True, first_cutoff=CUTOFF, below_level=4, ids=[]) == []


def test_sweep_candidate_states_group_the_orm_filter(contracts, make_contract, make_customer):
    """The same contracts as ``sweep_candidates`` (and the ORM's filter), grouped by
    (stage, access, oldest open due): two contracts in one state are one row."""
    default, other, ids = contracts
    twin = make_contract(customer=make_customer())  # the first contract's state again
    Contract.objects.filter(pk=twin.pk).update(status="A", access_status="A", dunning_level=0,
                                               oldest_open_due=date(2026, 11, 1), dunning_policy=None)
    Invoice.objects.create(contract=twin, customer=twin.customer, period=date(2026, 11, 1),
                           issued_on=date(2026, 11, 1), due_date=date(2026, 11, 1), amount="10.00", status="open")
    for policy, is_default in ((default, True), (other, False)):
        got = sorted((level, access, due if isinstance(due, date) else date.fromisoformat(due), sorted(pks))
                     for level, access, due, pks in sql.sweep_candidate_states(
                         policy_id=policy.pk, default=is_default, first_cutoff=CUTOFF, below_level=4))
        want: dict[tuple, list[int]] = {}
        for pk, level, access, due in orm_candidates(policy=policy, default=is_default, cutoff=CUTOFF,
                                                     below_level=4):
            want.setdefault((level, access, due), []).append(pk)
        assert got == sorted((*state, pks) for state, pks in want.items()) and got
    states = sql.sweep_candidate_states(policy_id=default.pk, default=True, first_cutoff=CUTOFF, below_level=4)
    assert sorted(len(pks) for *_, pks in states) == [1, 2]  # ids[0] and its twin share a state
    assert sql.sweep_candidate_states(policy_id=default.pk, default=True, first_cutoff=date(2026, 1, 1),
                                      below_level=4) == []


def test_insert_notices_equals_an_orm_loop(contracts):
    _default, _other, ids = contracts
    assert sql.insert_notices(ids[:3], [1, 2], now=NOW) == 6
    got = list(DunningNotice.objects.filter(contract_id__in=ids).order_by("id")
               .values_list("contract_id", "level", "oldest_due", "send_error"))
    dues = dict(Contract.objects.filter(pk__in=ids).values_list("pk", "oldest_open_due"))
    assert got == [(pk, level, dues[pk], "") for level in (1, 2) for pk in ids[:3]]
    assert set(DunningNotice.objects.filter(contract_id__in=ids).values_list("created_at", flat=True)) == {NOW}
    assert sql.insert_notices(ids, [], now=NOW) == 0


def test_notices_companion_writes_what_insert_notices_writes(contracts):
    """PostgreSQL: the notices fed by the contracts app's write (one statement) are the
    rows ``insert_notices`` (and the ORM loop above) gives; elsewhere it is refused and
    the sweep calls ``insert_notices``."""
    from django.db import connection

    from agrega.contracts.transitions import Change, transition_many

    _default, _other, ids = contracts
    companion = sql.notices_companion([1, 2], now=NOW)
    if connection.vendor != "postgresql":
        with pytest.raises(ValueError):
            transition_many(ids[:3], Change(dunning_level=2), returning=("oldest_open_due",), companion=companion)
        return
    written = transition_many(ids[:3], Change(dunning_level=2), returning=("oldest_open_due",),
                              companion=companion, now=NOW)
    assert [row[0] for row in written] == sorted(ids[:3])
    got = list(DunningNotice.objects.filter(contract_id__in=ids).order_by("id")
               .values_list("contract_id", "level", "oldest_due", "send_error"))
    dues = dict(Contract.objects.filter(pk__in=ids).values_list("pk", "oldest_open_due"))
    assert got == [(pk, level, dues[pk], "") for level in (1, 2) for pk in sorted(ids[:3])]
    assert set(DunningNotice.objects.filter(contract_id__in=ids).values_list("created_at", flat=True)) == {NOW}
    assert list(Contract.objects.filter(pk__in=ids[:3]).values_list("dunning_level", flat=True)) == [2, 2, 2]
