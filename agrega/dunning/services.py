"""The dunning rules: configuring the régua (from the pages, the API and the CLI, each
change recorded with its author in ``ChangeRecord``), the daily sweep, release on payment,
and trust releases. The sweep decides *which* contracts take *which* step; the contracts
app writes them (``contracts.transitions``).

The sweep is set-based and reads only the contract row (``oldest_open_due``, kept by the
billing app): each contract is written once, to the stage its due date calls for, by an
UPDATE … RETURNING that re-checks the state the new one was computed from. Under
PostgreSQL's READ COMMITTED, a payment that commits while the sweep waits for a row's
lock has already rewritten ``oldest_open_due`` on that row, and the UPDATE re-checks its
WHERE on the new row version — so a paid contract is never blocked by a sweep that
started before the payment (docs/decisions/0006-billing-and-dunning.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from agrega.contracts import transitions
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.choices import ContractAction as Act
from agrega.contracts.choices import ContractStatus as CS
from agrega.contracts.models import Contract
from agrega.contracts.transitions import Change, Expect, Step
from agrega.core.audit import actor_label, diff, record_change
from agrega.core.bulk import in_threads
from agrega.core.errors import ApplicationError, FieldErrors, InvalidTransition, NotFound, ValidationFailed
from agrega.core.models import ChangeRecord
from agrega.core.text import clean_text_into

from . import sql
from .models import DunningAction, DunningPolicy, DunningStage, TrustRelease
from .presets import PRESETS
from .selectors import (DUNNING_BLOCKS, LIMITS, SWEEP_OBJECT, last_manual_sweep, policy_get, policy_snapshot,
                        trust_release_availability)

# What each action does to a contract, by its access status now: (status, access).
# Access statuses not listed keep theirs (a manual block stays manual); the stage is
# recorded all the same.
EFFECTS: dict[str, dict[str, tuple[str, str]]] = {
    DunningAction.NOTICE: {},
    DunningAction.PARTIAL_SUSPENSION: {AS.ACTIVE: (CS.ACTIVE, AS.OVERDUE)},
    DunningAction.BLOCK_OVERDUE: {AS.ACTIVE: (CS.ACTIVE, AS.OVERDUE)},
    DunningAction.BLOCK_AUTOMATIC: {AS.ACTIVE: (CS.ACTIVE, AS.AUTOMATIC_BLOCK),
                                    AS.OVERDUE: (CS.ACTIVE, AS.AUTOMATIC_BLOCK)},
    DunningAction.RESCIND: {a: (CS.NEGATIVADO, AS.DISABLED) for a in AS.values},
}
ID_CHUNK = 5000
SWEEP_CHUNK = 5000  # contracts written per transaction by the sweep (bench/README.md, "dunning_sweep")
SWEEP_WORKERS = 2  # sweep chunks written at once on PostgreSQL (see _apply_policy)
ACTOR_LABEL = "régua de cobrança"  # who the history names for what the sweep does


@dataclass
class SweepResult:
    today: date
    released: int = 0
    trust_expired: int = 0
    by_stage: dict[str, int] = field(default_factory=dict)
    access_changed: int = 0
    notices: int = 0

    def as_dict(self) -> dict:
        return {"today": self.today.isoformat(), "released": self.released, "trust_expired": self.trust_expired,
                "by_stage": self.by_stage, "access_changed": self.access_changed, "notices": self.notices}


# ---------------------------------------------------------------- policies

def default_policy() -> DunningPolicy:
    policy = DunningPolicy.objects.filter(is_default=True).first()
    if policy is None:
        policy = policy_from_preset(preset="anatel", make_default=True)
    return policy


@transaction.atomic
def policy_from_preset(*, preset: str, name: str | None = None, make_default: bool = False,
                       block_after_days: int | None = None) -> DunningPolicy:
    """Create a régua from a preset (``anatel`` or ``simples``)."""
    if preset not in PRESETS:
        raise ApplicationError("preset_unknown", f"Modelo desconhecido: {preset}. Use anatel ou simples.")
    label, stages = PRESETS[preset]
    if block_after_days is not None and preset != "simples":
        raise ApplicationError("days_not_applicable", "Dias para o bloqueio valem só para o modelo simples.")
    if preset == "simples" and block_after_days is not None:
        if not isinstance(block_after_days, int) or not 1 <= block_after_days <= 365:
            raise ApplicationError("days_invalid", "Dias para o bloqueio devem estar entre 1 e 365.")
        stages = ((block_after_days, DunningAction.BLOCK_AUTOMATIC),)
        label = f"Simples (bloqueio após {block_after_days} dias)"
    name = (name or label).strip()
    if DunningPolicy.objects.filter(name=name).exists():
        raise ApplicationError("policy_exists", f"Já existe uma régua chamada {name}.", status_code=409)
    if make_default:
        DunningPolicy.objects.filter(is_default=True).update(is_default=False)
    policy = DunningPolicy.objects.create(name=name, preset=preset, is_default=make_default)
    policy_set_stages(policy=policy, stages=[{"days_after_due": d, "action": a} for d, a in stages])
    return policy


@transaction.atomic
def policy_set_stages(*, policy: DunningPolicy, stages: list[dict]) -> DunningPolicy:
    """Replace the policy's stages. Days must grow from stage to stage."""
    errors = FieldErrors()
    if not stages:
        errors.add("stages", "stages_empty", "A régua precisa de pelo menos uma etapa.")
    previous = 0
    clean = []
    for index, stage in enumerate(stages, start=1):
        days, action = stage.get("days_after_due"), stage.get("action")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            errors.add(f"stages.{index}.days_after_due", "days_invalid",
                       f"Etapa {index}: dias após o vencimento devem estar entre 1 e 3650.")
        elif days <= previous:
            errors.add(f"stages.{index}.days_after_due", "days_not_increasing",
                       f"Etapa {index}: os dias devem crescer de uma etapa para a seguinte.")
        else:
            previous = days
        if action not in DunningAction.values:
            errors.add(f"stages.{index}.action", "action_invalid",
                       f"Etapa {index}: ação inválida. Use: {', '.join(DunningAction.values)}.")
        clean.append((days, action))
    errors.raise_if_any()
    policy.stages.all().delete()
    DunningStage.objects.bulk_create(
        DunningStage(policy=policy, level=i, days_after_due=d, action=a) for i, (d, a) in enumerate(clean, start=1)
    )
    return policy


