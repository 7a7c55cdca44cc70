"""The dunning rules: the daily sweep, release on payment, and trust releases.

The sweep is set-based and reads only the contract row (``oldest_open_due``, kept by the
billing app): each contract is written once, to the stage its due date calls for, by an
UPDATE … RETURNING that re-checks the state the new one was computed from. Under
PostgreSQL's READ COMMITTED, a payment that commits while the sweep waits for a row's
lock has already rewritten ``oldest_open_due`` on that row, and the UPDATE re-checks its
WHERE on the new row version — so a paid contract is never blocked by a sweep that
started before the payment (docs/decisions/0006-billing-and-dunning.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from agrega.billing.models import Invoice, InvoiceStatus
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.choices import ContractAction as Act
from agrega.contracts.choices import ContractStatus as CS
from agrega.contracts.models import Contract, ContractEvent
from agrega.contracts.signals import contracts_changed
from agrega.core.bulk import in_threads, insert_returning
from agrega.core.errors import ApplicationError, FieldErrors, InvalidTransition, NotFound

from .models import DunningAction, DunningNotice, DunningPolicy, DunningStage, TrustRelease
from .presets import PRESETS
from .selectors import DUNNING_BLOCKS, trust_release_availability

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
SWEEP_CHUNK = 2000  # contracts written per transaction by the sweep
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


def _policy_sql(policy_id: int, default: bool) -> tuple[str, list]:
    if default:
        return "(dunning_policy_id = %s OR dunning_policy_id IS NULL)", [policy_id]
    return "dunning_policy_id = %s", [policy_id]


def _ids_sql(ids: list[int]) -> tuple[str, list]:
    if connection.vendor == "postgresql":
        return "id = ANY(%s)", [ids]
    return f"id IN ({', '.join(['%s'] * len(ids))})", list(ids)


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

    The contracts are read once, then written in chunks, each its own transaction (on
    PostgreSQL outside a transaction, ``SWEEP_WORKERS`` chunks at once, each on its own
    connection: chunks share no contract). Each UPDATE re-checks the state it was
    computed from (status, stage, access, no trust release, policy, and still owing
    since the last stage's day): under READ COMMITTED that check runs on the row a
    concurrent payment or operator just committed, so such a contract is skipped —
    never blocked after being paid — and read again. Returns, per stage level,
    [access changes, stage records only]."""
    policy_sql, policy_params = _policy_sql(policy.pk, default)
    table = connection.ops.quote_name(Contract._meta.db_table)
    invoices = connection.ops.quote_name(Invoice._meta.db_table)
    ops = connection.ops
    plan = [(stage, today - timedelta(days=stage.days_after_due), EFFECTS[stage.action]) for stage in stages]
    # Found through the open títulos due by the first stage's day (billing's index
    # invoice_open_by_due): the same contracts as ``oldest_open_due <= cutoff``, which
    # decides, but no index on the contract has to follow every billing run.
    first_cutoff = ops.adapt_datefield_value(plan[0][1])
    candidates = (f"SELECT id, dunning_level, access_status, oldest_open_due FROM {table} "
                  f"WHERE status = %s AND oldest_open_due <= %s AND dunning_level < %s "
                  f"AND trust_release_until IS NULL AND {policy_sql} "
                  f"AND id IN (SELECT contract_id FROM {invoices} WHERE status = %s AND due_date <= %s)")
    candidate_params = [CS.ACTIVE, first_cutoff, stages[-1].level, *policy_params, InvoiceStatus.OPEN,
                        first_cutoff]
    stamp = ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(candidates, candidate_params)
        rows = sorted(cursor.fetchall())  # here, not in a sort that spills to disk at 100,000 rows

    def apply(todo):
        counts = {stage.level: [0, 0] for stage in stages}
        for _attempt in range(3):
            with transaction.atomic():
                todo = _apply_chunk(table, policy, plan, todo, counts, now=now, stamp=stamp,
                                    policy_sql=policy_sql, policy_params=policy_params)
            if not todo:
                break
            ids_sql, ids_params = _ids_sql([row[0] for row in todo])
            with connection.cursor() as cursor:  # moved meanwhile: read their state again
                cursor.execute(f"{candidates} AND {ids_sql} ORDER BY id", candidate_params + ids_params)
                todo = cursor.fetchall()
        return counts

    chunks = (rows[start:start + SWEEP_CHUNK] for start in range(0, len(rows), SWEEP_CHUNK))
    parallel = SWEEP_WORKERS > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block
    totals = {stage.level: [0, 0] for stage in stages}
    for counts in (in_threads(apply, chunks, SWEEP_WORKERS) if parallel else map(apply, chunks)):
        for level, (changed, level_only) in counts.items():
            totals[level][0] += changed
            totals[level][1] += level_only
    return totals


