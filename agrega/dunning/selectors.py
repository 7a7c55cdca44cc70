"""Reads of the dunning rules: the réguas and their stages, the last sweep run by hand,
and whether a trust release is possible now, and why not (``services.trust_release``
asks the same function, so the page and the action agree)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Prefetch
from django.utils import timezone

from agrega.contracts.choices import AccessStatus, ContractStatus
from agrega.contracts.models import Contract
from agrega.core.errors import NotFound
from agrega.core.models import ChangeRecord

from .models import DunningAction, DunningPolicy, DunningStage, TrustRelease

DUNNING_BLOCKS = (AccessStatus.OVERDUE, AccessStatus.AUTOMATIC_BLOCK)


@dataclass(frozen=True)
class TrustReleaseAvailability:
    available: bool
    reason: str  # why not, in Portuguese ("" when available)
    code: str  # the error code trust_release would raise ("" when available)
    used: int
    max_uses: int
    period_days: int
    max_days: int
    next_available_at: datetime | None

    @property
    def remaining(self) -> int:
        return max(self.max_uses - self.used, 0)


def trust_release_availability(contract: Contract, *, now: datetime | None = None,
                               policy=None) -> TrustReleaseAvailability:
    """Whether ``dunning.services.trust_release`` would accept the contract now, and if
    not why — the same checks, read-only, so the page can say it before the click."""
    from .services import policy_for

    now = now or timezone.now()
    policy = policy or policy_for(contract)
    used = list(
        TrustRelease.objects.filter(
            contract=contract, starts_at__gte=now - timedelta(days=policy.trust_release_period_days)
        ).order_by("starts_at").values_list("starts_at", flat=True)
    )
    reason, code, next_at = "", "", None
    if contract.trust_release_until and contract.trust_release_until > now:
        code = "trust_release_not_blocked"
        reason = (f"Já há um desbloqueio de confiança ativo até "
                  f"{timezone.localtime(contract.trust_release_until):%d/%m/%Y %H:%M}.")
    elif contract.status != ContractStatus.ACTIVE or contract.access_status not in DUNNING_BLOCKS:
        code = "trust_release_not_blocked"
        reason = (
            "Disponível só para contratos ativos bloqueados pela régua de cobrança (FA ou CA). "
            f"Situação atual: status {contract.status}, acesso {contract.access_status} "
            f"({contract.get_access_status_display()})."
        )
    elif len(used) >= policy.trust_release_max_uses:
        next_at = timezone.localtime(used[0] + timedelta(days=policy.trust_release_period_days))
        code = "trust_release_limit"
        reason = (
            f"Limite de {policy.trust_release_max_uses} desbloqueio(s) de confiança a cada "
            f"{policy.trust_release_period_days} dias atingido. Próximo possível em {next_at:%d/%m/%Y %H:%M}."
        )
    return TrustReleaseAvailability(
        available=not code, reason=reason, code=code, used=len(used),
        max_uses=policy.trust_release_max_uses, period_days=policy.trust_release_period_days,
        max_days=policy.trust_release_days, next_available_at=next_at,
    )


# ---------------------------------------------------------------- réguas

POLICY_FIELDS = ("name", "is_default", "trust_release_days", "trust_release_max_uses", "trust_release_period_days",
                 "multa_modalidade", "multa_valor", "juros_modalidade", "juros_valor", "desconto_modalidade",
                 "desconto_valor", "desconto_dias", "validade_apos_vencimento")
LIMITS = {
    # field: (lowest, highest, message)
    "trust_release_days": (1, 30, "Dias do desbloqueio de confiança devem estar entre 1 e 30."),
    "trust_release_max_uses": (0, 30, "Usos permitidos no período devem estar entre 0 e 30 (0: não permite)."),
    "trust_release_period_days": (1, 365, "O período dos usos deve ter entre 1 e 365 dias."),
}
SWEEP_OBJECT = "dunning.sweep"


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


def policy_snapshot(policy: DunningPolicy) -> dict:
    """The policy as its ChangeRecord diffs see it (fields and stages in one line)."""
    data = {k: getattr(policy, k) for k in POLICY_FIELDS}
    data["stages"] = ", ".join(f"{s.days_after_due}d {s.action}" for s in policy.stages.order_by("level"))
    return data


def action_choices() -> list[tuple[str, str]]:
    return list(DunningAction.choices)


def contract_dunning(contract: Contract) -> dict:
    """The dunning part of a contract's financial summary (``billing.selectors.
    contract_billing`` asks it through ``billing.signals.contract_billing_summary``):
    its stage in words, its régua and whether a trust release is possible."""
    from .services import policy_for

    policy = policy_for(contract)
    stage_text = "Em dia (nenhuma etapa aplicada)"
    if contract.dunning_level:
        stage = DunningStage.objects.filter(policy=policy, level=contract.dunning_level).first()
        stage_text = (
            f"{stage.level} — {stage.get_action_display()}, {stage.days_after_due} dia(s) após o vencimento"
            if stage else f"etapa {contract.dunning_level}"
        )
    return {"dunning_level": contract.dunning_level, "dunning_stage": stage_text, "dunning_policy": policy.name,
            "trust_release_until": contract.trust_release_until,
            "trust": trust_release_availability(contract, policy=policy)}