def policy_for(contract: Contract) -> DunningPolicy:
    return contract.dunning_policy if contract.dunning_policy_id else default_policy()


# ---------------------------------------------------------------- the sweep

def dunning_sweep(*, today: date | None = None, now=None) -> SweepResult:
    """Apply the régua to every contract: expired trust releases, releases of what is
    no longer overdue, then each stage in order. Idempotent for a given day."""
    today = today or timezone.localdate()
    now = now or timezone.now()
    result = SweepResult(today=today)
    result.trust_expired = expire_trust_releases(now=now, today=today)
    result.released = release_settled(today=today, now=now)
    default = default_policy()
    for policy in DunningPolicy.objects.prefetch_related("stages").order_by("id"):
        stages = sorted(policy.stages.all(), key=lambda stage: stage.level)
        if not stages:
            continue
        counts = _apply_policy(policy, stages, default=policy.pk == default.pk, today=today, now=now)
        for stage in stages:
            changed, level_only = counts[stage.level]
            key = f"{policy.name} · {stage.level}: {stage.get_action_display()}"
            if changed or level_only:
                result.by_stage[key] = result.by_stage.get(key, 0) + changed + level_only
            result.access_changed += changed
            if stage.action == DunningAction.NOTICE:
                result.notices += changed + level_only
    return result


def _steps(stages: list[tuple], level: int, access: str, due: date) -> list[tuple]:
    """The stages a contract goes through today, in order, as (stage, changed, from
    status, to status, from access, to access): those above its level whose day has
    come (``stages``: (stage, cutoff date, effects) in level order; a contiguous run,
    since days grow with the level), until one ends the contract (rescission)."""
    status, steps = CS.ACTIVE, []
    for stage, cutoff, effects in stages:
        if stage.level <= level or due > cutoff:
            continue
        if status != CS.ACTIVE:
            break
        effect = effects.get(access)
        if effect:
            steps.append((stage, True, status, effect[0], access, effect[1]))
            status, access = effect
        else:
            steps.append((stage, False, status, status, access, access))
    return steps