def _apply_chunk(table, policy, plan, rows, counts, *, now, stamp, policy_sql, policy_params) -> list:
    """Write one chunk (see ``_apply_policy``); returns the rows skipped because they
    changed since they were read.

    Contracts that start from the same (stage, access status) and reach the same stage
    go through the same steps, so each such group is one write: on PostgreSQL one
    statement updates the group and inserts its events and notices from the rows the
    UPDATE returned (no per-contract work in Python); elsewhere the UPDATE returns them
    and the records follow."""
    cutoffs = {stage.level: cutoff for stage, cutoff, _ in plan}
    groups: dict[tuple, list[int]] = defaultdict(list)
    steps_of: dict[tuple, list] = {}
    keys: dict[tuple, tuple | None] = {}  # (level, access, due) → group key (None: nothing to do)
    read = {}
    for row in rows:
        contract_id, level, access, due = row
        state = (level, access, due)
        if state not in keys:
            day = due if isinstance(due, date) else date.fromisoformat(due)
            steps = _steps(plan, level, access, day)
            key = None
            if steps:
                last = steps[-1]
                changes = sum(1 for step in steps if step[1])
                # the state it was read in, the state it goes to, and the day the last stage needs
                key = (level, access, last[0].level, last[3], last[5], changes, cutoffs[last[0].level])
                steps_of[key] = steps
            keys[state] = key
        key = keys[state]
        if key is not None:
            groups[key].append(contract_id)
            read[contract_id] = row
    write = _write_group_pg if connection.vendor == "postgresql" else _write_group
    changed_ids = []
    for key, ids in groups.items():
        steps = steps_of[key]
        written = write(table, policy, key, steps, ids, now=now, stamp=stamp, policy_sql=policy_sql,
                        policy_params=policy_params)
        for contract_id in written:
            del read[contract_id]
        for stage, changed, *_ in steps:
            counts[stage.level][0 if changed else 1] += len(written)
        if any(step[1] for step in steps):
            changed_ids += written
    _announce(sorted(changed_ids))
    return list(read.values())


def _group_update(table, key, ids, *, stamp, policy_sql, policy_params) -> tuple[str, list]:
    """The UPDATE of one group, re-checking the state its steps were computed from."""
    level, access, to_level, to_status, to_access, changes, cutoff = key
    ended = ", ended_at = %s" if to_status != CS.ACTIVE else ""
    ids_sql, ids_params = _ids_sql(ids)
    return (
        f"UPDATE {table} SET dunning_level = %s, status = %s, access_status = %s, "
        f"version = version + %s, updated_at = %s{ended} "
        f"WHERE {ids_sql} AND status = %s AND dunning_level = %s AND access_status = %s "
        f"AND trust_release_until IS NULL AND oldest_open_due <= %s AND {policy_sql} "
        f"RETURNING id, oldest_open_due",
        [to_level, to_status, to_access, changes, stamp] + ([stamp] if ended else []) + ids_params
        + [CS.ACTIVE, level, access, connection.ops.adapt_datefield_value(cutoff), *policy_params],
    )


def _step_records(policy, steps) -> tuple[list[tuple], list[int]]:
    """Per step: the event's (action, from/to status, from/to access, detail); and the
    levels of the notices (a notice stage that changed nothing)."""
    events, notice_levels = [], []
    for stage, changed, from_status, to_status, from_access, to_access in steps:
        if changed:
            action = Act.RESCIND if to_status == CS.NEGATIVADO else Act.DUNNING_STAGE
        else:
            action = Act.DUNNING_NOTICE if stage.action == DunningAction.NOTICE else Act.DUNNING_STAGE
        detail = {"level": stage.level, "days_after_due": stage.days_after_due, "policy": policy.name,
                  "action": stage.action}
        events.append((str(action), from_status, to_status, from_access, to_access, detail))
        if stage.action == DunningAction.NOTICE and not changed:
            notice_levels.append(stage.level)
    return events, notice_levels


def _write_group_pg(table, policy, key, steps, ids, *, now, stamp, policy_sql, policy_params) -> list[int]:
    """PostgreSQL: the group's UPDATE, its events (in step order, then contract) and its
    notices in one statement; returns the ids written."""
    update, params = _group_update(table, key, ids, stamp=stamp, policy_sql=policy_sql,
                                   policy_params=policy_params)
    events, notice_levels = _step_records(policy, steps)
    quote = connection.ops.quote_name
    values = ", ".join(["(%s::int, %s, %s, %s, %s, %s, %s::jsonb)"] * len(events))
    sql = (f"WITH w AS ({update}), ev AS (INSERT INTO {quote(ContractEvent._meta.db_table)} "
           "(contract_id, action, actor_id, actor_label, from_status, to_status, from_access_status, "
           "to_access_status, detail, created_at) "
           "SELECT w.id, s.action, NULL, %s, s.fs, s.ts, s.fa, s.ta, s.detail, %s "
           f"FROM w CROSS JOIN (VALUES {values}) AS s(ord, action, fs, ts, fa, ta, detail) ORDER BY s.ord, w.id)")
    params += [ACTOR_LABEL, stamp]
    for order, (action, fs, ts, fa, ta, detail) in enumerate(events):
        params += [order, action, fs, ts, fa, ta, json.dumps(detail)]
    if notice_levels:
        levels = ", ".join(["(%s::smallint)"] * len(notice_levels))
        sql += (f", nt AS (INSERT INTO {quote(DunningNotice._meta.db_table)} "
                "(contract_id, level, oldest_due, created_at, send_error) "
                f"SELECT w.id, n.level, w.oldest_open_due, %s, '' FROM w CROSS JOIN (VALUES {levels}) AS n(level))")
        params += [stamp, *notice_levels]
    with connection.cursor() as cursor:
        cursor.execute(sql + " SELECT id FROM w", params)
        return [row[0] for row in cursor.fetchall()]


