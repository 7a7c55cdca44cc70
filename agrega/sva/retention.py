"""Cancelled contracts leave no platform account behind.

A cancelled contract (status D) blocks its SVA users at once (the rules table:
``selectors.derive_desired``). After the retention period —
``settings.SVA_CANCELLED_RETENTION_DAYS`` (``AGREGA_SVA_RETENTION_DAYS``, 30 days) counted
from the cancellation (``Contract.ended_at``) — the periodic job ``sva.remove_cancelled``
removes them, as an operator's "Excluir" does: here (``deleted_at``) and, through the
worker, on the platform. The personal data the platform held goes with the account (LGPD:
kept no longer than needed; docs/architecture.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from agrega.contracts.choices import ContractStatus

from .models import SvaUser

CHUNK = 500


def retention() -> timedelta:
    return timedelta(days=max(0, int(settings.SVA_CANCELLED_RETENTION_DAYS)))


def removal_at(*, contract_status: str, ended_at: datetime | None, deleted: bool) -> datetime | None:
    """When the job removes a user of a contract in this state, or None (not scheduled)."""
    if deleted or contract_status != ContractStatus.CANCELLED or ended_at is None:
        return None
    return ended_at + retention()


def due_for_removal(now: datetime | None = None) -> QuerySet[SvaUser]:
    """Live users of contracts cancelled more than the retention period ago."""
    cutoff = (now or timezone.now()) - retention()
    return SvaUser.objects.filter(deleted_at__isnull=True, contract__status=ContractStatus.CANCELLED,
                                  contract__ended_at__lte=cutoff)


def remove_cancelled(now: datetime | None = None) -> int:
    """Remove the users due (each in its own transaction, as ``sva_user_delete``)."""
    from .services import sva_user_delete

    removed = 0
    while True:
        users = list(due_for_removal(now).order_by("pk")[:CHUNK])
        if not users:
            return removed
        for user in users:
            sva_user_delete(sva_user=user, reason="retention")
            removed += 1


def remove_cancelled_job() -> dict:
    """The periodic job ``sva.remove_cancelled`` (settings.PERIODIC_JOBS, hourly)."""
    return {"removed": remove_cancelled(), "retention_days": retention().days}