def _apply_policy(policy, stages: list[DunningStage], *, default: bool, today: date, now) -> dict[int, list[int]]:
    """Bring every contract of the policy to the stage its oldest open due date calls
    for, in one write per contract however many stages it crosses today, and record
    each stage crossed (event, notice) as if the stages had run one after the other.

    The contracts are read once, grouped by the state the decision is made from
    (``dunning.sql.sweep_candidate_states``): contracts that start from the same (stage,
    access status) and reach the same stage go through the same steps, so each such
    group is one write of ``contracts.transitions.transition_many`` (one statement on
    PostgreSQL, events and notices included). The groups are packed into chunks of
    ``SWEEP_CHUNK`` contracts, each its own transaction (on PostgreSQL outside a
    transaction, ``SWEEP_WORKERS`` chunks at once, each on its own connection: chunks
    share no contract). Each write re-checks the state it was computed from (status,
    stage, access, no trust release, policy, and still owing since the last stage's
    day): under READ COMMITTED that check runs on the row a concurrent payment or
    operator just committed, so such a contract is skipped — never blocked after being
    paid — and read again. Returns, per stage level, [access changes, stage records
    only]."""
    plan = [(stage, today - timedelta(days=stage.days_after_due), EFFECTS[stage.action]) for stage in stages]
    cutoffs = {stage.level: cutoff for stage, cutoff, _ in plan}
    # Found through the open títulos due by the first stage's day (billing's index
    # invoice_open_by_due): the same contracts as ``oldest_open_due <= cutoff``, which
    # decides, but no index on the contract has to follow every billing run.
    read = dict(policy_id=policy.pk, default=default, first_cutoff=plan[0][1], below_level=stages[-1].level)
    groups: dict[tuple, list[int]] = defaultdict(list)
    steps_of: dict[tuple, list] = {}
    for level, access, due, ids in sql.sweep_candidate_states(**read):
        key, steps = _group_of(plan, cutoffs, level, access, due)
        if key is not None:
            groups[key] += ids
            steps_of[key] = steps

    def apply(chunk: dict[tuple, list[int]]):
        counts = {stage.level: [0, 0] for stage in stages}
        with transaction.atomic():
            written = _write_groups(policy, chunk, steps_of, counts, now=now, default=default)
        todo = [pk for ids in chunk.values() for pk in ids if pk not in written]
        for _attempt in range(2):  # moved meanwhile: read again, decide again
            if not todo:
                break
            rows = sql.sweep_candidates(**read, ids=todo)
            with transaction.atomic():
                todo = [row[0] for row in _apply_chunk(policy, plan, rows, counts, now=now, default=default)]
        return counts

    parallel = SWEEP_WORKERS > 1 and connection.vendor == "postgresql" and transaction.get_autocommit()
    totals = {stage.level: [0, 0] for stage in stages}
    chunks = _pack(groups, SWEEP_CHUNK)
    for counts in (in_threads(apply, chunks, SWEEP_WORKERS) if parallel else map(apply, chunks)):
        for level, (changed, level_only) in counts.items():
            totals[level][0] += changed
            totals[level][1] += level_only
    return totals


def _pack(groups: dict[tuple, list[int]], size: int) -> list[dict[tuple, list[int]]]:
    """The groups' contracts (by id within a group) in chunks of ``size`` contracts, a
    group split across chunks where it does not fit: each chunk maps group → ids."""
    chunks: list[dict[tuple, list[int]]] = []
    current: dict[tuple, list[int]] = {}
    room = size
    for key, ids in groups.items():
        ids = sorted(ids)
        start = 0
        while start < len(ids):
            piece = ids[start:start + room]
            current[key] = piece
            start += len(piece)
            room -= len(piece)
            if not room:
                chunks.append(current)
                current, room = {}, size
    if current:
        chunks.append(current)
    return chunks


def _group_of(plan, cutoffs, level: int, access: str, due) -> tuple[tuple | None, list]:
    """The group of contracts read in this state (None: nothing to do today) and the
    steps they take: the state it was read in, the state it goes to, the access changes
    and the day the last stage needs."""
    day = due if isinstance(due, date) else date.fromisoformat(due)
    steps = _steps(plan, level, access, day)
    if not steps:
        return None, steps
    last = steps[-1]
    changes = sum(1 for step in steps if step[1])
    return (level, access, last[0].level, last[3], last[5], changes, cutoffs[last[0].level]), steps


