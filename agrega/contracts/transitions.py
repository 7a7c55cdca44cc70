"""The one writer of a contract's status and access status, and of the Histórico event
that records each change.

Every app that moves contracts calls this module: the operators' actions
(``contract_transition``, row by row: one contract, locked, checked against
``TRANSITIONS``), and the set-based ``transition_many`` that the dunning sweep, the
release on payment, trust releases and their expiry use. Other apps decide *which*
contracts and *which* step; only this module writes ``Contract`` statuses and
``ContractEvent`` rows (``tests/test_architecture.py`` fails otherwise).

``transition_many`` is set-based on every database: one ``UPDATE … RETURNING`` per
group of contracts that take the same steps, re-checking the state the steps were
computed from; on PostgreSQL the group's events are inserted by the same statement
(``contracts.sql``). ``transition_rows`` is the same write row by row through the ORM:
the reference the tests compare the set-based path with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agrega.core.bulk import db_datetime

from . import sql
from .choices import AccessStatus as AS
from .choices import ContractAction as Act
from .choices import ContractStatus as CS
from .models import Contract, ContractEvent
from .signals import contracts_changed
from .sql import KEEP, Change, Companion, Expect  # noqa: F401  (part of this module's interface)

ID_CHUNK = 5000  # contracts per statement (SQLite's bound parameters; one announcement each)


@dataclass(frozen=True)
class Transition:
    """Which (status, access status) pairs an action accepts and what it leads to."""

    action: str
    allowed_status: frozenset[str]
    allowed_access: frozenset[str] | None  # None: any access status
    to_status: str | None  # None: keep
    to_access: str | None
    refusal: str

    def allows(self, status: str, access_status: str) -> bool:
        """Whether a contract in (status, access_status) may take this action."""
        return status in self.allowed_status and (
            self.allowed_access is None or access_status in self.allowed_access
        )


_BLOCKABLE = frozenset({AS.ACTIVE, AS.OVERDUE, AS.AUTOMATIC_BLOCK, AS.MANUAL_BLOCK})

# The operators' actions (and the API's and CLI's): the transition table.
TRANSITIONS: dict[str, Transition] = {
    Act.ACTIVATE: Transition(
        Act.ACTIVATE, frozenset({CS.PRE_CONTRACT, CS.INACTIVE, CS.NEGATIVADO}), None, CS.ACTIVE, AS.ACTIVE,
        "Só é possível ativar um pré-contrato, um contrato inativo ou negativado.",
    ),
    Act.BLOCK_MANUAL: Transition(
        Act.BLOCK_MANUAL, frozenset({CS.ACTIVE}), frozenset({AS.ACTIVE, AS.OVERDUE, AS.AUTOMATIC_BLOCK}),
        None, AS.MANUAL_BLOCK,
        "Só é possível bloquear manualmente um contrato ativo que ainda não está em bloqueio manual.",
    ),
    Act.BLOCK_AUTOMATIC: Transition(
        Act.BLOCK_AUTOMATIC, frozenset({CS.ACTIVE}), frozenset({AS.ACTIVE, AS.OVERDUE}),
        None, AS.AUTOMATIC_BLOCK,
        "Só é possível bloquear automaticamente um contrato ativo, liberado ou em atraso.",
    ),
    Act.MARK_OVERDUE: Transition(
        Act.MARK_OVERDUE, frozenset({CS.ACTIVE}), frozenset({AS.ACTIVE}), None, AS.OVERDUE,
        "Só é possível marcar financeiro em atraso em um contrato ativo e liberado.",
    ),
    Act.RELEASE: Transition(
        Act.RELEASE, frozenset({CS.ACTIVE}),
        frozenset({AS.MANUAL_BLOCK, AS.AUTOMATIC_BLOCK, AS.OVERDUE}), None, AS.ACTIVE,
        "Só é possível desbloquear um contrato ativo em bloqueio (CM, CA) ou financeiro em atraso (FA).",
    ),
    Act.DEACTIVATE: Transition(
        Act.DEACTIVATE, frozenset({CS.ACTIVE}), _BLOCKABLE | {AS.DISABLED}, CS.INACTIVE, AS.DISABLED,
        "Só é possível inativar um contrato ativo.",
    ),
    Act.RESCIND: Transition(
        Act.RESCIND, frozenset({CS.ACTIVE}), None, CS.NEGATIVADO, AS.DISABLED,
        "Só é possível rescindir por débito um contrato ativo.",
    ),
    Act.CANCEL: Transition(
        Act.CANCEL, frozenset({CS.PRE_CONTRACT, CS.ACTIVE, CS.INACTIVE, CS.NEGATIVADO}), None,
        CS.CANCELLED, AS.DISABLED,
        "Este contrato já está cancelado.",
    ),
}

# Steps other apps record through ``transition_many`` (the dunning rules), besides TRANSITIONS.
SET_ACTIONS = frozenset({Act.DUNNING_STAGE, Act.DUNNING_NOTICE, Act.RESCIND, Act.PAYMENT_RELEASE,
                         Act.TRUST_RELEASE, Act.TRUST_EXPIRED}) | frozenset(TRANSITIONS)


@dataclass(frozen=True)
class Step:
    """One Histórico event each contract of the group gets: the action and the
    (status, access status) before and after it. A group may cross several steps in one
    write (the sweep: notice, then suspension, on the same day)."""

    action: str
    from_status: str
    to_status: str
    from_access: str
    to_access: str
    detail: dict = field(default_factory=dict)


def actor_fields(actor, label: str | None = None) -> tuple[int | None, str]:
    """(user id, label) the Histórico names: the operator, or ``label`` / "sistema"."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor.pk, actor.get_username()
    return None, label or "sistema"


