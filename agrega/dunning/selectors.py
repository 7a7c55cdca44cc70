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


# ---------------------------------------------------------------- debt notices to send


@dataclass(frozen=True)
class DebtNoticeFacts:
    """What the e-mail of one DunningNotice says (read by agrega/notices, which sends it)."""
    id: int
    contract_id: int
    level: int
    oldest_due: object  # date
    customer_name: str
    customer_email: str
    overdue_amount: object  # Decimal: the open títulos due by today
    action: str  # the DunningAction of the contract's stage (it may be past the notice's)
    next_action: str  # the next stage's DunningAction, "" when none
    next_date: object  # date of the next stage, or None


def debt_notices_after(last_id: int, *, limit: int, today, created_before=None) -> list[DebtNoticeFacts]:
    """The notices with an id above ``last_id``, by id (the primary key: DunningNotice has
    no other index, and the notices app keeps the highest id it turned into e-mails) —
    up to the first one created at or after ``created_before``: the sweep writes notices
    from parallel transactions, so a lower id may still be uncommitted when a higher one
    is seen; a reader that waits until the sweep's transactions have long ended never
    passes one by."""
    from decimal import Decimal

    from agrega.billing.models import Invoice, InvoiceStatus

    from .models import DunningNotice

    notices = list(DunningNotice.objects.filter(pk__gt=last_id).order_by("pk")
                   .select_related("contract__customer")[:limit])
    if created_before is not None:
        fresh = next((i for i, n in enumerate(notices) if n.created_at >= created_before), None)
        if fresh is not None:
            notices = notices[:fresh]
    if not notices:
        return []
    contract_ids = {n.contract_id for n in notices}
    owed: dict[int, Decimal] = {}
    for contract_id, amount, paid in (Invoice.objects.filter(contract_id__in=contract_ids, status=InvoiceStatus.OPEN,
                                                             due_date__lte=today)
                                      .values_list("contract_id", "amount", "paid_amount")):
        owed[contract_id] = owed.get(contract_id, Decimal(0)) + max(amount - paid, Decimal(0))
    default = DunningPolicy.objects.filter(is_default=True).values_list("pk", flat=True).first()
    policy_ids = {n.contract.dunning_policy_id or default for n in notices}
    stages = {(s.policy_id, s.level): s for s in DunningStage.objects.filter(policy_id__in=policy_ids)}
    out = []
    for n in notices:
        policy_id = n.contract.dunning_policy_id or default
        # the contract's stage now (a sweep may move it past the notice's own stage at once)
        level = max(n.contract.dunning_level, n.level)
        stage, following = stages.get((policy_id, level)), stages.get((policy_id, level + 1))
        out.append(DebtNoticeFacts(
            id=n.pk, contract_id=n.contract_id, level=n.level, oldest_due=n.oldest_due,
            customer_name=n.contract.customer.name, customer_email=n.contract.customer.email,
            overdue_amount=owed.get(n.contract_id, Decimal(0)), action=stage.action if stage else "",
            next_action=following.action if following else "",
            next_date=n.oldest_due + timedelta(days=following.days_after_due) if following else None,
        ))
    return out


def debt_notice_still_owed(notice_id: int) -> bool:
    """Whether the contract of the notice is still at its stage or beyond (a payment
    release sets the stage back to 0): a customer who paid is not told they owe."""
    from .models import DunningNotice

    notice = DunningNotice.objects.filter(pk=notice_id).select_related("contract").first()
    return notice is not None and notice.contract.dunning_level >= notice.level