def _write_groups(policy, groups: dict[tuple, list[int]], steps_of: dict[tuple, list], counts, *, now,
                  default: bool) -> set[int]:
    """Write each group (``_write_group``), count the stages crossed, announce the
    contracts whose access changed; returns the ids written."""
    written_all: set[int] = set()
    changed_ids: list[int] = []
    for key, ids in groups.items():
        steps = steps_of[key]
        written = _write_group(policy, key, steps, ids, now=now, default=default)
        written_all.update(written)
        for stage, changed, *_ in steps:
            counts[stage.level][0 if changed else 1] += len(written)
        if any(step[1] for step in steps):
            changed_ids += written
    transitions.announce_changed(changed_ids)
    return written_all


def _apply_chunk(policy, plan, rows, counts, *, now, default: bool) -> list:
    """Write the contracts read again one by one (``rows``: id, stage, access, due date),
    grouped as ``_apply_policy`` groups them; returns the rows skipped because they
    changed since they were read."""
    cutoffs = {stage.level: cutoff for stage, cutoff, _ in plan}
    groups: dict[tuple, list[int]] = defaultdict(list)
    steps_of: dict[tuple, list] = {}
    grouped: set[int] = set()
    for contract_id, level, access, due in rows:
        key, steps = _group_of(plan, cutoffs, level, access, due)
        if key is not None:
            groups[key].append(contract_id)
            steps_of[key] = steps
            grouped.add(contract_id)
    written = _write_groups(policy, groups, steps_of, counts, now=now, default=default)
    return [row for row in rows if row[0] in grouped and row[0] not in written]


def _step_records(policy, steps) -> tuple[list[Step], list[int]]:
    """The Histórico step of each stage crossed, and the levels of the notices (a
    notice stage that changed nothing)."""
    events, notice_levels = [], []
    for stage, changed, from_status, to_status, from_access, to_access in steps:
        if changed:
            action = Act.RESCIND if to_status == CS.NEGATIVADO else Act.DUNNING_STAGE
        else:
            action = Act.DUNNING_NOTICE if stage.action == DunningAction.NOTICE else Act.DUNNING_STAGE
        detail = {"level": stage.level, "days_after_due": stage.days_after_due, "policy": policy.name,
                  "action": stage.action}
        events.append(Step(str(action), from_status, to_status, from_access, to_access, detail))
        if stage.action == DunningAction.NOTICE and not changed:
            notice_levels.append(stage.level)
    return events, notice_levels


def _write_group(policy, key, steps, ids, *, now, default: bool) -> list[int]:
    """One group: its contracts moved (re-checking the state they were read in) and
    their events written by the contracts app, then the notices; the ids written."""
    level, access, to_level, to_status, to_access, changes, cutoff = key
    events, notice_levels = _step_records(policy, steps)
    # On PostgreSQL the notices ride in the contracts app's statement (dunning's own SQL,
    # fed by the rows it wrote): one round trip per group.
    companion = (sql.notices_companion(notice_levels, now=now)
                 if notice_levels and connection.vendor == "postgresql" else None)
    written = transitions.transition_many(
        ids, Change(status=to_status, access_status=to_access, dunning_level=to_level, version=changes,
                    ended=to_status != CS.ACTIVE),
        steps=events, now=now, actor_label=ACTOR_LABEL, announce=False,
        expect=Expect(status=CS.ACTIVE, dunning_level=level, access_status=access, no_trust_release=True,
                      owing_by=cutoff, policy_id=policy.pk, policy_or_default=default),
        returning=("oldest_open_due",) if companion else (), companion=companion,
    )
    ids = [row[0] for row in written]
    if companion is None:
        sql.insert_notices(ids, notice_levels, now=now)
    return ids


