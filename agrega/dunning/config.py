"""Configuring the régua de cobrança from the pages, the API and the CLI: create from a
preset, replace the stages, change the trust-release limits, choose the default, and
run the sweep by hand. Each change records its author (``ChangeRecord``); the rules of
the stages and of the sweep stay in ``dunning.services``.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count, Prefetch
from django.utils import timezone

from agrega.core.audit import actor_label, diff, record_change
from agrega.core.errors import ApplicationError, FieldErrors, NotFound, ValidationFailed
from agrega.core.text import clean_text_into
from agrega.core.models import ChangeRecord

from . import services
from .models import DunningAction, DunningPolicy, DunningStage
from .presets import PRESETS

POLICY_FIELDS = ("name", "is_default", "trust_release_days", "trust_release_max_uses", "trust_release_period_days")
LIMITS = {
    # field: (lowest, highest, message)
    "trust_release_days": (1, 30, "Dias do desbloqueio de confiança devem estar entre 1 e 30."),
    "trust_release_max_uses": (0, 30, "Usos permitidos no período devem estar entre 0 e 30 (0: não permite)."),
    "trust_release_period_days": (1, 365, "O período dos usos deve ter entre 1 e 365 dias."),
}
SWEEP_OBJECT = "dunning.sweep"


# ---------------------------------------------------------------- reads

def policy_list():
    """Every régua with its stages and how many contracts name it explicitly."""
    return (DunningPolicy.objects.order_by("-is_default", "id")
            .prefetch_related(Prefetch("stages", queryset=DunningStage.objects.order_by("level")))
            .annotate(contracts_count=Count("contracts")))


def policy_get(policy_id: int) -> DunningPolicy:
    policy = policy_list().filter(pk=policy_id).first()
    if policy is None:
        raise NotFound("Régua de cobrança", "policy_not_found")
    return policy


def last_manual_sweep() -> ChangeRecord | None:
    return ChangeRecord.objects.filter(object_type=SWEEP_OBJECT).order_by("-object_id", "-id").first()


# ---------------------------------------------------------------- writes

def _snapshot(policy: DunningPolicy) -> dict:
    data = {k: getattr(policy, k) for k in POLICY_FIELDS}
    data["stages"] = ", ".join(f"{s.days_after_due}d {s.action}" for s in policy.stages.order_by("level"))
    return data


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
    policy = services.policy_from_preset(preset=preset, name=name or None, make_default=make_default,
                                         block_after_days=block_after_days)
    record_change(instance=policy, action="create", actor=actor, changes=diff({}, _snapshot(policy)))
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
    before = _snapshot(policy)
    services.policy_set_stages(policy=policy, stages=stages)
    record_change(instance=policy, action="stages", actor=actor, changes=diff(before, _snapshot(policy)))
    return policy_get(policy.pk)


@transaction.atomic
def policy_update(*, policy_id: int, actor=None, name: str | None = None, is_default: bool | None = None,
                  trust_release_days: int | None = None, trust_release_max_uses: int | None = None,
                  trust_release_period_days: int | None = None) -> DunningPolicy:
    """Change the name, the trust-release limits or make this the default régua. The
    default is moved, never removed: mark another one as default instead."""
    errors = FieldErrors()
    values = {}
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
    before = _snapshot(policy)
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
    changes = diff(before, _snapshot(policy))
    if changes:
        policy.save()
        record_change(instance=policy, action="update", actor=actor, changes=changes)
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


def sweep_run(*, today: date | None = None, actor=None) -> services.SweepResult:
    """Apply the régua now (or for ``today``). The date never goes forward of the
    calendar (that would suspend or rescind ahead of time) nor back before a sweep
    already run by hand (a date in the past would lift blocks that are due)."""
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
    result = services.dunning_sweep(today=today)
    ChangeRecord.objects.create(
        object_type=SWEEP_OBJECT, object_id=today.isoformat(), action="sweep",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label(actor), changes=result.as_dict(),
    )
    return result


def action_choices() -> list[tuple[str, str]]:
    return list(DunningAction.choices)
