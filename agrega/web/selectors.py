"""Reads for the dashboard (Início) and for pages that show an integration's health.

Counts are one aggregate query using the same filters as ``sva.selectors.sync_status``
(``sync_status_q``), so the dashboard and the SVA user pages never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse

from agrega.integrations.models import SvaIntegration
from agrega.integrations.selectors import integration_list, platform_labels, with_circuit_state
from agrega.sva.choices import SvaState, SyncStatus
from agrega.sva.models import SvaUser
from agrega.sva.selectors import registration_problems_to_fix, sva_user_queryset, sync_status, sync_status_q


def sva_user_counts() -> dict[str, int]:
    """SVA users (removed ones left out) by what an operator needs to know:

    * ``active`` / ``blocked``: in step with the platform, which holds them active / blocked;
    * ``pending``: a change is waiting for the worker (first try or a retry after an error);
    * ``error``: the last attempt failed and no retry is scheduled;
    * ``registration``: held back by the registration check (cadastro incompleto).
    """
    synced = sync_status_q(SyncStatus.SYNCED)
    return SvaUser.objects.aggregate(
        active=Count("pk", filter=synced & Q(confirmed_state=SvaState.ACTIVE)),
        blocked=Count("pk", filter=synced & Q(confirmed_state=SvaState.BLOCKED)),
        pending=Count("pk", filter=sync_status_q(SyncStatus.PENDING) | sync_status_q(SyncStatus.RETRYING)),
        error=Count("pk", filter=sync_status_q(SyncStatus.ERROR)),
        registration=Count("pk", filter=sync_status_q(SyncStatus.REGISTRATION)),
    )


def integration_health() -> list[SvaIntegration]:
    """Every integration with its breaker state, failures, last error and last success."""
    labels = platform_labels()
    rows = list(with_circuit_state(integration_list()))
    for row in rows:
        row.platform_label = labels.get(row.platform, row.platform.upper())
    return rows


@dataclass(frozen=True)
class SvaProblem:
    sva_user_id: int
    contract_id: int
    customer_name: str
    product_name: str
    integration_name: str
    status: str
    status_label: str
    messages: list[str]
    seen_at: datetime | None
    url: str
    fix_url: str = ""  # the customer's form on the offending field, back to the SVA tab after saving


def contract_sva_url(contract_id: int) -> str:
    """The contract page's SVA tab (plain path while the contract pages are not mounted)."""
    try:
        base = reverse("contracts:detail", kwargs={"pk": contract_id})
    except NoReverseMatch:
        base = f"/contratos/{contract_id}/"
    return base + "#sva"


def customer_fix_url(customer_id: int, field: str, back: str) -> str:
    """The customer's edit form opened on ``field``, returning to ``back`` once saved."""
    return reverse("customers:edit", kwargs={"pk": customer_id}) + "?" + urlencode({"focus": field, "next": back})


_PROBLEM_STATUSES = (SyncStatus.REGISTRATION, SyncStatus.ERROR, SyncStatus.RETRYING)


def latest_sva_problems(*, limit: int = 15) -> list[SvaProblem]:
    """SVA users held back by the registration check or by platform errors, newest first
    (by the last attempt, or the creation when nothing was tried yet)."""
    match = Q()
    for status in _PROBLEM_STATUSES:
        match |= sync_status_q(status)
    rows = (
        sva_user_queryset()
        .filter(match)
        .annotate(seen_at=Coalesce("last_attempt_at", "created_at"))
        .order_by("-seen_at", "-id")[:limit]
    )
    problems = []
    for user in rows:
        status = sync_status(user)
        fix_url = ""
        if status == SyncStatus.REGISTRATION:
            messages = [p.get("message", "") for p in user.registration_problems]
            field = next((p["customer_field"] for p in registration_problems_to_fix(user) if p["customer_field"]), "")
            if field:
                fix_url = customer_fix_url(user.contract.customer_id, field, contract_sva_url(user.contract_id))
        else:
            messages = [user.last_error_message or user.last_error_code]
        problems.append(SvaProblem(
            sva_user_id=user.pk,
            contract_id=user.contract_id,
            customer_name=user.contract.customer.name,
            product_name=user.contract_product.product.name,
            integration_name=user.integration.name,
            status=status,
            status_label=SyncStatus(status).label,
            messages=messages,
            seen_at=user.seen_at,
            url=contract_sva_url(user.contract_id),
            fix_url=fix_url,
        ))
    return problems