def _ids(contracts: Iterable) -> list[int]:
    contracts = list(contracts)
    if not any(isinstance(c, Contract) for c in contracts):  # ids (the sweep: thousands per call)
        return sorted(set(map(int, contracts)))
    return sorted({c.pk if isinstance(c, Contract) else int(c) for c in contracts})


def _check(change: Change, steps: Sequence[Step]) -> None:
    for step in steps:
        if step.action not in SET_ACTIONS:
            raise ValueError(f"unknown contract action: {step.action}")


def transition_many(contracts: Iterable, change: Change, *, steps: Sequence[Step] = (),
                    expect: Expect | None = None, actor=None, actor_label: str | None = None, now=None,
                    returning: Sequence[str] = (), announce: bool = True,
                    companion: Companion | None = None) -> list[tuple]:
    """Apply ``change`` to the contracts (ids or Contract objects) still in the state
    ``expect`` describes, and record ``steps`` as Histórico events of each one written.
    ``companion`` (PostgreSQL only; ``contracts.sql.Companion``): another app's write fed
    by the rows written, run in the same statement.

    Set-based: one statement per ``ID_CHUNK`` contracts (on PostgreSQL the events go in
    the same statement; elsewhere one INSERT per step follows). Returns the rows written
    as (id, *returning), by id — a contract that moved meanwhile is not among them.
    Announces (``contracts_changed``) the contracts whose status or access status it
    set, unless ``announce`` is False (the caller announces them together later:
    ``announce_changed``). Runs in the caller's transaction, or its own."""
    _check(change, steps)
    from django.db import connection

    if companion is not None and connection.vendor != "postgresql":
        raise ValueError("a companion statement runs on PostgreSQL only")
    ids = _ids(contracts)
    if not ids:
        return []
    now = now or timezone.now()
    actor_id, label = actor_fields(actor, actor_label)

    stamp = db_datetime(now)
    written: list[tuple] = []
    with transaction.atomic(savepoint=False):  # in the caller's transaction: no savepoint round trips
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            if connection.vendor == "postgresql":
                rows = sql.update_with_events(chunk, change, expect, steps, actor_id=actor_id, actor_label=label,
                                              stamp=stamp, returning=returning, companion=companion)
            else:
                rows = sql.update_returning(chunk, change, expect, stamp=stamp, returning=returning)
                sql.insert_events([row[0] for row in rows], steps, actor_id=actor_id, actor_label=label, now=now)
            written += rows
        if announce and (change.status or change.access_status):
            announce_changed([row[0] for row in written])
    return written


# Operators' actions that change nothing but the statuses: they may be applied to many
# contracts at once. Activation (SVA users created, ``activated_at``) and cancellation
# (accounts freed) stay row by row (``contracts.services.contract_transition``).
SET_BASED_ACTIONS = frozenset({Act.BLOCK_MANUAL, Act.BLOCK_AUTOMATIC, Act.MARK_OVERDUE, Act.RELEASE,
                               Act.DEACTIVATE, Act.RESCIND})