def _write_group(table, policy, key, steps, ids, *, now, stamp, policy_sql, policy_params) -> list[int]:
    """Any other database: the UPDATE returns the rows written, then their events and
    notices are inserted."""
    update, params = _group_update(table, key, ids, stamp=stamp, policy_sql=policy_sql,
                                   policy_params=policy_params)
    with connection.cursor() as cursor:
        cursor.execute(update, params)
        written = sorted(cursor.fetchall())
    events, notice_levels = _step_records(policy, steps)
    for action, fs, ts, fa, ta, detail in events:
        _insert_events([(cid, action, fs, ts, fa, ta) for cid, _ in written], detail, now)
    if notice_levels:
        insert_returning(DunningNotice, ["contract", "level", "oldest_due", "created_at", "send_error"],
                         [(cid, level, due if isinstance(due, date) else date.fromisoformat(due), now, "")
                          for level in notice_levels for cid, due in written], returning=())
    return [cid for cid, _ in written]


def _insert_events(events: list[tuple], detail: dict, now) -> None:
    rows = [(cid, action, "", ACTOR_LABEL, fs, ts, fa, ta, detail, now)
            for cid, action, fs, ts, fa, ta in events]
    for start in range(0, len(rows), ID_CHUNK):
        insert_returning(
            ContractEvent,
            ["contract", "action", "actor", "actor_label", "from_status", "to_status", "from_access_status",
             "to_access_status", "detail", "created_at"],
            [(r[0], r[1], None, *r[3:]) for r in rows[start:start + ID_CHUNK]],
            returning=(),
        )


def _announce(contract_ids: list[int]) -> None:
    """Tell the SVA app (one bump per chunk of contracts)."""
    for start in range(0, len(contract_ids), ID_CHUNK):
        contracts_changed.send(sender=Contract, contract_ids=contract_ids[start:start + ID_CHUNK])


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
    released = 0
    with transaction.atomic():
        ids = list(qs.select_for_update().values_list("pk", flat=True))
        if not ids:
            return 0
        # re-read under the lock: a sweep may have changed them meanwhile
        rows = list(Contract.objects.filter(not_overdue, pk__in=ids).values_list("pk", "access_status"))
        unblock = [pk for pk, access in rows if access in DUNNING_BLOCKS]
        if unblock:
            Contract.objects.filter(pk__in=unblock).update(access_status=AS.ACTIVE, version=_plus_one(), updated_at=now)
        Contract.objects.filter(pk__in=[pk for pk, _ in rows]).update(dunning_level=0, trust_release_until=None)
        TrustRelease.objects.filter(contract_id__in=[pk for pk, _ in rows], ended_at__isnull=True).update(
            ended_at=now, ended_reason="paid")
        _insert_events([(pk, Act.PAYMENT_RELEASE, CS.ACTIVE, CS.ACTIVE, access, AS.ACTIVE)
                        for pk, access in rows if access in DUNNING_BLOCKS], {"reason": "nada vencido em aberto"}, now)
        _announce(unblock)
        released = len(unblock)
    return released


def _plus_one():
    from django.db.models import F
    return F("version") + 1


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
    Contract.objects.filter(pk=contract.pk).update(access_status=AS.ACTIVE, trust_release_until=ends_at,
                                                   version=_plus_one(), updated_at=now)
    ContractEvent.objects.create(
        contract=contract, action=Act.TRUST_RELEASE, from_status=contract.status, to_status=contract.status,
        from_access_status=before, to_access_status=AS.ACTIVE,
        actor=release.actor, actor_label=release.actor_label,
        detail={"days": days, "until": ends_at.isoformat(), "note": release.note},
    )
    contracts_changed.send(sender=Contract, contract_ids=[contract.pk])
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
        events = []
        for pk, status, access, oldest_due in rows:
            overdue = oldest_due is not None and oldest_due < today
            target = restore.get(pk) if overdue else None
            if status == CS.ACTIVE and access == AS.ACTIVE and target in DUNNING_BLOCKS:
                by_access[target].append(pk)
                events.append((pk, Act.TRUST_EXPIRED, status, status, access, target))
        for access, ids in by_access.items():
            Contract.objects.filter(pk__in=ids).update(access_status=access, version=_plus_one(), updated_at=now)
        Contract.objects.filter(pk__in=[r[0] for r in rows]).update(trust_release_until=None)
        TrustRelease.objects.filter(contract_id__in=[r[0] for r in rows], ended_at__isnull=True).update(
            ended_at=now, ended_reason="expired")
        _insert_events(events, {"reason": "desbloqueio de confiança expirou sem pagamento"}, now)
        changed = [pk for ids in by_access.values() for pk in ids]
        _announce(changed)
    return len(changed)
