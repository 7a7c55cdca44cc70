"""Reads of the dunning rules: whether a trust release is possible now, and why not.
``services.trust_release`` asks the same function, so the page and the action agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from agrega.contracts.choices import AccessStatus, ContractStatus
from agrega.contracts.models import Contract

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
    from .models import TrustRelease
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
