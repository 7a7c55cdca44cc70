"""contracts.sql against the ORM: the set-based write of ``contracts.transitions`` gives
the same contracts, the same rows returned and the same Histórico as the row-by-row ORM
path (``transition_rows``), and the API's hot reads (list page, detail) answer what the
selectors' querysets answer, on SQLite and on PostgreSQL (``DATABASE_URL``)."""

from __future__ import annotations

from datetime import date, datetime, timezone as dt_timezone
from decimal import Decimal

import pytest

from agrega.contracts import sql, transitions
from agrega.contracts.models import Contract, ContractEvent
from agrega.contracts.transitions import Change, Expect, Step
from agrega.core.bulk import db_datetime

from tests.fixtures import default_platform_only

sva_platform = default_platform_only()

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
    rows = sql.update_returning(ids, Change(access_status="CA", version=1), expect,
                                stamp=db_datetime(NOW), returning=("oldest_open_due",))
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


DUES = [None, date(2026, 10, 10), date(2026, 12, 10), date(2027, 1, 10)]


def test_lower_open_due_equals_the_orm_update(make_contract, make_customer):
    customer = make_customer()
    by_sql, by_orm = [], []
    for ids in (by_sql, by_orm):
        for due in DUES:
            contract = make_contract(customer=customer)
            Contract.objects.filter(pk=contract.pk).update(oldest_open_due=due)
            ids.append(contract.pk)
    new_due = date(2026, 12, 10)
    sql.lower_open_due(new_due, by_sql)
    from django.db.models import Q

    Contract.objects.filter(pk__in=by_orm).filter(Q(oldest_open_due__isnull=True) | Q(oldest_open_due__gt=new_due)) \
        .update(oldest_open_due=new_due)

    def dues(ids):
        found = dict(Contract.objects.filter(pk__in=ids).values_list("pk", "oldest_open_due"))
        return [found[pk] for pk in ids]

    assert dues(by_sql) == dues(by_orm) == [new_due, date(2026, 10, 10), new_due, new_due]
    sql.lower_open_due(new_due, [])  # nothing to do


# ---------------------------------------------------------------- the API's hot reads

def plain(value):
    """A value compared strictly: a datetime by its text (instant and offset)."""
    return value.isoformat() if isinstance(value, datetime) else value


def fields_of(obj) -> dict:
    """Every concrete field of a model instance, as the database gave it."""
    return {f.attname: plain(getattr(obj, f.attname)) for f in obj._meta.get_fields()
            if f.concrete and not f.many_to_many}


@pytest.fixture
def listed(make_customer, make_contract):
    """Contracts of customers with accents and quotes in their names, in every state the
    list shows: pré-contratos (no activated_at), active, blocked, ended (ended_at)."""
    from agrega.contracts import services

    names = ["José Conceição d'Ávila", 'Ana "Nena" Lima', "ÑANDÚ Ltda", "Bia"]
    customers = [make_customer(name=name) for name in names]
    ids = []
    for n in range(14):
        contract = make_contract(customer=customers[n % 4], description=["", "Casa", "Sítio — fundos", "100%_"][n % 4])
        if n % 3:
            services.contract_activate(contract=contract.pk)
        if n % 5 == 0 and n:
            services.contract_deactivate(contract=contract.pk)
        if n % 7 == 1:
            services.contract_block_manual(contract=contract.pk)
        ids.append(contract.pk)
    return ids


def orm_summaries(after, count) -> list[dict]:
    from agrega.contracts import selectors

    queryset = selectors.contract_summaries().values(*sql.SUMMARY_COLUMNS).order_by("pk")
    if after is not None:
        queryset = queryset.filter(pk__gt=after)
    return [{k: plain(v) for k, v in row.items()} for row in queryset[:count]]


def test_contract_summary_rows_answer_what_the_orm_answers(listed):
    edges = [None, 0, listed[0] - 1, listed[0], listed[6], listed[-2], listed[-1], listed[-1] + 1, 2**63 - 1]
    for after in edges:
        for count in (1, 2, 5, 501):
            got = [{k: plain(v) for k, v in row.items()} for row in sql.contract_summary_rows(after, count)]
            assert got == orm_summaries(after, count), (after, count)
    everything = sql.contract_summary_rows(None, 100)
    assert [row["id"] for row in everything] == listed
    assert any(row["activated_at"] is None for row in everything)
    assert any(row["ended_at"] is not None for row in everything)
    assert {row["customer_name"] for row in everything} >= {"José Conceição d'Ávila", 'Ana "Nena" Lima'}


def test_contract_summary_rows_of_no_contracts_is_empty():
    assert sql.contract_summary_rows(None, 51) == [] == orm_summaries(None, 51)


def orm_detail(pk):
    """What the API's detail read through the ORM before it was SQL (the selectors' three reads)."""
    from agrega.contracts import selectors

    found = list(selectors.contract_with_customer(pk))
    if not found:
        return None
    contract = found[0]
    contract.product_list = list(selectors.contract_products_of(pk))
    contract.sva_user_list = list(selectors.contract_sva_users_of(pk))
    return contract


def detail_snapshot(contract) -> dict:
    return {
        "contract": fields_of(contract), "customer": fields_of(contract.customer),
        "products": [(fields_of(item), fields_of(item.product)) for item in contract.product_list],
        "sva_users": [(fields_of(user), user.pending, fields_of(user.contract_product),
                       fields_of(user.contract_product.product), user.contract.pk) for user in contract.sva_user_list],
    }


def test_contract_detail_answers_what_the_orm_answers(listed, make_product, platform_integration, make_contract):
    from agrega.contracts import services
    from agrega.contracts.models import ContractProduct

    with_sva = make_contract(description="Com SVA")
    sva_item = services.contract_add_product(contract=with_sva.pk, product_id=make_product(platform_integration).pk)
    fee = services.contract_add_product(contract=with_sva.pk, product_id=make_product(name="Taxa ç").pk,
                                        price=Decimal("1234.5"))
    free = services.contract_add_product(contract=with_sva.pk, product_id=make_product(name="Brinde").pk)
    ContractProduct.objects.filter(pk=free.pk).update(price=None)
    services.contract_activate(contract=with_sva.pk)
    services.contract_remove_product(contract=with_sva.pk, contract_product_id=fee.pk)
    user_model = Contract._meta.get_field("sva_users").related_model
    users = user_model.objects.filter(contract_id=with_sva.pk)
    assert users.exists() and sva_item
    for pk in [*listed, with_sva.pk]:
        got = sql.contract_detail(pk)
        assert detail_snapshot(got) == detail_snapshot(orm_detail(pk)), pk
    # a refusal recorded (JSON with accents), an error and a retry time: what sync_status reads
    users.update(registration_problems=[{"field": "email", "message": "e-mail inválido — ação"}],
                 last_error_code="E42", last_error_message="Falhou: ç", next_attempt_at=NOW)
    got = sql.contract_detail(with_sva.pk)
    assert detail_snapshot(got) == detail_snapshot(orm_detail(with_sva.pk))
    assert got.sva_user_list[0].registration_problems[0]["message"] == "e-mail inválido — ação"
    assert [str(item.price) if item.price is not None else None for item in got.product_list][1:] == ["1234.50", None]
    for missing in (0, -1, max(listed) + 1000, 2**63 - 1, 2**63, -(2**63) - 1):
        assert sql.contract_detail(missing) is None and (not -2**63 <= missing < 2**63 or orm_detail(missing) is None)