def release_settled(*, today: date | None = None, now=None, contract_ids=None) -> int:
    """Lift what the régua did on contracts that no longer owe anything overdue: FA/CA
    back to A, stage back to 0, trust release ended. Manual blocks (CM) stay."""
    today = today or timezone.localdate()
    now = now or timezone.now()
    not_overdue = Q(oldest_open_due__isnull=True) | Q(oldest_open_due__gte=today)
    qs = Contract.objects.filter(not_overdue, status=CS.ACTIVE).filter(
        Q(dunning_level__gt=0) | Q(trust_release_until__isnull=False))
    if contract_ids is not None:
        qs = qs.filter(pk__in=list(contract_ids))
    with transaction.atomic():
        ids = list(qs.select_for_update().values_list("pk", flat=True))
        if not ids:
            return 0
        # re-read under the lock: a sweep may have changed them meanwhile
        rows = list(Contract.objects.filter(not_overdue, pk__in=ids).values_list("pk", "access_status"))
        by_access: dict[str, list[int]] = defaultdict(list)
        for pk, access in rows:
            by_access[access if access in DUNNING_BLOCKS else ""].append(pk)
        unblock = []
        for access, pks in sorted(by_access.items()):
            if access:  # back to A, with its event
                unblock += [row[0] for row in transitions.transition_many(
                    pks, Change(access_status=AS.ACTIVE, dunning_level=0, trust_release_until=None, version=1),
                    steps=[Step(Act.PAYMENT_RELEASE, CS.ACTIVE, CS.ACTIVE, access, AS.ACTIVE,
                                {"reason": "nada vencido em aberto"})],
                    now=now, actor_label=ACTOR_LABEL, announce=False)]
            else:  # only the régua's stage and trust release end (CM stays, A was not blocked)
                transitions.transition_many(pks, Change(dunning_level=0, trust_release_until=None), now=now)
        TrustRelease.objects.filter(contract_id__in=[pk for pk, _ in rows], ended_at__isnull=True).update(
            ended_at=now, ended_reason="paid")
        transitions.announce_changed(unblock)
    return len(unblock)


# ---------------------------------------------------------------- trust releases

@transaction.atomic
def trust_release(*, contract_id: int, days: int | None = None, actor=None, note: str = "",
                  now=None) -> TrustRelease:
    """Release a contract the régua blocked (FA or CA) for ``days`` before payment,
    within the policy's limit of uses per period."""
    now = now or timezone.now()
    contract = Contract.objects.select_for_update().filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("Contrato", "contract_not_found")
    policy = policy_for(contract)
    if days is None:
        days = policy.trust_release_days
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= policy.trust_release_days:
        raise ApplicationError(
            "trust_days_invalid",
            f"Dias do desbloqueio de confiança devem estar entre 1 e {policy.trust_release_days} "
            f"(régua {policy.name}).",
            fields={}, status_code=422,
        )
    availability = trust_release_availability(contract, now=now, policy=policy)
    if not availability.available:
        extra = ({"next_available_at": availability.next_available_at.isoformat()}
                 if availability.next_available_at else None)
        raise InvalidTransition(availability.code, availability.reason, extra=extra)
    before = contract.access_status
    ends_at = now + timedelta(days=days)
    release = TrustRelease.objects.create(
        contract=contract, starts_at=now, ends_at=ends_at, restore_access=before,
        restore_level=contract.dunning_level, note=(note or "").strip()[:250],
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor.get_username() if getattr(actor, "is_authenticated", False) else "sistema",
    )
    transitions.transition_many(
        [contract.pk], Change(access_status=AS.ACTIVE, trust_release_until=ends_at, version=1),
        steps=[Step(Act.TRUST_RELEASE, contract.status, contract.status, before, AS.ACTIVE,
                    {"days": days, "until": ends_at.isoformat(), "note": release.note})],
        actor=release.actor, now=now,
    )
    return release


def expire_trust_releases(*, now=None, today: date | None = None) -> int:
    """Block again the contracts whose trust release ended without payment; those that
    paid meanwhile were already released by the payment."""
    now = now or timezone.now()
    today = today or timezone.localdate()
    with transaction.atomic():
        rows = list(Contract.objects.select_for_update()
                    .filter(trust_release_until__lte=now)
                    .values_list("pk", "status", "access_status", "oldest_open_due"))
        if not rows:
            return 0
        restore = dict(TrustRelease.objects.filter(contract_id__in=[r[0] for r in rows], ended_at__isnull=True)
                       .order_by("id").values_list("contract_id", "restore_access"))
        by_access: dict[str, list[int]] = defaultdict(list)
        for pk, status, access, oldest_due in rows:
            overdue = oldest_due is not None and oldest_due < today
            target = restore.get(pk) if overdue else None
            if status == CS.ACTIVE and access == AS.ACTIVE and target in DUNNING_BLOCKS:
                by_access[target].append(pk)
        blocked = {pk for ids in by_access.values() for pk in ids}
        changed = []
        for access, ids in sorted(by_access.items()):
            changed += [row[0] for row in transitions.transition_many(
                ids, Change(access_status=access, trust_release_until=None, version=1),
                steps=[Step(Act.TRUST_EXPIRED, CS.ACTIVE, CS.ACTIVE, AS.ACTIVE, access,
                            {"reason": "desbloqueio de confiança expirou sem pagamento"})],
                now=now, actor_label=ACTOR_LABEL, announce=False)]
        transitions.transition_many([r[0] for r in rows if r[0] not in blocked],
                                    Change(trust_release_until=None), now=now)
        TrustRelease.objects.filter(contract_id__in=[r[0] for r in rows], ended_at__isnull=True).update(
            ended_at=now, ended_reason="expired")
        transitions.announce_changed(changed)
    return len(changed)