def transition_action_many(contracts: Iterable, action: str, *, actor=None, note: str = "", now=None) -> list[int]:
    """One operators' action of ``TRANSITIONS`` on many contracts, set-based: the
    contracts are grouped by their (status, access status), each group the table allows
    is one ``transition_many`` that re-checks that state; the others are left as they
    are (``contract_transition`` would refuse them one by one). Rescission still needs
    an overdue título. Returns the ids changed."""
    if action not in SET_BASED_ACTIONS:
        raise ValueError(f"not a set-based action: {action}")
    rule = TRANSITIONS[action]
    now = now or timezone.now()
    today = timezone.localdate(now)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, status, access, due in Contract.objects.filter(pk__in=_ids(contracts)).values_list(
            "pk", "status", "access_status", "oldest_open_due"):
        if rule.allows(status, access) and (action != Act.RESCIND or (due is not None and due < today)):
            groups[(status, access)].append(pk)
    changed: list[int] = []
    for (status, access), ids in sorted(groups.items()):
        step = Step(action, status, rule.to_status or status, access, rule.to_access or access,
                    {"note": note} if note else {})
        expect = Expect(status=status, access_status=access,
                        owing_by=today - timedelta(days=1) if action == Act.RESCIND else None)
        changed += [row[0] for row in transition_many(
            ids, Change(status=rule.to_status, access_status=rule.to_access, version=1,
                        ended=action in (Act.DEACTIVATE, Act.RESCIND)),
            expect=expect, steps=[step], actor=actor, now=now)]
    return sorted(changed)


def announce_changed(contract_ids: Sequence[int]) -> None:
    """Tell the listeners (the SVA app) these contracts' statuses changed, one signal
    per ``ID_CHUNK`` contracts, in the caller's transaction."""
    ids = sorted(contract_ids)
    for start in range(0, len(ids), ID_CHUNK):
        contracts_changed.send(sender=Contract, contract_ids=ids[start:start + ID_CHUNK])


def _expect_q(expect: Expect | None) -> Q:
    expect = expect or Expect()
    q = Q()
    for name in ("status", "access_status", "dunning_level"):
        value = getattr(expect, name)
        if value is not None:
            q &= Q(**{name: value})
    if expect.no_trust_release:
        q &= Q(trust_release_until__isnull=True)
    if expect.owing_by is not None:
        q &= Q(oldest_open_due__lte=expect.owing_by)
    if expect.policy_id is not None:
        policy = Q(dunning_policy_id=expect.policy_id)
        q &= (policy | Q(dunning_policy__isnull=True)) if expect.policy_or_default else policy
    return q


@transaction.atomic
def transition_rows(contracts: Iterable, change: Change, *, steps: Sequence[Step] = (),
                    expect: Expect | None = None, actor=None, actor_label: str | None = None, now=None,
                    returning: Sequence[str] = (), announce: bool = True) -> list[tuple]:
    """``transition_many`` row by row through the ORM (lock, check, save, one event at a
    time): the reference its set-based SQL is compared with in the tests."""
    _check(change, steps)
    now = now or timezone.now()
    actor_id, label = actor_fields(actor, actor_label)
    written = []
    for pk in _ids(contracts):
        contract = Contract.objects.select_for_update().filter(_expect_q(expect), pk=pk).first()
        if contract is None:
            continue
        values = {}
        for name in ("status", "access_status", "dunning_level"):
            if getattr(change, name) is not None:
                values[name] = getattr(change, name)
        if change.trust_release_until is not KEEP:
            values["trust_release_until"] = change.trust_release_until
        values["updated_at"] = now
        if change.version:
            values["version"] = F("version") + change.version
        if change.ended:
            values["ended_at"] = now
        Contract.objects.filter(pk=pk).update(**values)
        written.append(pk)
    for step in steps:
        for pk in written:
            ContractEvent.objects.create(contract_id=pk, action=step.action, actor_id=actor_id, actor_label=label,
                                         from_status=step.from_status, to_status=step.to_status,
                                         from_access_status=step.from_access, to_access_status=step.to_access,
                                         detail=step.detail or {}, created_at=now)
    rows = [tuple(r) for r in Contract.objects.filter(pk__in=written).order_by("pk").values_list("pk", *returning)]
    if announce and (change.status or change.access_status):
        announce_changed(written)
    return rows