# ---------------------------------------------------------------- configuration (pages, API, CLI)

def _int_in(errors: FieldErrors, name: str, value, low: int, high: int, message: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.add(name, "value_out_of_range", message)
        return None
    return value


@transaction.atomic
def policy_create(*, preset: str, name: str | None = None, make_default: bool = False,
                  block_after_days: int | None = None, actor=None) -> DunningPolicy:
    """A new régua from ``anatel`` or ``simples`` (the latter blocks after
    ``block_after_days``, 15 by default)."""
    errors = FieldErrors()
    preset = (preset or "").strip().lower()
    if preset not in PRESETS:
        errors.add("preset", "preset_unknown", f"Modelo desconhecido: {preset or '(vazio)'}. Use anatel ou simples.")
    if block_after_days is not None:
        if preset != "simples":
            errors.add("block_after_days", "block_days_not_applicable",
                       "Dias para o bloqueio valem só para o modelo simples.")
        else:
            _int_in(errors, "block_after_days", block_after_days, 1, 365,
                    "Dias para o bloqueio devem estar entre 1 e 365.")
    name = clean_text_into(errors, "name", DunningPolicy, "name", " ".join((name or "").split()),
                           label="Nome") or ""
    errors.raise_if_any()
    DunningPolicy.objects.select_for_update().filter(is_default=True).first()  # one default at a time
    policy = policy_from_preset(preset=preset, name=name or None, make_default=make_default,
                                         block_after_days=block_after_days)
    record_change(instance=policy, action="create", actor=actor, changes=diff({}, policy_snapshot(policy)))
    return policy_get(policy.pk)


def _locked(policy_id: int) -> DunningPolicy:
    policy = DunningPolicy.objects.select_for_update().filter(pk=policy_id).first()
    if policy is None:
        raise NotFound("Régua de cobrança", "policy_not_found")
    return policy


@transaction.atomic
def policy_replace_stages(*, policy_id: int, stages: list[dict], actor=None) -> DunningPolicy:
    """Replace the stages (days must grow; actions from DunningAction). A contract keeps
    the level it reached; the next sweep applies the stages above it."""
    policy = _locked(policy_id)
    before = policy_snapshot(policy)
    policy_set_stages(policy=policy, stages=stages)
    record_change(instance=policy, action="stages", actor=actor, changes=diff(before, policy_snapshot(policy)))
    return policy_get(policy.pk)


@transaction.atomic
def policy_update(*, policy_id: int, actor=None, name: str | None = None, is_default: bool | None = None,
                  trust_release_days: int | None = None, trust_release_max_uses: int | None = None,
                  trust_release_period_days: int | None = None, **charges) -> DunningPolicy:
    """Change the name, the trust-release limits, what the cobrança PIX carries
    (``charges``: multa/juros/desconto/validade, dunning/charges.py) or make this the
    default régua. The default is moved, never removed: mark another one as default
    instead. A change of the charges revises the open cobranças PIX (after commit)."""
    from .charges import CHARGE_FIELDS, clean_charges, policy_charges_changed

    unknown = set(charges) - set(CHARGE_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields: {', '.join(sorted(unknown))}")
    errors = FieldErrors()
    values = {}
    if charges:
        current = DunningPolicy.objects.filter(pk=policy_id).first()
        if current is None:
            raise NotFound("Régua", "policy_not_found")
        values.update(clean_charges(errors, current, charges))
    for field, value in (("trust_release_days", trust_release_days),
                         ("trust_release_max_uses", trust_release_max_uses),
                         ("trust_release_period_days", trust_release_period_days)):
        low, high, message = LIMITS[field]
        checked = _int_in(errors, field, value, low, high, message)
        if checked is not None:
            values[field] = checked
    if name is not None:
        name = clean_text_into(errors, "name", DunningPolicy, "name", " ".join(name.split()), label="Nome")
        if name is None:
            pass
        elif not name:
            errors.add("name", "name_required", "Informe o nome da régua.")
        elif DunningPolicy.objects.filter(name=name).exclude(pk=policy_id).exists():
            errors.add("name", "policy_exists", f"Já existe uma régua chamada {name}.")
        else:
            values["name"] = name
    errors.raise_if_any()
    # lock the current default first, then this one: two "make default" never both win
    DunningPolicy.objects.select_for_update().filter(is_default=True).first()
    policy = _locked(policy_id)
    before = policy_snapshot(policy)
    if is_default is False and policy.is_default:
        raise ApplicationError(
            "policy_default_required",
            "Sempre há uma régua padrão: para trocar, marque outra régua como padrão.",
            fields={}, status_code=409,
        )
    if is_default and not policy.is_default:
        DunningPolicy.objects.filter(is_default=True).exclude(pk=policy.pk).update(is_default=False)
        values["is_default"] = True
    for field, value in values.items():
        setattr(policy, field, value)
    changes = diff(before, policy_snapshot(policy))
    if changes:
        policy.save()
        record_change(instance=policy, action="update", actor=actor, changes=changes)
        if set(changes) & set(CHARGE_FIELDS):
            transaction.on_commit(lambda: policy_charges_changed.send(
                sender=DunningPolicy, policy_id=policy.pk, is_default=policy.is_default))
    return policy_get(policy.pk)


def policy_edit(*, policy_id: int, stages: list[dict], actor=None, **fields) -> DunningPolicy:
    """The edit page's save: fields and stages together, all or nothing, with every
    field error of both reported at once."""
    with transaction.atomic():
        errors: dict = {}
        try:
            with transaction.atomic():
                policy_update(policy_id=policy_id, actor=actor, **fields)
        except ValidationFailed as exc:
            errors.update(exc.fields)
        try:
            with transaction.atomic():
                policy_replace_stages(policy_id=policy_id, stages=stages, actor=actor)
        except ValidationFailed as exc:
            errors.update(exc.fields)
        if errors:
            raise ValidationFailed(errors, "Corrija os campos destacados. Nada foi salvo.")
    return policy_get(policy_id)


def sweep_check(*, today: date | None = None) -> date:
    """The day a sweep asked for by hand would apply the régua on, or the refusal: the
    date never goes forward of the calendar (that would suspend or rescind ahead of
    time) nor back before a sweep already run by hand (a date in the past would lift
    blocks that are due). The page and the API call it before they enqueue the sweep
    (``dunning.tasks``), so a refusal is answered at once."""
    local_today = timezone.localdate()
    today = today or local_today
    if today > local_today:
        raise ApplicationError("sweep_date_future",
                               f"A régua não pode ser aplicada numa data futura ({today:%d/%m/%Y}).",
                               status_code=422)
    last = last_manual_sweep()
    if last is not None and today.isoformat() < last.object_id:
        raise ApplicationError(
            "sweep_date_before_last",
            f"A régua já foi aplicada em {date.fromisoformat(last.object_id):%d/%m/%Y}; "
            "não é possível aplicá-la numa data anterior.",
            status_code=409,
        )
    if today < local_today - timedelta(days=366):
        raise ApplicationError("sweep_date_too_old", "A data está mais de um ano no passado.", status_code=422)
    return today


def sweep_run(*, today: date | None = None, actor=None) -> SweepResult:
    """Apply the régua now (or for ``today``, checked by ``sweep_check``) and record who
    asked. The pages and the API run it as a task (``dunning.tasks.run_sweep``); the
    CLI in the operator's shell."""
    today = sweep_check(today=today)
    result = dunning_sweep(today=today)
    ChangeRecord.objects.create(
        object_type=SWEEP_OBJECT, object_id=today.isoformat(), action="sweep",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label(actor), changes=result.as_dict(),
    )
    return result


# ---------------------------------------------------------------- debt notices sent


def debt_notices_mark(ids, *, sent_at=None, send_error: str = "") -> None:
    """Record on the sweep's notices what became of their e-mail (agrega/notices sends
    them): ``sent_at`` when sent, else why not (or the last error of a retried one)."""
    from .models import DunningNotice

    DunningNotice.objects.filter(pk__in=list(ids)).update(sent_at=sent_at, send_error=send_error[:250])
